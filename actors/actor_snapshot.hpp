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

}  // namespace kvactor
