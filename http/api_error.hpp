// The one error shape every endpoint answers with: {"error":{"code":...,"message":...}}.
// Parsing, routing and the engine all report failures as an api_error; the session
// turns it into an HTTP response, so no error path invents its own format.
#pragma once

#include <string>

namespace kvactor::http {

struct api_error {
  int status = 400;          // HTTP status code
  std::string code;          // stable machine-readable code, e.g. INVALID_JSON, QUEUE_FULL
  std::string message;       // for humans; names the offending field
  int retry_after_s = 0;     // > 0: sent as a Retry-After header (overload)
  std::string allow;         // 405: the methods the path accepts (Allow header)
};

// {"error":{"code":...,"message":...}} (invalid UTF-8 in the message is replaced).
std::string error_body(const api_error& e);

// Maps an engine error code (generation_event::error_code) to the HTTP answer.
api_error engine_error(const std::string& code, const std::string& message);

}  // namespace kvactor::http
