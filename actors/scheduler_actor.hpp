// The scheduler actor: bounded waiting queue, running set, one batch per device step
// (continuous batching, chunked prefill, a token budget), cache-aware admission order
// (longest cached prefix first with a bound on waiting), shared-prefix deferral,
// preemption when pages run out, and supervision of the device actor.
//
// A step starts when the device is idle and every running request that took part in
// the previous step has answered (offered again or left); requests still matching or
// allocating join the next step. Starving requests are resolved while the device is
// idle, so a victim is never in flight: the victim is the most recently admitted
// request; it returns everything and waits at the front of the queue.
#pragma once

#include <memory>

#include "actors/engine.hpp"

namespace kvactor {

scheduler_actor spawn_scheduler(caf::actor_system& sys, const engine_settings& settings, trie_actor trie,
                                std::shared_ptr<backend> be);

}  // namespace kvactor
