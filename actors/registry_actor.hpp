// The registry: the gateway's own actor. Names requests (no two live ones share a
// rid), knows every live request by rid (for cancel and inspection), keeps the last 64
// finished requests' snapshots and the counters behind /metrics.
#pragma once

#include "actors/interfaces.hpp"

namespace kvactor {

// Keeps the snapshots of the last `history_limit` finished requests.
registry_actor spawn_registry(caf::actor_system& sys, int32_t history_limit = 64);

}  // namespace kvactor
