// The whole actor protocol in one file: every atom, every message struct, every
// typed interface (CAF 0.17.6). Messages carry values only.
//
//   request ──enqueue──► scheduler ──admit──► request ──match──► trie
//   request ──alloc / publish / drop──► page pool ──publish / drop / evict──► trie
//   request ──ready(offer)──► scheduler ──step(batch)──► device ──results──► scheduler
//   scheduler ──step(n, token) / preempt / fail──► request
//
// Ownership rules the protocol enforces (tests/actors check them):
//  - the page pool is the authority on every page: free, private(owner), cached;
//  - publish and drop go request → pool → trie, so the pool→trie FIFO orders a
//    request's publish before its drop (or its death), and no page ends up in two
//    places or nowhere;
//  - pool and trie both monitor the requests they know: a dead request's private
//    pages are released and its locks undone.
#pragma once

#include <caf/all.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "actors/engine_errc.hpp"
#include "device/backend.hpp"
#include "device/sampling.hpp"
#include "kvcache/kv_errc.hpp"

namespace kvactor {

// request → pool → trie: extend the request's cached prefix by the full pages of
// `tokens` (pages[i] holds tokens [i*ps, (i+1)*ps) of the new part). The first
// `first_page` pages are already cached under `handle` (matched or published
// before; 0 = none yet): only what is new travels. The trie keeps the tokens of
// each handle's path (its per-request cursor), and refuses a publish whose
// first_page is not where that path ends.
struct publish_request {
  uint64_t ns = 0;
  std::vector<int32_t> tokens;
  std::vector<page_id> pages;
  uint64_t handle = 0;
  int32_t first_page = 0;
};

// Canonical page per newly published position (first_page + i), the duplicates
// (already freed by the pool: the request must stop using them) and the handle
// now locking the path.
struct publish_reply {
  std::vector<page_id> pages;
  std::vector<page_id> duplicates;
  uint64_t handle = 0;
  int32_t inserted = 0;
};

struct match_reply {
  std::vector<page_id> pages;
  int32_t cached_tokens = 0;
  uint64_t handle = 0;
};

struct pool_counts {
  int32_t total = 0;
  int32_t free = 0;
  int32_t private_pages = 0;
  int32_t cached = 0;
  int32_t publishing = 0;  // private pages on their way into the trie
  int32_t owners = 0;      // requests holding private pages
  int32_t waiting_allocs = 0;
};

struct trie_counts {
  int32_t cached = 0;
  int32_t locked = 0;
  int32_t handles = 0;
  int32_t owners = 0;
  uint64_t hit_pages = 0;
  uint64_t evicted_pages = 0;
  int32_t publish_cursors = 0;           // handles whose path tokens the trie keeps (one per live handle)
  int32_t peek_cursors = 0;              // waiting prompts the trie keeps for the scheduler's hints
  uint64_t publish_tokens_received = 0;  // tokens that arrived in publish messages
  uint64_t peek_tokens_received = 0;     // tokens that arrived in peek messages
};

// scheduler → trie, for the longest-cached-prefix hint of a waiting request: the
// prompt's tokens from `from` on (the trie keeps the first `from` from earlier
// peeks: its per-request cursor; 0 starts over). Dropped with `forget`.
struct peek_entry {
  uint64_t seq_id = 0;
  int32_t from = 0;
  std::vector<int32_t> tokens;
};

// ---- Cache inspection (pool and trie answer `cache` with these; JSON is made once,
// at the inspection edge: actors/inspection.cpp, http/API.md "cache") ----

// One node of the trie's bounded snapshot; parents precede children. A namespace
// root has page -1.
struct cache_tree_node {
  int32_t parent = -1;  // index into the node list, -1 for a namespace root
  page_id page = -1;
  int32_t tokens = 0;
  std::vector<int32_t> first_tokens;
  int32_t lock_count = 0;
  uint64_t hit_count = 0;
  double age_ms = 0;
  int32_t pages_below = 0;
  uint64_t ns = 0;  // namespace of the tree (tenants: http/tenants.hpp)
};

// trie → pool: per-page cached states, counters and the bounded tree.
struct trie_view {
  int32_t page_size = 0;
  std::vector<uint8_t> states;  // prefix_trie::cached_states(): 0 not cached, 1 locked, 2 evictable
  int32_t cached_pages = 0;
  int32_t locked_pages = 0;
  int32_t max_depth = 0;
  uint64_t hits = 0;
  uint64_t evictions = 0;
  std::string policy;
  int32_t live_handles = 0;
  std::string problem;     // "" unless a check failed (counters always; the full walk when asked)
  bool with_tree = false;  // a tree was asked for (depth or max_nodes > 0)
  bool truncated = false;
  std::vector<cache_tree_node> nodes;
};

// pool → inspection: the whole `cache` view.
struct cache_view {
  int32_t total = 0;
  int32_t free = 0;
  int32_t private_pages = 0;
  int32_t cached_locked = 0;
  int32_t cached_evictable = 0;
  std::string page_states;  // f free, p private, L locked, e evictable, ! pool and trie disagree
  bool full_check = false;  // the O(pages) invariant walk ran in pool and trie
  bool invariants_ok = false;
  std::string problem;  // first problem found, "" when invariants_ok
  trie_view trie;
};

// ---- Actor inspection (http/API.md "actors", "requests", "metrics"). Actors answer
// `inspect`, `history`, `metrics` and `check` with these values; the JSON of the API
// is written once, from them, by actors/inspection.cpp for the gateway's inspect(). ----

// The common head of every actor's snapshot.
struct actor_head {
  std::string kind;
  std::string id;
  std::string state;
  uint64_t messages_handled = 0;
  uint64_t mailbox_depth = 0;
};

// One request, live or finished ("details" of a request actor, an entry of `history`).
struct request_snapshot {
  std::string rid;
  std::string kind;
  std::string request_id;  // the client's x-request-id (or the one generated for it)
  uint32_t tenant = 0;     // issue 20: whose request (inspection shows a tenant only its own)
  std::string phase;
  int32_t prompt_tokens = 0;
  int32_t generated_tokens = 0;
  int32_t max_tokens = 0;
  int32_t cached_tokens = 0;
  int32_t pages_held = 0;
  int32_t locked_pages = 0;
  double ttft_ms = -1;  // -1 until the first token (JSON null)
  double age_ms = 0;
  int32_t preemptions = 0;
  std::string error;  // set only for a request actor that died without reporting its end
  // The request actor's id (unique in the actor system, unlike a client's rid): one
  // request's live snapshot and its history entry name the same actor.
  uint64_t actor_id = 0;
};

struct request_report {
  actor_head head;
  request_snapshot details;
};

struct pool_report {
  actor_head head;
  pool_counts counts;
  uint64_t evicted_pages = 0;
};

struct trie_report {
  actor_head head;
  trie_counts counts;
  std::string policy;
};

struct device_report {
  actor_head head;
  std::string backend;
  uint64_t steps = 0;
  uint64_t tokens = 0;
  double last_step_ms = 0;
  uint64_t restarts = 0;
};

struct batch_entry {
  std::string rid;
  int32_t tokens = 0;
  bool decoding = false;  // JSON phase: decode | prefill
};

struct running_entry {
  std::string rid;
  std::string status;
};

// The scheduler's snapshot carries the device's (the scheduler owns the step statistics).
struct scheduler_report {
  actor_head head;
  int32_t queued = 0;
  int32_t running = 0;
  std::vector<batch_entry> batch;
  std::vector<running_entry> running_requests;
  uint64_t steps = 0;
  uint64_t preemptions = 0;
  bool admission_blocked = false;
  int32_t starving = 0;
  device_report device;
};

struct registry_report {
  actor_head head;
  int32_t live_requests = 0;
  int32_t finished_kept = 0;
};

// The registry's counters over every request that ended.
struct registry_metrics {
  uint64_t finished = 0;
  uint64_t cancelled = 0;
  uint64_t failed = 0;
  uint64_t rejected = 0;
  uint64_t prompt_tokens = 0;
  uint64_t generated_tokens = 0;
  uint64_t cache_hit_tokens = 0;
  int32_t live = 0;
};

// Answer to `check` (the full O(pages) invariant walks of pool and trie).
struct invariant_check {
  bool ok = true;
  std::string problem;  // the first problem found, "" when ok
};

struct enqueue_request {
  uint64_t seq_id = 0;
  std::string rid;
  std::vector<int32_t> tokens;
  uint64_t ns = 0;      // trie namespace (generation_request::ns)
  uint32_t tenant = 0;  // fair share across tenants
  int32_t tenant_weight = 1;
  // Generated tokens the request takes at most (generation_request::max_tokens): the scheduler
  // never continues a sequence past its last token (scheduling/continuation.hpp).
  int32_t max_tokens = 0;
};

struct scheduler_counts {
  int32_t queued = 0;
  int32_t running = 0;
  uint64_t steps = 0;
  uint64_t preemptions = 0;
  uint64_t device_restarts = 0;
  uint64_t batched_tokens = 0;
};

// What the scheduler answers a starving request (one that could not get a page).
enum class starve_decision : int32_t { retry = 0, requeued = 1, fail = 2 };

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, sampling_params& x) {
  return f(caf::meta::type_name("sampling_params"), x.temperature, x.top_k, x.top_p, x.seed, x.min_p,
           x.presence_penalty, x.frequency_penalty, x.repetition_penalty, x.bias_ids, x.bias_values, x.logprobs);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, sequence_step& x) {
  return f(caf::meta::type_name("sequence_step"), x.seq_id, x.tokens, x.start_pos, x.block_table, x.sample, x.sampling,
           x.sample_index, x.return_logits, x.history, x.history_prompt_len, x.allowed_tokens, x.score_next);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, scored_token& x) {
  return f(caf::meta::type_name("scored_token"), x.position, x.logprob, x.top_ids, x.top_logprobs);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, sequence_result& x) {
  return f(caf::meta::type_name("sequence_result"), x.seq_id, x.token, x.logits, x.logprob, x.top_ids, x.top_logprobs,
           x.scored);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, publish_request& x) {
  return f(caf::meta::type_name("publish_request"), x.ns, x.tokens, x.pages, x.handle, x.first_page);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, publish_reply& x) {
  return f(caf::meta::type_name("publish_reply"), x.pages, x.duplicates, x.handle, x.inserted);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, match_reply& x) {
  return f(caf::meta::type_name("match_reply"), x.pages, x.cached_tokens, x.handle);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, pool_counts& x) {
  return f(caf::meta::type_name("pool_counts"), x.total, x.free, x.private_pages, x.cached, x.publishing, x.owners,
           x.waiting_allocs);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, trie_counts& x) {
  return f(caf::meta::type_name("trie_counts"), x.cached, x.locked, x.handles, x.owners, x.hit_pages, x.evicted_pages,
           x.publish_cursors, x.peek_cursors, x.publish_tokens_received, x.peek_tokens_received);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, peek_entry& x) {
  return f(caf::meta::type_name("peek_entry"), x.seq_id, x.from, x.tokens);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, cache_tree_node& x) {
  return f(caf::meta::type_name("cache_tree_node"), x.parent, x.page, x.tokens, x.first_tokens, x.lock_count,
           x.hit_count, x.age_ms, x.pages_below, x.ns);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, trie_view& x) {
  return f(caf::meta::type_name("trie_view"), x.page_size, x.states, x.cached_pages, x.locked_pages, x.max_depth,
           x.hits, x.evictions, x.policy, x.live_handles, x.problem, x.with_tree, x.truncated, x.nodes);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, cache_view& x) {
  return f(caf::meta::type_name("cache_view"), x.total, x.free, x.private_pages, x.cached_locked, x.cached_evictable,
           x.page_states, x.full_check, x.invariants_ok, x.problem, x.trie);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, actor_head& x) {
  return f(caf::meta::type_name("actor_head"), x.kind, x.id, x.state, x.messages_handled, x.mailbox_depth);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, request_snapshot& x) {
  return f(caf::meta::type_name("request_snapshot"), x.rid, x.kind, x.request_id, x.tenant, x.phase, x.prompt_tokens,
           x.generated_tokens, x.max_tokens, x.cached_tokens, x.pages_held, x.locked_pages, x.ttft_ms, x.age_ms,
           x.preemptions, x.error, x.actor_id);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, request_report& x) {
  return f(caf::meta::type_name("request_report"), x.head, x.details);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, pool_report& x) {
  return f(caf::meta::type_name("pool_report"), x.head, x.counts, x.evicted_pages);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, trie_report& x) {
  return f(caf::meta::type_name("trie_report"), x.head, x.counts, x.policy);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, device_report& x) {
  return f(caf::meta::type_name("device_report"), x.head, x.backend, x.steps, x.tokens, x.last_step_ms, x.restarts);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, batch_entry& x) {
  return f(caf::meta::type_name("batch_entry"), x.rid, x.tokens, x.decoding);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, running_entry& x) {
  return f(caf::meta::type_name("running_entry"), x.rid, x.status);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, scheduler_report& x) {
  return f(caf::meta::type_name("scheduler_report"), x.head, x.queued, x.running, x.batch, x.running_requests, x.steps,
           x.preemptions, x.admission_blocked, x.starving, x.device);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, registry_report& x) {
  return f(caf::meta::type_name("registry_report"), x.head, x.live_requests, x.finished_kept);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, registry_metrics& x) {
  return f(caf::meta::type_name("registry_metrics"), x.finished, x.cancelled, x.failed, x.rejected, x.prompt_tokens,
           x.generated_tokens, x.cache_hit_tokens, x.live);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, invariant_check& x) {
  return f(caf::meta::type_name("invariant_check"), x.ok, x.problem);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, enqueue_request& x) {
  return f(caf::meta::type_name("enqueue_request"), x.seq_id, x.rid, x.tokens, x.ns, x.tenant, x.tenant_weight,
           x.max_tokens);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, scheduler_counts& x) {
  return f(caf::meta::type_name("scheduler_counts"), x.queued, x.running, x.steps, x.preemptions, x.device_restarts,
           x.batched_tokens);
}

}  // namespace kvactor

CAF_BEGIN_TYPE_ID_BLOCK(kvactor, caf::first_custom_type_id)
CAF_ADD_TYPE_ID(kvactor, (kvactor::sampling_params))
CAF_ADD_TYPE_ID(kvactor, (kvactor::scored_token))
CAF_ADD_TYPE_ID(kvactor, (kvactor::sequence_step))
CAF_ADD_TYPE_ID(kvactor, (kvactor::sequence_result))
CAF_ADD_TYPE_ID(kvactor, (std::vector<kvactor::sequence_step>))
CAF_ADD_TYPE_ID(kvactor, (std::vector<kvactor::sequence_result>))
CAF_ADD_TYPE_ID(kvactor, (std::vector<int32_t>))
CAF_ADD_TYPE_ID(kvactor, (std::vector<std::vector<int32_t>>))
CAF_ADD_TYPE_ID(kvactor, (std::vector<float>))
CAF_ADD_TYPE_ID(kvactor, (kvactor::publish_request))
CAF_ADD_TYPE_ID(kvactor, (kvactor::publish_reply))
CAF_ADD_TYPE_ID(kvactor, (kvactor::match_reply))
CAF_ADD_TYPE_ID(kvactor, (kvactor::pool_counts))
CAF_ADD_TYPE_ID(kvactor, (kvactor::trie_counts))
CAF_ADD_TYPE_ID(kvactor, (kvactor::enqueue_request))
CAF_ADD_TYPE_ID(kvactor, (kvactor::scheduler_counts))
CAF_ADD_TYPE_ID(kvactor, (kvactor::trie_view))
CAF_ADD_TYPE_ID(kvactor, (kvactor::cache_view))
CAF_ADD_TYPE_ID(kvactor, (kvactor::request_snapshot))
CAF_ADD_TYPE_ID(kvactor, (std::vector<kvactor::request_snapshot>))
CAF_ADD_TYPE_ID(kvactor, (kvactor::request_report))
CAF_ADD_TYPE_ID(kvactor, (kvactor::pool_report))
CAF_ADD_TYPE_ID(kvactor, (kvactor::trie_report))
CAF_ADD_TYPE_ID(kvactor, (kvactor::device_report))
CAF_ADD_TYPE_ID(kvactor, (kvactor::scheduler_report))
CAF_ADD_TYPE_ID(kvactor, (kvactor::registry_report))
CAF_ADD_TYPE_ID(kvactor, (kvactor::registry_metrics))
CAF_ADD_TYPE_ID(kvactor, (kvactor::invariant_check))
CAF_ADD_TYPE_ID(kvactor, (kvactor::peek_entry))
CAF_ADD_TYPE_ID(kvactor, (std::vector<kvactor::peek_entry>))

CAF_ADD_ATOM(kvactor, kvactor, alloc_atom, "alloc")
CAF_ADD_ATOM(kvactor, kvactor, drop_atom, "drop")
CAF_ADD_ATOM(kvactor, kvactor, publish_atom, "publish")
CAF_ADD_ATOM(kvactor, kvactor, match_atom, "match")
CAF_ADD_ATOM(kvactor, kvactor, unlock_atom, "unlock")
CAF_ADD_ATOM(kvactor, kvactor, evict_atom, "evict")
CAF_ADD_ATOM(kvactor, kvactor, peek_atom, "peek")
CAF_ADD_ATOM(kvactor, kvactor, inspect_atom, "inspect")
CAF_ADD_ATOM(kvactor, kvactor, counts_atom, "counts")
CAF_ADD_ATOM(kvactor, kvactor, cache_atom, "cache")
CAF_ADD_ATOM(kvactor, kvactor, check_atom, "check")
CAF_ADD_ATOM(kvactor, kvactor, enqueue_atom, "enqueue")
CAF_ADD_ATOM(kvactor, kvactor, admit_atom, "admit")
CAF_ADD_ATOM(kvactor, kvactor, ready_atom, "ready")
CAF_ADD_ATOM(kvactor, kvactor, step_atom, "step")
CAF_ADD_ATOM(kvactor, kvactor, leave_atom, "leave")
CAF_ADD_ATOM(kvactor, kvactor, starved_atom, "starved")
CAF_ADD_ATOM(kvactor, kvactor, preempt_atom, "preempt")
CAF_ADD_ATOM(kvactor, kvactor, fail_atom, "fail")
CAF_ADD_ATOM(kvactor, kvactor, cancel_atom, "cancel")
CAF_ADD_ATOM(kvactor, kvactor, register_atom, "register")
CAF_ADD_ATOM(kvactor, kvactor, done_atom, "done")
CAF_ADD_ATOM(kvactor, kvactor, list_atom, "list")
CAF_ADD_ATOM(kvactor, kvactor, metrics_atom, "metrics")
CAF_ADD_ATOM(kvactor, kvactor, history_atom, "history")
CAF_ADD_ATOM(kvactor, kvactor, forget_atom, "forget")
CAF_ADD_ATOM(kvactor, kvactor, claim_atom, "claim")
CAF_END_TYPE_ID_BLOCK(kvactor)

CAF_ERROR_CODE_ENUM(kvactor::engine_errc, "kvactor")

namespace kvactor {

// A caf::error made with make_error(engine_errc, message): its code (an error of
// another category is internal) and its message (else the rendered error).
engine_errc engine_code(const caf::error& err);
std::string engine_message(const caf::error& err);

using page_list = std::vector<page_id>;
using token_list = std::vector<int32_t>;

// Owns page_pool; the authority on page ownership. The sender of alloc/publish/drop
// is the owner. alloc fails with no_capacity after asking the trie to evict.
using pool_actor =
    caf::typed_actor<caf::replies_to<alloc_atom, int32_t>::with<page_list>,
                     caf::replies_to<publish_atom, publish_request>::with<publish_reply>,
                     caf::replies_to<drop_atom>::with<int32_t>,  // releases all the sender holds (pages, locks)
                     caf::replies_to<counts_atom>::with<pool_counts>,
                     // depth, max nodes, full: also run the O(pages) invariant walks (else counters only)
                     caf::replies_to<cache_atom, int32_t, int32_t, bool>::with<cache_view>,
                     caf::replies_to<check_atom>::with<invariant_check>,  // the full walks of pool and trie, and the
                                                                          // cross-check
                     caf::replies_to<inspect_atom>::with<pool_report>>;

// Owns prefix_trie. Handles belong to the request that matched/published; the trie
// monitors those owners and unlocks a dead one's handles.
using trie_actor = caf::typed_actor<
    caf::replies_to<match_atom, uint64_t, token_list>::with<match_reply>,  // ns, tokens; sender = owner
    caf::replies_to<unlock_atom, uint64_t>::with<int32_t>,
    // ns, waiting prompts (new tokens only) -> cached tokens per entry (-1: the trie
    // lost that prompt's earlier tokens, send it again from 0); no lock.
    caf::replies_to<peek_atom, uint64_t, std::vector<peek_entry>>::with<token_list>,
    caf::reacts_to<forget_atom, uint64_t>,  // seq id: that prompt left the waiting queue
    // From the pool only: publish for `owner`; drop every handle of `owner`.
    caf::replies_to<publish_atom, caf::actor_addr, publish_request>::with<publish_reply>,
    caf::replies_to<drop_atom, caf::actor_addr>::with<int32_t>, caf::replies_to<evict_atom, int32_t>::with<page_list>,
    caf::replies_to<counts_atom>::with<trie_counts>,
    caf::replies_to<cache_atom, int32_t, int32_t, bool>::with<trie_view>,  // as the pool's
    caf::replies_to<check_atom>::with<invariant_check>,                    // the trie's full walk
    caf::replies_to<inspect_atom>::with<trie_report>>;

// Runs one batched step at a time on its backend.
using device_actor =
    caf::typed_actor<caf::replies_to<step_atom, std::vector<sequence_step>>::with<std::vector<sequence_result>>,
                     caf::replies_to<inspect_atom>::with<device_report>>;

// One per request; owns its tokens, block table, sampling state and output.
// step_atom: the scheduler's step is done (tokens processed, the result: token -1 if none
// sampled; continued: the scheduler already issued the next step with that token as
// input, so no offer follows; scheduling/continuation.hpp).
using request_actor =
    caf::typed_actor<caf::reacts_to<admit_atom>,  // scheduler: you may start (match, allocate, offer)
                     caf::reacts_to<step_atom, int32_t, sequence_result, bool>,
                     caf::replies_to<preempt_atom>::with<token_list>,  // give back everything, wait for the next admit
                     caf::reacts_to<fail_atom, caf::error>,            // an engine_errc + message: end with that error
                     caf::reacts_to<cancel_atom, std::string>,         // reason: end as cancelled
                     caf::replies_to<inspect_atom>::with<request_report>>;

// Waiting queue, running set, batch formation, preemption, device supervision.
using scheduler_actor =
    caf::typed_actor<caf::replies_to<enqueue_atom, enqueue_request>::with<int32_t>,  // queue position, or QUEUE_FULL
                     caf::reacts_to<ready_atom, sequence_step>,                      // a request's next offer
                     caf::replies_to<starved_atom>::with<int32_t>,                   // a starve_decision
                     caf::reacts_to<leave_atom>,                                     // the sender finished
                     caf::reacts_to<check_atom>,  // timer: retry parked starving requests
                     caf::replies_to<counts_atom>::with<scheduler_counts>,
                     caf::replies_to<inspect_atom>::with<scheduler_report>>;

// The gateway's bookkeeping actor: the live rids, rid -> live request, the last finished
// ones, counters. outcome = finished | cancelled | failed | rejected.
using registry_actor = caf::typed_actor<
    // The caller's rid ("" = name one: req-<n>) -> the rid the request runs under: a live
    // rid's duplicate gets a suffix (<rid>-<n>), so cancel and inspect address one request.
    caf::replies_to<claim_atom, std::string>::with<std::string>,
    caf::reacts_to<forget_atom, std::string>,                               // rid: its request ended; reusable
    caf::reacts_to<register_atom, std::string, caf::actor>,                 // rid, request
    caf::reacts_to<done_atom, std::string, std::string, request_snapshot>,  // rid, outcome, last snapshot
    caf::reacts_to<cancel_atom, std::string>,                               // rid
    caf::replies_to<list_atom>::with<std::vector<caf::actor>>,              // live requests
    caf::replies_to<history_atom>::with<std::vector<request_snapshot>>,     // finished requests, newest first
    caf::replies_to<metrics_atom>::with<registry_metrics>,
    caf::replies_to<counts_atom>::with<int32_t>,  // live requests
    caf::replies_to<inspect_atom>::with<registry_report>>;

}  // namespace kvactor
