// The device actor: runs one batched step at a time on a backend. Spawned detached
// (own thread) in production so a long step never blocks CAF's workers.
//
// The backend (weights + KV memory) is shared with the scheduler, which restarts a
// failed device actor over the same backend: cached pages stay valid because a step
// only ever writes private pages, and those belonged to the requests that failed
// with the step and are released.
#pragma once

#include <memory>
#include <string>

#include "actors/interfaces.hpp"
#include "device/backend.hpp"

namespace kvactor {

device_actor spawn_device(caf::actor_system& sys, std::shared_ptr<backend> be, std::string id, bool detached);

}  // namespace kvactor
