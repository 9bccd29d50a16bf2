// The engine's one error vocabulary. Every failure that ends a request travels as an
// engine_errc plus a message for humans: inside CAF as caf::error (category
// "kvactor"), to front ends in generation_event::error, across cluster nodes by its
// wire name. Only the HTTP edge turns it into a status, an OpenAI error type and a
// Retry-After (http/api_error.cpp, one table). No CAF here: HTTP code includes it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace kvactor {

enum class engine_errc : uint8_t {
  ok = 0,
  queue_full,         // scheduler queue over its limit (the client may retry)
  no_capacity,        // pool: not enough pages even after eviction (the request starves, then retries)
  context_too_large,  // one request alone needs more KV pages than the cache has
  device_error,       // the device actor failed mid-step
  cancelled,          // an allocation was abandoned because its owner dropped
  shutting_down,      // the engine (or a router) stopped accepting
  bad_request,        // the engine's own validation refused the prompt or parameters
  not_owner,          // publish of pages the sender does not own
  publish_rejected,   // the trie refused a publish (kv_errc in the context)
  internal,           // a peer actor failed or answered an unexpected error
  aborted,            // the request's actor was killed before it ended
  no_node,            // cluster router: no node reachable right now
  node_lost,          // cluster router: the node serving the request was lost after it streamed tokens
};

// Every enumerator, for tables and tests that must cover them all.
inline constexpr engine_errc all_engine_errcs[] = {
    engine_errc::ok,
    engine_errc::queue_full,
    engine_errc::no_capacity,
    engine_errc::context_too_large,
    engine_errc::device_error,
    engine_errc::cancelled,
    engine_errc::shutting_down,
    engine_errc::bad_request,
    engine_errc::not_owner,
    engine_errc::publish_rejected,
    engine_errc::internal,
    engine_errc::aborted,
    engine_errc::no_node,
    engine_errc::node_lost,
};

// Stable upper-case wire name: QUEUE_FULL, DEVICE_ERROR, ... (cluster messages, logs).
inline const char* error_code_name(engine_errc code) {
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
    case engine_errc::internal: return "INTERNAL";
    case engine_errc::aborted: return "ABORTED";
    case engine_errc::no_node: return "NO_NODE";
    case engine_errc::node_lost: return "NODE_LOST";
  }
  return "UNKNOWN";
}

inline std::string to_string(engine_errc code) { return error_code_name(code); }

// The inverse of error_code_name; nullopt for a name no enumerator has.
inline std::optional<engine_errc> engine_errc_from_name(std::string_view name) {
  for (auto code : all_engine_errcs)
    if (name == error_code_name(code)) return code;
  return std::nullopt;
}

}  // namespace kvactor
