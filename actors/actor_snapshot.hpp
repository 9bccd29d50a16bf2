// The common head of every actor's inspect snapshot (http/API.md, "actors").
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>

namespace kvactor {

inline nlohmann::json actor_snapshot(const std::string& kind, const std::string& id, const std::string& state,
                                     uint64_t messages_handled, std::size_t mailbox_depth) {
  return nlohmann::json{{"kind", kind},
                        {"id", id},
                        {"state", state},
                        {"messages_handled", messages_handled},
                        {"mailbox_depth", mailbox_depth},
                        {"details", nlohmann::json::object()}};
}

// Snapshots carry caller data (request ids) that need not be UTF-8; a strict dump
// would throw inside the actor and lose the request's end or the inspection reply.
inline std::string snapshot_text(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace kvactor
