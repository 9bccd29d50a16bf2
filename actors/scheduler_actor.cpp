#include "actors/scheduler_actor.hpp"

#include <algorithm>
#include <chrono>
#include <deque>
#include <map>
#include <nlohmann/json.hpp>

#include "actors/device_actor.hpp"
#include "scheduling/admission.hpp"
#include "scheduling/batch_formation.hpp"
#include "scheduling/continuation.hpp"
#include "scheduling/fair_share.hpp"
#include "scheduling/preemption.hpp"
#include "scheduling/step_statistics.hpp"

namespace kvactor {
namespace {

using clock_type = std::chrono::steady_clock;

enum class run_status { admitting, ready, in_step, processing, preempting };

const char* status_name(run_status s) {
  switch (s) {
    case run_status::admitting: return "admitting";
    case run_status::ready: return "ready";
    case run_status::in_step: return "in_step";
    case run_status::processing: return "processing";
    case run_status::preempting: return "preempting";
  }
  return "?";
}

struct entry {
  request_actor req;
  caf::actor_addr addr;
  uint64_t seq_id = 0;
  std::string rid;
  token_list tokens;  // prompt (with generated tokens after a preemption)
  uint64_t arrival = 0;
  int32_t passed_over = 0;  // admission rounds that admitted others but not this one
  int32_t cached_hint = 0;  // cached prefix length from the last trie peek
  int32_t peek_sent = 0;    // tokens of `tokens` the trie holds for the peek (its cursor)
  bool priority = false;    // preempted: goes first
  uint64_t ns = 0;          // trie namespace of the request
  uint32_t tenant = 0;      // fair share across tenants
  int32_t weight = 1;
  int32_t max_tokens = 0;  // the request's limit on generated tokens (0: none)
  // running only:
  run_status status = run_status::admitting;
  uint64_t admitted_order = 0;
  sequence_step offer;
  int32_t first_start = -1;  // start_pos of the first offer = tokens that came from the cache
  bool decoding = false;
  int32_t step_tokens = 0;
  bool step_sampled = false;
};

struct starving {
  caf::actor_addr addr;
  caf::typed_response_promise<int32_t> promise;
};

scheduling::limits scheduling_limits(const engine_settings& cfg) {
  scheduling::limits lim;
  lim.max_batch = cfg.max_batch;
  lim.max_tokens_per_step = cfg.max_tokens_per_step;
  lim.prefill_chunk = cfg.prefill_chunk;
  lim.page_size = cfg.page_size;
  lim.max_wait_steps = cfg.max_wait_steps;
  return lim;
}

struct scheduler_state {
  static inline const char* name = "scheduler";
  engine_settings cfg;
  scheduling::limits lim;
  trie_actor trie;
  std::shared_ptr<backend> be;
  device_actor device;
  caf::actor_addr device_addr;
  uint64_t device_generation = 0;
  bool busy = false;
  bool preempting = false;
  bool admission_blocked = false;  // after a preemption, until a running request leaves
  int32_t peeks_in_flight = 0;
  scheduling::fair_share fair;  // admission order across tenants
  std::deque<entry> waiting;
  std::vector<entry> running;  // admission order
  std::deque<starving> starved;
  // Starving while alone: pages are on their way back (a leaving request's drop, a
  // killed one's cleanup at the pool). Retried when a request goes or a timer fires.
  std::vector<starving> parked;
  bool recheck_pending = false;
  std::vector<caf::actor_addr> in_flight;
  uint64_t arrivals = 0;
  uint64_t admissions = 0;
  scheduler_counts counts;            // preemptions and restarts; steps and tokens come from stats
  scheduling::step_statistics stats;  // the one owner of the device step statistics
  uint64_t handled = 0;
  std::vector<caf::actor_addr> devices;  // every device actor spawned (linked)
  bool owns_device(const caf::actor_addr& a) const {
    return std::find(devices.begin(), devices.end(), a) != devices.end();
  }
};

using scheduler_pointer = scheduler_actor::stateful_pointer<scheduler_state>;

// Removes a's entries from running or waiting; returns how many went.
template <class Entries>
std::size_t erase_entries_of(Entries& entries, const caf::actor_addr& a) {
  auto before = entries.size();
  entries.erase(std::remove_if(entries.begin(), entries.end(), [&](const entry& e) { return e.addr == a; }),
                entries.end());
  return before - entries.size();
}

entry* find_running(scheduler_pointer self, const caf::actor_addr& a) {
  for (auto& e : self->state.running)
    if (e.addr == a) return &e;
  return nullptr;
}

void try_step(scheduler_pointer self);

void start_device(scheduler_pointer self) {
  auto& st = self->state;
  auto id = "device-" + std::to_string(st.device_generation);
  st.device = spawn_device(self->system(), st.be, id, st.cfg.detached_device);
  st.device_addr = st.device.address();
  st.devices.push_back(st.device_addr);
  self->monitor(st.device);
  // Linked so the device goes down with the scheduler; the exit handler keeps a
  // failing device from taking the scheduler with it.
  self->link_to(st.device);
}

// The device died or its step failed: the step's requests fail (their private pages,
// possibly half written, go back with their drop), a fresh device actor takes over
// the same backend, and scheduling continues.
void on_device_failure(scheduler_pointer self, const std::string& why) {
  auto& st = self->state;
  st.busy = false;
  ++st.device_generation;
  ++st.counts.device_restarts;
  for (auto& a : st.in_flight) {
    if (auto* e = find_running(self, a)) {
      self->send(e->req, fail_atom_v,
                 caf::make_error(engine_errc::device_error, "the device failed during a step: " + why));
      auto addr = e->addr;
      erase_entries_of(st.running, addr);
    }
  }
  st.in_flight.clear();
  st.admission_blocked = false;
  if (st.device) self->demonitor(st.device.address());
  start_device(self);
  try_step(self);
}

void release_parked(scheduler_pointer self) {
  auto& st = self->state;
  for (auto& p : st.parked) p.promise.deliver(static_cast<int32_t>(starve_decision::retry));
  st.parked.clear();
}

// Tells a's starve calls waiting in `queue` (parked or starved) that it left.
template <class Queue>
void answer_requeued(Queue& queue, const caf::actor_addr& a) {
  for (auto it = queue.begin(); it != queue.end();) {
    if (it->addr == a) {
      it->promise.deliver(static_cast<int32_t>(starve_decision::requeued));
      it = queue.erase(it);
    } else {
      ++it;
    }
  }
}

// The trie drops its copy of a prompt that leaves the waiting queue.
void forget_peeked(scheduler_pointer self, entry& e) {
  if (e.peek_sent > 0) self->send(self->state.trie, forget_atom_v, e.seq_id);
  e.peek_sent = 0;
}

void remove_request(scheduler_pointer self, const caf::actor_addr& a) {
  auto& st = self->state;
  for (auto& w : st.waiting)
    if (w.addr == a) forget_peeked(self, w);
  answer_requeued(st.parked, a);
  release_parked(self);
  if (erase_entries_of(st.running, a) > 0) st.admission_blocked = false;
  erase_entries_of(st.waiting, a);
  answer_requeued(st.starved, a);
}

// Admits what scheduling::choose_admissions picks; each admitted request is told so.
void admit(scheduler_pointer self) {
  auto& st = self->state;
  if (st.admission_blocked || !st.parked.empty() || st.waiting.empty()) return;
  std::vector<scheduling::waiting_request> waiting;
  waiting.reserve(st.waiting.size());
  for (auto& w : st.waiting)
    waiting.push_back({&w.tokens, w.arrival, w.passed_over, w.cached_hint, w.priority, w.ns, w.tenant, w.weight});
  std::vector<scheduling::prefill_in_progress> prefills;
  for (auto& r : st.running)
    if (!r.decoding) prefills.push_back({&r.tokens, r.first_start >= 0 ? r.first_start : r.cached_hint, r.ns});
  scheduling::admission_rule rule;
  rule.fairness = &st.fair;
  auto chosen = scheduling::choose_admissions(waiting, st.running.size(), std::move(prefills), st.lim, rule);
  if (chosen.empty()) return;
  for (auto i : chosen) {
    forget_peeked(self, st.waiting[i]);
    entry e = st.waiting[i];
    st.fair.admitted(e.tenant, e.weight);
    e.status = run_status::admitting;
    e.admitted_order = ++st.admissions;
    e.first_start = -1;
    e.decoding = false;
    st.running.push_back(std::move(e));
    self->send(st.running.back().req, admit_atom_v);
  }
  std::sort(chosen.begin(), chosen.end());
  for (auto it = chosen.rbegin(); it != chosen.rend(); ++it)
    st.waiting.erase(st.waiting.begin() + static_cast<std::ptrdiff_t>(*it));
  for (auto& w : st.waiting) ++w.passed_over;
}

// Asks the trie how much of each waiting prompt is cached, one peek per namespace.
void peek_waiting(scheduler_pointer self) {
  auto& st = self->state;
  if (st.peeks_in_flight > 0 || st.waiting.size() < 2) return;
  // Each prompt travels once: the trie keeps what it was sent (until forget_peeked).
  // One peek per namespace (tenant): a prompt is only ever matched in its own.
  std::map<uint64_t, std::pair<std::vector<peek_entry>, std::vector<uint64_t>>> by_ns;
  for (std::size_t i = 0; i < st.waiting.size() && i < 256; ++i) {
    auto& w = st.waiting[i];
    auto sent = static_cast<std::size_t>(w.peek_sent);
    auto& group = by_ns[w.ns];
    group.first.push_back(
        {w.seq_id, w.peek_sent, token_list(w.tokens.begin() + static_cast<std::ptrdiff_t>(sent), w.tokens.end())});
    w.peek_sent = static_cast<int32_t>(w.tokens.size());
    group.second.push_back(w.seq_id);
  }
  for (auto& [ns, group] : by_ns) {
    ++st.peeks_in_flight;
    auto ids = std::move(group.second);
    self->request(st.trie, caf::infinite, peek_atom_v, ns, std::move(group.first))
        .then(
            [self, ids](token_list& lens) {
              auto& s = self->state;
              --s.peeks_in_flight;
              for (std::size_t i = 0; i < ids.size() && i < lens.size(); ++i)
                for (auto& w : s.waiting)
                  if (w.seq_id == ids[i]) {
                    if (lens[i] < 0)
                      w.peek_sent = 0;  // the trie lost it: send it whole next time
                    else
                      w.cached_hint = lens[i];
                  }
            },
            [self, ids](caf::error&) {
              auto& s = self->state;
              --s.peeks_in_flight;
              for (auto& w : s.waiting)
                if (std::find(ids.begin(), ids.end(), w.seq_id) != ids.end())
                  w.peek_sent = 0;  // unknown what arrived: start over
            });
  }
}

// Makes e's next offer the step its request actor would offer itself (input: the token
// just sampled), when scheduling::can_continue allows it: e is ready again at once.
bool continue_sequence(scheduler_state& s, entry& e, int32_t token) {
  // An end id may end the request (unless it ignores EOS): let it answer first.
  const bool end_id = std::find(s.cfg.end_ids.begin(), s.cfg.end_ids.end(), token) != s.cfg.end_ids.end();
  // Per-step state the request computes (logits it asked for, its grammar's mask for the next
  // token) is never carried forward: a constrained request offers every step itself.
  if (token < 0 || end_id || e.offer.return_logits || e.offer.constrained() || !s.starved.empty()) return false;
  scheduling::finished_step done{e.offer.start_pos,    e.step_tokens,
                                 e.step_sampled,       static_cast<int32_t>(e.offer.block_table.size()),
                                 e.offer.sample_index, e.max_tokens};
  if (!scheduling::can_continue(done, s.lim.page_size, s.cfg.max_seq_len)) return false;
  e.offer.start_pos += e.step_tokens;
  e.offer.tokens.assign(1, token);
  e.offer.score_next.clear();                                          // only prompt positions are scored
  if (e.offer.sampling.penalized()) e.offer.history.push_back(token);  // what the request actor's own offer would carry
  e.offer.sample = true;
  ++e.offer.sample_index;
  e.status = run_status::ready;
  return true;
}

void on_step_done(scheduler_pointer self, std::vector<sequence_result>& results) {
  auto& s = self->state;
  s.busy = false;
  s.stats.finished(clock_type::now());
  for (std::size_t i = 0; i < s.in_flight.size(); ++i) {
    auto* e = find_running(self, s.in_flight[i]);
    if (e == nullptr) continue;  // left (cancelled) during the step
    e->status = run_status::processing;
    sequence_result result;  // token -1: nothing sampled
    // A result travels when it holds something: a sampled token, or prompt scores.
    if (i < results.size() && (e->step_sampled || !results[i].scored.empty())) {
      result = std::move(results[i]);
      e->decoding = e->decoding || e->step_sampled;
    }
    const bool continued = continue_sequence(s, *e, result.token);
    self->send(e->req, step_atom_v, e->step_tokens, std::move(result), continued);
  }
  s.in_flight.clear();
  try_step(self);
}

// Sends the batch scheduling::form_batch picks from the ready requests to the device.
void start_step(scheduler_pointer self) {
  auto& st = self->state;
  std::vector<scheduling::step_candidate> candidates;
  candidates.reserve(st.running.size());
  for (auto& e : st.running)
    candidates.push_back({e.status == run_status::ready, static_cast<int32_t>(e.offer.tokens.size())});
  auto formed = scheduling::form_batch(candidates, st.lim);
  if (formed.slots.empty()) return;
  std::vector<sequence_step> batch;
  batch.reserve(formed.slots.size());
  for (auto& slot : formed.slots) {
    auto& e = st.running[slot.index];
    sequence_step s = e.offer;
    if (slot.truncated) {
      s.tokens.resize(static_cast<std::size_t>(slot.tokens));
      if (!s.score_next.empty()) s.score_next.resize(static_cast<std::size_t>(slot.tokens));
      s.sample = false;  // a prefill chunk that does not reach the end samples nothing
    }
    e.status = run_status::in_step;
    e.step_tokens = slot.tokens;
    e.step_sampled = s.sample;
    st.in_flight.push_back(e.addr);
    batch.push_back(std::move(s));
  }
  st.busy = true;
  st.stats.started(formed.tokens, clock_type::now());
  auto generation = st.device_generation;
  self->request(st.device, caf::infinite, step_atom_v, std::move(batch))
      .then(
          [self, generation](std::vector<sequence_result>& results) {
            if (generation == self->state.device_generation) on_step_done(self, results);
          },
          [self, generation](caf::error& err) {
            if (generation != self->state.device_generation) return;
            on_device_failure(self, self->system().render(err));
          });
  peek_waiting(self);
}

void resolve_starved(scheduler_pointer self);

void preempt(scheduler_pointer self, entry& victim, caf::actor_addr starving_addr) {
  auto& st = self->state;
  st.preempting = true;
  victim.status = run_status::preempting;
  auto victim_addr = victim.addr;
  auto finish = [self, victim_addr, starving_addr](const token_list* tokens) {
    auto& s = self->state;
    s.preempting = false;
    entry moved;
    bool found = false;
    for (auto it = s.running.begin(); it != s.running.end(); ++it) {
      if (it->addr == victim_addr) {
        moved = std::move(*it);
        s.running.erase(it);
        found = true;
        break;
      }
    }
    if (found && tokens != nullptr) {
      moved.tokens = *tokens;
      moved.priority = true;
      moved.cached_hint = 0;
      moved.peek_sent = 0;
      moved.status = run_status::admitting;
      s.waiting.push_front(std::move(moved));
      ++s.counts.preemptions;
      // Blocked until a running request leaves; if all left meanwhile, nothing would unblock it.
      s.admission_blocked = !s.running.empty();
    }
    // Answer the starving request (the victim itself was told by the preempt).
    for (auto it = s.starved.begin(); it != s.starved.end();) {
      if (it->addr == victim_addr) {
        it->promise.deliver(static_cast<int32_t>(starve_decision::requeued));
        it = s.starved.erase(it);
      } else if (it->addr == starving_addr) {
        it->promise.deliver(static_cast<int32_t>(starve_decision::retry));
        it = s.starved.erase(it);
      } else {
        ++it;
      }
    }
    try_step(self);
  };
  self->request(victim.req, caf::infinite, preempt_atom_v)
      .then([finish](token_list& tokens) { finish(&tokens); }, [finish](caf::error&) { finish(nullptr); });
}

// Runs with the device idle, so no candidate victim is in flight.
void resolve_starved(scheduler_pointer self) {
  auto& st = self->state;
  while (!st.starved.empty() && !st.preempting) {
    auto& s = st.starved.front();
    auto* me = find_running(self, s.addr);
    if (me == nullptr) {
      s.promise.deliver(static_cast<int32_t>(starve_decision::requeued));
      st.starved.pop_front();
      continue;
    }
    std::vector<scheduling::victim_candidate> candidates;
    for (auto& e : st.running) candidates.push_back({e.admitted_order, e.status == run_status::preempting});
    auto victim = scheduling::choose_victim(candidates);
    if (scheduling::on_starving(st.running.size()) == scheduling::starve_action::park || !victim) {
      // Alone and still short. The request fits the cache (it checks that itself),
      // so the missing pages are on their way back from requests that just ended:
      // park it and retry when one goes, or after a short timer.
      st.parked.push_back(std::move(s));
      st.starved.pop_front();
      if (!st.recheck_pending) {
        st.recheck_pending = true;
        self->delayed_send(self, std::chrono::milliseconds(1), check_atom_v);
      }
      continue;
    }
    preempt(self, st.running[*victim], s.addr);
    return;
  }
}

void try_step(scheduler_pointer self) {
  auto& st = self->state;
  if (st.busy || st.preempting) return;
  if (!st.starved.empty()) {
    resolve_starved(self);
    if (st.preempting) return;
  }
  admit(self);
  int32_t ready = 0, processing = 0;
  for (auto& e : st.running) {
    if (e.status == run_status::preempting) return;
    ready += e.status == run_status::ready;
    processing += e.status == run_status::processing;
  }
  if (scheduling::should_start_step(ready, processing, !st.starved.empty())) start_step(self);
}

void on_down(scheduler_pointer self, caf::down_msg& msg) {
  auto& s = self->state;
  if (msg.source == s.device_addr) {
    s.device_addr = caf::actor_addr{};
    if (s.busy) {
      on_device_failure(self, "device actor exited: " + to_string(msg.reason));
    } else {
      ++s.device_generation;
      ++s.counts.device_restarts;
      start_device(self);
    }
    return;
  }
  remove_request(self, msg.source);
  try_step(self);
}

caf::result<int32_t> on_enqueue(scheduler_pointer self, enqueue_request& r) {
  auto& s = self->state;
  if (static_cast<int32_t>(s.waiting.size()) >= s.cfg.queue_limit) return caf::make_error(engine_errc::queue_full);
  entry e;
  e.req = caf::actor_cast<request_actor>(self->current_sender());
  e.addr = caf::actor_cast<caf::actor_addr>(self->current_sender());
  e.seq_id = r.seq_id;
  e.rid = std::move(r.rid);
  e.tokens = std::move(r.tokens);
  e.ns = r.ns;
  e.tenant = r.tenant;
  e.weight = r.tenant_weight;
  e.max_tokens = r.max_tokens;
  e.arrival = ++s.arrivals;
  self->monitor(e.addr);
  s.waiting.push_back(std::move(e));
  auto position = static_cast<int32_t>(s.waiting.size());
  try_step(self);
  return position;
}

void on_ready(scheduler_pointer self, sequence_step& offer) {
  auto* e = find_running(self, caf::actor_cast<caf::actor_addr>(self->current_sender()));
  if (e == nullptr || e->status == run_status::preempting) return;
  if (e->first_start < 0) e->first_start = offer.start_pos;
  e->offer = std::move(offer);
  e->status = run_status::ready;
  try_step(self);
}

caf::result<int32_t> on_starved(scheduler_pointer self) {
  auto& s = self->state;
  auto addr = caf::actor_cast<caf::actor_addr>(self->current_sender());
  auto* e = find_running(self, addr);
  if (e == nullptr) return static_cast<int32_t>(starve_decision::requeued);
  e->status = run_status::processing;
  auto promise = self->make_response_promise<int32_t>();
  s.starved.push_back({addr, promise});
  try_step(self);
  return promise;
}

scheduler_counts current_counts(const scheduler_state& s) {
  auto c = s.counts;
  c.steps = s.stats.steps_started();
  c.batched_tokens = s.stats.tokens_started();
  c.queued = static_cast<int32_t>(s.waiting.size());
  c.running = static_cast<int32_t>(s.running.size());
  return c;
}

scheduler_report inspect_report(scheduler_pointer self) {
  auto& s = self->state;
  scheduler_report r;
  r.head = {"scheduler", "scheduler", s.busy ? "stepping" : "idle", s.handled, self->mailbox().size()};
  for (auto& e : s.running) {
    if (e.status == run_status::in_step) r.batch.push_back({e.rid, e.step_tokens, e.decoding});
    r.running_requests.push_back({e.rid, status_name(e.status)});
  }
  r.queued = static_cast<int32_t>(s.waiting.size());
  r.running = static_cast<int32_t>(s.running.size());
  r.steps = s.stats.steps_started();
  r.preemptions = s.counts.preemptions;
  r.admission_blocked = s.admission_blocked;
  r.starving = static_cast<int32_t>(s.starved.size());
  auto& d = r.device;
  d.head = {"device", "device-" + std::to_string(s.device_generation), s.busy ? "stepping" : "idle",
            s.stats.steps_finished(), 0};
  d.backend = s.be->name();
  d.steps = s.stats.steps_finished();
  d.tokens = s.stats.tokens_finished();
  d.last_step_ms = s.stats.last_step_ms();
  d.restarts = s.counts.device_restarts;
  return r;
}

scheduler_actor::behavior_type scheduler_behavior(scheduler_pointer self, engine_settings cfg, trie_actor trie,
                                                  std::shared_ptr<backend> be) {
  auto& st = self->state;
  st.cfg = std::move(cfg);
  st.lim = scheduling_limits(st.cfg);
  st.trie = std::move(trie);
  st.be = std::move(be);
  start_device(self);
  self->set_exit_handler([self](caf::exit_msg& msg) {
    if (msg.reason && !self->state.owns_device(msg.source)) self->quit(msg.reason);
  });
  self->set_down_handler([self](caf::down_msg& msg) { on_down(self, msg); });
  return {
      [self](enqueue_atom, enqueue_request& r) -> caf::result<int32_t> {
        ++self->state.handled;
        return on_enqueue(self, r);
      },
      [self](ready_atom, sequence_step& offer) {
        ++self->state.handled;
        on_ready(self, offer);
      },
      [self](starved_atom) -> caf::result<int32_t> {
        ++self->state.handled;
        return on_starved(self);
      },
      [self](leave_atom) {
        ++self->state.handled;
        remove_request(self, caf::actor_cast<caf::actor_addr>(self->current_sender()));
        try_step(self);
      },
      [self](check_atom) {
        ++self->state.handled;
        self->state.recheck_pending = false;
        release_parked(self);
        try_step(self);
      },
      [self](counts_atom) -> scheduler_counts {
        ++self->state.handled;
        return current_counts(self->state);
      },
      [self](inspect_atom) -> scheduler_report {
        ++self->state.handled;
        return inspect_report(self);
      },
  };
}

}  // namespace

scheduler_actor spawn_scheduler(caf::actor_system& sys, const engine_settings& settings, trie_actor trie,
                                std::shared_ptr<backend> be) {
  return sys.spawn(scheduler_behavior, settings, std::move(trie), std::move(be));
}

}  // namespace kvactor
