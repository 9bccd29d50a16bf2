// Building the JSON snapshots of http/API.md by asking every actor for its part.
// what = "actors" | "cache" | "cache?depth=D&max_nodes=N[&check=full]" | "requests" |
//        "request:<rid>" | "metrics". Unknown: {"error": {"code": "NOT_FOUND", ...}}.
// "cache" checks the counters that must agree (O(1)) and compares the pool's page
// map with the trie's; "check=full" also runs the O(pages) invariant walks of
// page_ownership and prefix_trie (tests, or an operator on demand).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "actors/engine.hpp"

namespace kvactor {

// Spawns a short-lived actor that gathers the snapshot, calls cb once, and exits.
void spawn_inspection(caf::actor_system& sys, const engine_actors& actors, const std::string& what,
                      std::function<void(std::string json)> cb);

// The rows of /v1/inspect/requests: the live requests' snapshots (youngest first), then the
// registry's finished ones (newest first). A request that ended after its live snapshot was
// taken and before the history was read is in both: it is listed once, finished. A client's
// rid may name a live request and a finished one at once; the actor id tells them apart.
std::vector<request_snapshot> request_rows(std::vector<request_report> live, std::vector<request_snapshot> history);

}  // namespace kvactor
