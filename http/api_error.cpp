#include "http/api_error.hpp"

#include <nlohmann/json.hpp>

namespace kvactor::http {

std::string error_body(const api_error& e) {
  nlohmann::json j = {{"error", {{"code", e.code}, {"message", e.message}}}};
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

api_error engine_error(const std::string& code, const std::string& message) {
  // Overload and draining are the client's cue to come back later, not a fault.
  if (code == "QUEUE_FULL") return {503, code, message, 1, {}};
  if (code == "SHUTTING_DOWN") return {503, code, message, 5, {}};
  if (code == "NO_NODE") return {503, code, message, 1, {}};  // kvactor route: no node reachable right now
  if (code == "BAD_REQUEST") return {400, code, message, 0, {}};
  if (code == "NOT_FOUND") return {404, code, message, 0, {}};
  return {500, code.empty() ? "ENGINE_ERROR" : code, message, 0, {}};
}

}  // namespace kvactor::http
