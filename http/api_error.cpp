#include "http/api_error.hpp"

#include <cctype>

#include <nlohmann/json.hpp>

namespace kvactor::http {

const char* openai_error_type(int status) {
  switch (status) {
    case 401: return "authentication_error";
    case 403: return "permission_error";
    case 404: return "not_found_error";
    case 409: return "conflict_error";
    case 422: return "unprocessable_entity_error";
    case 429: return "rate_limit_error";
    default: return status >= 500 ? "server_error" : "invalid_request_error";
  }
}

std::string error_body(const api_error& e) {
  nlohmann::json j = {{"error",
                       {{"message", e.message},
                        {"type", e.type.empty() ? openai_error_type(e.status) : e.type},
                        {"param", e.param.empty() ? nlohmann::json(nullptr) : nlohmann::json(e.param)},
                        {"code", e.code}}}};
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// Every enumerator is decided here (no default: a new one fails to compile until it is).
// 503 + Retry-After: the engine is busy or draining, the same request may succeed later
// (the OpenAI SDKs retry it). 400: the request itself can never succeed on this server.
// 500: an engine fault, or an internal error that should never reach a client.
engine_error_row engine_error_mapping(engine_errc code) {
  switch (code) {
    case engine_errc::queue_full: return {503, "QUEUE_FULL", 1};
    case engine_errc::no_capacity: return {503, "NO_CAPACITY", 1};  // pages short right now
    case engine_errc::shutting_down: return {503, "SHUTTING_DOWN", 5};
    case engine_errc::no_node:
      return {503, "NO_NODE", 1};  // kvactor route: no node reachable right now
    // The prompt plus max_tokens needs more KV pages than the whole cache holds: no retry helps.
    case engine_errc::context_too_large: return {400, "CONTEXT_TOO_LARGE_FOR_CACHE", 0};
    case engine_errc::bad_request: return {400, "BAD_REQUEST", 0};
    // The node serving it failed mid-answer: an upstream failure, as a gateway reports one.
    case engine_errc::node_lost: return {502, "NODE_LOST", 0};
    case engine_errc::device_error: return {500, "DEVICE_ERROR", 0};
    case engine_errc::aborted: return {500, "ABORTED", 0};
    case engine_errc::internal: return {500, "INTERNAL", 0};
    // Internal to the engine (an abandoned allocation, page bookkeeping): a client seeing
    // one has met a bug, reported as such.
    case engine_errc::cancelled: return {500, "CANCELLED", 0};
    case engine_errc::not_owner: return {500, "NOT_OWNER", 0};
    case engine_errc::publish_rejected: return {500, "PUBLISH_REJECTED", 0};
    case engine_errc::ok: return {500, "INTERNAL", 0};  // an error event without a code
  }
  return {500, "INTERNAL", 0};
}

api_error engine_error(engine_errc code, const std::string& message) {
  const engine_error_row row = engine_error_mapping(code);
  api_error e;
  e.status = row.status;
  e.code = row.code;
  e.message = message;
  e.retry_after_s = row.retry_after_s;
  return e;
}

std::string field_of(const std::string& message) {
  const auto colon = message.find(": ");
  if (colon == std::string::npos || colon == 0) return {};
  for (std::size_t i = 0; i < colon; ++i) {
    const unsigned char c = static_cast<unsigned char>(message[i]);
    if (!std::isalnum(c) && c != '_' && c != '.' && c != '[' && c != ']') return {};
  }
  return message.substr(0, colon);
}

}  // namespace kvactor::http
