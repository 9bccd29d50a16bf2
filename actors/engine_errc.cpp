#include "actors/interfaces.hpp"

namespace kvactor {

const char* error_code_name(engine_errc code) {
  switch (code) {
    case engine_errc::ok: return "OK";
    case engine_errc::queue_full: return "QUEUE_FULL";
    case engine_errc::no_capacity: return "NO_CAPACITY";
    case engine_errc::context_too_large: return "CONTEXT_TOO_LARGE_FOR_CACHE";
    case engine_errc::device_error: return "DEVICE_ERROR";
    case engine_errc::cancelled: return "CANCELLED";
    case engine_errc::shutting_down: return "SHUTTING_DOWN";
    case engine_errc::bad_request: return "BAD_REQUEST";
    case engine_errc::not_owner: return "NOT_OWNER";
    case engine_errc::publish_rejected: return "PUBLISH_REJECTED";
  }
  return "UNKNOWN";
}

std::string to_string(engine_errc code) { return error_code_name(code); }

}  // namespace kvactor
