// The one error shape every endpoint answers with, OpenAI's:
//   {"error":{"message":...,"type":...,"param":...,"code":...}}
// Parsing, routing and the engine all report failures as an api_error; the session
// turns it into an HTTP response, so no error path invents its own format. Engine
// failures (engine_errc) get their status, type, code and Retry-After from one table.
#pragma once

#include <string>
#include <utility>

#include "actors/engine_errc.hpp"

namespace kvactor::http {

struct api_error {
  api_error() = default;
  api_error(int status_, std::string code_, std::string message_, int retry_after_s_ = 0, std::string allow_ = {},
            std::string param_ = {})
      : status(status_),
        code(std::move(code_)),
        message(std::move(message_)),
        retry_after_s(retry_after_s_),
        allow(std::move(allow_)),
        param(std::move(param_)) {}

  int status = 400;       // HTTP status code
  std::string code;       // stable machine-readable code, e.g. INVALID_JSON, QUEUE_FULL
  std::string message;    // for humans; names the offending field
  int retry_after_s = 0;  // > 0: sent as a Retry-After header (overload)
  std::string allow;      // 405: the methods the path accepts (Allow header)
  std::string param;      // the request field at fault, e.g. "sampling_params.top_p"; "" = none (null)
  std::string type;       // OpenAI error type; "" = openai_error_type(status)
};

// OpenAI's error type for a status: invalid_request_error (400, 405, 413, ...),
// authentication_error (401), permission_error (403), not_found_error (404),
// rate_limit_error (429), server_error (5xx).
const char* openai_error_type(int status);

// The body above (invalid UTF-8 in the message is replaced; param "" is null).
std::string error_body(const api_error& e);

// One row of the engine error table.
struct engine_error_row {
  int status;
  const char* code;   // the API code (the engine's wire name, or what OpenAI clients match)
  int retry_after_s;  // > 0: Retry-After
};
engine_error_row engine_error_mapping(engine_errc code);

// The HTTP answer for an engine failure (generation_event::error + message).
api_error engine_error(engine_errc code, const std::string& message);

// The field a parser's message names by its convention "field: what is wrong"
// ("messages[0].role: unknown role" -> "messages[0].role"); "" when it names none.
std::string field_of(const std::string& message);

}  // namespace kvactor::http
