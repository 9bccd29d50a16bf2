#include "kvcache/kv_errc.hpp"

namespace kvactor {

const char* to_string(kv_errc code) noexcept {
  switch (code) {
    case kv_errc::ok: return "ok";
    case kv_errc::no_capacity: return "no_capacity";
    case kv_errc::double_release: return "double_release";
    case kv_errc::unknown_page: return "unknown_page";
    case kv_errc::repeated_page: return "repeated_page";
    case kv_errc::unknown_handle: return "unknown_handle";
    case kv_errc::invalid_argument: return "invalid_argument";
    case kv_errc::page_already_cached: return "page_already_cached";
    case kv_errc::handle_mismatch: return "handle_mismatch";
    case kv_errc::page_in_use: return "page_in_use";
    case kv_errc::not_owner: return "not_owner";
    case kv_errc::not_cached: return "not_cached";
  }
  return "unknown_error";
}

}  // namespace kvactor
