// The request actor: one per request. Owns its tokens (prompt + generated), its block
// table, its sampling state and its output stream. Lifecycle:
//
//   enqueue at scheduler ─► (admit) match at trie ─► alloc at pool ─► offer ─► step ...
//     each step: publish newly full pages (pool → trie), allocate a page when the
//     next position needs one, offer again;
//   finish: publish full pages, drop (pool frees the tail and duplicates, trie unlocks),
//     emit `finished`, report, exit.
//   preempt: drop everything, keep tokens and sample index, wait for the next admit.
//   cancel / fail: drop everything, emit, report, exit.
//
// Every reply handler carries the admission epoch it was sent in; a reply from an
// earlier epoch (the request was preempted meanwhile) is ignored, because the drop
// that ended that epoch already returned what the reply refers to.
#pragma once

#include "actors/engine.hpp"

namespace kvactor {

// One request actor; it enqueues itself at the scheduler and reports every event on
// `cb`. The caller registers it with the registry when cancel-by-rid is wanted.
request_actor spawn_request(caf::actor_system& sys, const engine_actors& peers, const engine_settings& settings,
                            uint64_t seq_id, generation_request req, generation_callback cb);

}  // namespace kvactor
