// The registry: the gateway's own actor. Knows every live request by rid (for cancel
// and inspection), keeps the last 64 finished requests' snapshots and the counters
// behind /metrics.
#pragma once

#include "actors/interfaces.hpp"

namespace kvactor {

registry_actor spawn_registry(caf::actor_system& sys);

}  // namespace kvactor
