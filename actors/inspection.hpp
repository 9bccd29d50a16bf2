// Building the JSON snapshots of http/API.md by asking every actor for its part.
// what = "actors" | "cache" | "cache?depth=D&max_nodes=N" | "requests" |
//        "request:<rid>" | "metrics". Unknown: {"error": {"code": "NOT_FOUND", ...}}.
#pragma once

#include <functional>
#include <string>

#include "actors/engine.hpp"

namespace kvactor {

// Spawns a short-lived actor that gathers the snapshot, calls cb once, and exits.
void spawn_inspection(caf::actor_system& sys, const engine_actors& actors, const std::string& what,
                      std::function<void(std::string json)> cb);

}  // namespace kvactor
