#include "actors/scheduler_actor.hpp"

#include <algorithm>
#include <chrono>
#include <deque>
#include <nlohmann/json.hpp>

#include "actors/actor_snapshot.hpp"
#include "actors/device_actor.hpp"

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
  token_list tokens;           // prompt (with generated tokens after a preemption)
  uint64_t arrival = 0;
  int32_t passed_over = 0;     // admission rounds that admitted others but not this one
  int32_t cached_hint = 0;     // cached prefix length from the last trie peek
  bool priority = false;       // preempted: goes first
  // running only:
  run_status status = run_status::admitting;
  uint64_t admitted_order = 0;
  sequence_step offer;
  int32_t first_start = -1;    // start_pos of the first offer = tokens that came from the cache
  bool decoding = false;
  int32_t step_tokens = 0;
  bool step_sampled = false;
};

struct starving {
  caf::actor_addr addr;
  caf::typed_response_promise<int32_t> promise;
};

struct scheduler_state {
  static inline const char* name = "scheduler";
  engine_settings cfg;
  trie_actor trie;
  std::shared_ptr<backend> be;
  device_actor device;
  caf::actor_addr device_addr;
  uint64_t device_generation = 0;
  bool busy = false;
  bool preempting = false;
  bool admission_blocked = false;  // after a preemption, until a running request leaves
  bool peek_in_flight = false;
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
  scheduler_counts counts;
  uint64_t handled = 0;
  uint64_t device_steps = 0;
  uint64_t device_tokens = 0;
  double last_step_ms = 0;
  clock_type::time_point step_start;
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
    if (e.addr == a)
      return &e;
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
      self->send(e->req, fail_atom_v, std::string("DEVICE_ERROR"), "the device failed during a step: " + why);
      auto addr = e->addr;
      erase_entries_of(st.running, addr);
    }
  }
  st.in_flight.clear();
  st.admission_blocked = false;
  if (st.device)
    self->demonitor(st.device.address());
  start_device(self);
  try_step(self);
}

void release_parked(scheduler_pointer self) {
  auto& st = self->state;
  for (auto& p : st.parked)
    p.promise.deliver(static_cast<int32_t>(starve_decision::retry));
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

void remove_request(scheduler_pointer self, const caf::actor_addr& a) {
  auto& st = self->state;
  answer_requeued(st.parked, a);
  release_parked(self);
  if (erase_entries_of(st.running, a) > 0)
    st.admission_blocked = false;
  erase_entries_of(st.waiting, a);
  answer_requeued(st.starved, a);
}

int32_t common_full_pages(const token_list& a, const token_list& b, int32_t page_size) {
  std::size_t n = std::min(a.size(), b.size());
  std::size_t i = 0;
  while (i < n && a[i] == b[i])
    ++i;
  // The trie never matches a prompt's last token.
  auto usable = std::min<std::size_t>(i, a.empty() ? 0 : a.size() - 1);
  return static_cast<int32_t>(usable / static_cast<std::size_t>(page_size));
}

// A waiting request that shares full pages not yet cached with a request still in
// prefill waits until that one has published them, then matches them instead of
// computing them again.
bool shares_uncached_prefix(scheduler_pointer self, const entry& w) {
  auto ps = self->state.cfg.page_size;
  for (auto& a : self->state.running) {
    if (a.decoding)
      continue;
    auto cached = (a.first_start >= 0 ? a.first_start : a.cached_hint) / ps;
    if (common_full_pages(w.tokens, a.tokens, ps) > cached)
      return true;
  }
  return false;
}

void admit(scheduler_pointer self) {
  auto& st = self->state;
  if (st.admission_blocked || !st.parked.empty() || st.waiting.empty())
    return;
  if (static_cast<int32_t>(st.running.size()) >= st.cfg.max_batch)
    return;
  // Order: preempted and over-waited requests first (by arrival), then the longest
  // cached prefix (SGLang's LPM), then arrival.
  std::vector<std::size_t> order(st.waiting.size());
  for (std::size_t i = 0; i < order.size(); ++i)
    order[i] = i;
  auto urgent = [&](const entry& e) { return e.priority || e.passed_over >= st.cfg.max_wait_steps; };
  std::stable_sort(order.begin(), order.end(), [&](std::size_t x, std::size_t y) {
    auto& a = st.waiting[x];
    auto& b = st.waiting[y];
    if (urgent(a) != urgent(b))
      return urgent(a);
    if (urgent(a))
      return a.arrival < b.arrival;
    if (a.cached_hint != b.cached_hint)
      return a.cached_hint > b.cached_hint;
    return a.arrival < b.arrival;
  });
  std::vector<std::size_t> chosen;
  for (auto i : order) {
    if (static_cast<int32_t>(st.running.size() + chosen.size()) >= st.cfg.max_batch)
      break;
    auto& w = st.waiting[i];
    if (!urgent(w) && shares_uncached_prefix(self, w))
      continue;
    // Move it into running now so later candidates see it as a prefill in progress.
    chosen.push_back(i);
    entry e = w;
    e.status = run_status::admitting;
    e.admitted_order = ++st.admissions;
    e.first_start = -1;
    e.decoding = false;
    st.running.push_back(std::move(e));
    self->send(st.running.back().req, admit_atom_v);
  }
  if (chosen.empty())
    return;
  std::sort(chosen.begin(), chosen.end());
  for (auto it = chosen.rbegin(); it != chosen.rend(); ++it)
    st.waiting.erase(st.waiting.begin() + static_cast<std::ptrdiff_t>(*it));
  for (auto& w : st.waiting)
    ++w.passed_over;
}

void peek_waiting(scheduler_pointer self) {
  auto& st = self->state;
  if (st.peek_in_flight || st.waiting.size() < 2)
    return;
  std::vector<token_list> prompts;
  std::vector<uint64_t> ids;
  for (std::size_t i = 0; i < st.waiting.size() && i < 256; ++i) {
    prompts.push_back(st.waiting[i].tokens);
    ids.push_back(st.waiting[i].seq_id);
  }
  st.peek_in_flight = true;
  self->request(st.trie, caf::infinite, peek_atom_v, st.cfg.ns, std::move(prompts))
      .then(
          [self, ids](token_list& lens) {
            auto& s = self->state;
            s.peek_in_flight = false;
            for (std::size_t i = 0; i < ids.size() && i < lens.size(); ++i)
              for (auto& w : s.waiting)
                if (w.seq_id == ids[i])
                  w.cached_hint = lens[i];
          },
          [self](caf::error&) { self->state.peek_in_flight = false; });
}

void start_step(scheduler_pointer self) {
  auto& st = self->state;
  std::vector<sequence_step> batch;
  int32_t budget = st.cfg.max_tokens_per_step;
  auto take = [&](entry& e, int32_t n) {
    sequence_step s = e.offer;
    if (n < static_cast<int32_t>(s.tokens.size())) {
      s.tokens.resize(static_cast<std::size_t>(n));
      s.sample = false;  // a prefill chunk that does not reach the end samples nothing
    }
    e.status = run_status::in_step;
    e.step_tokens = n;
    e.step_sampled = s.sample;
    budget -= n;
    st.in_flight.push_back(e.addr);
    batch.push_back(std::move(s));
  };
  // Decode tokens first (one each, latency-critical), then prefill chunks in
  // admission order within the remaining budget.
  for (auto& e : st.running)
    if (e.status == run_status::ready && e.offer.tokens.size() == 1 &&
        static_cast<int32_t>(batch.size()) < st.cfg.max_batch && budget >= 1)
      take(e, 1);
  for (auto& e : st.running) {
    if (e.status != run_status::ready || static_cast<int32_t>(batch.size()) >= st.cfg.max_batch)
      continue;
    auto n = std::min<int32_t>({static_cast<int32_t>(e.offer.tokens.size()), st.cfg.prefill_chunk, budget});
    if (n <= 0)
      break;
    take(e, n);
  }
  if (batch.empty())
    return;
  st.busy = true;
  ++st.counts.steps;
  int32_t tokens = st.cfg.max_tokens_per_step - budget;
  st.counts.batched_tokens += static_cast<uint64_t>(tokens);
  st.step_start = clock_type::now();
  auto generation = st.device_generation;
  self->request(st.device, caf::infinite, step_atom_v, std::move(batch))
      .then(
          [self, generation, tokens](std::vector<sequence_result>& results) {
            auto& s = self->state;
            if (generation != s.device_generation)
              return;
            s.busy = false;
            s.last_step_ms = std::chrono::duration<double, std::milli>(clock_type::now() - s.step_start).count();
            ++s.device_steps;
            s.device_tokens += static_cast<uint64_t>(tokens);
            for (std::size_t i = 0; i < s.in_flight.size(); ++i) {
              auto* e = find_running(self, s.in_flight[i]);
              if (e == nullptr)
                continue;  // left (cancelled) during the step
              e->status = run_status::processing;
              int32_t token = -1;
              if (e->step_sampled && i < results.size()) {
                token = results[i].token;
                e->decoding = true;
              }
              self->send(e->req, step_atom_v, e->step_tokens, token);
            }
            s.in_flight.clear();
            try_step(self);
          },
          [self, generation](caf::error& err) {
            if (generation != self->state.device_generation)
              return;
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
      moved.status = run_status::admitting;
      s.waiting.push_front(std::move(moved));
      ++s.counts.preemptions;
      s.admission_blocked = true;
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
    entry* victim = nullptr;
    for (auto& e : st.running)
      if (e.status != run_status::preempting && (victim == nullptr || e.admitted_order > victim->admitted_order))
        victim = &e;
    if (st.running.size() == 1) {
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
    preempt(self, *victim, s.addr);
    return;
  }
}

void try_step(scheduler_pointer self) {
  auto& st = self->state;
  if (st.busy || st.preempting)
    return;
  if (!st.starved.empty()) {
    resolve_starved(self);
    if (st.preempting)
      return;
  }
  admit(self);
  for (auto& e : st.running)
    if (e.status == run_status::processing || e.status == run_status::preempting)
      return;
  start_step(self);
}

scheduler_actor::behavior_type scheduler_behavior(scheduler_pointer self, engine_settings cfg, trie_actor trie,
                                                  std::shared_ptr<backend> be) {
  auto& st = self->state;
  st.cfg = std::move(cfg);
  st.trie = std::move(trie);
  st.be = std::move(be);
  start_device(self);
  self->set_exit_handler([self](caf::exit_msg& msg) {
    if (msg.reason && !self->state.owns_device(msg.source))
      self->quit(msg.reason);
  });
  self->set_down_handler([self](caf::down_msg& msg) {
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
  });
  return {
      [self](enqueue_atom, enqueue_request& r) -> caf::result<int32_t> {
        auto& s = self->state;
        ++s.handled;
        if (static_cast<int32_t>(s.waiting.size()) >= s.cfg.queue_limit)
          return caf::make_error(engine_errc::queue_full);
        entry e;
        e.req = caf::actor_cast<request_actor>(self->current_sender());
        e.addr = caf::actor_cast<caf::actor_addr>(self->current_sender());
        e.seq_id = r.seq_id;
        e.rid = std::move(r.rid);
        e.tokens = std::move(r.tokens);
        e.arrival = ++s.arrivals;
        self->monitor(e.addr);
        s.waiting.push_back(std::move(e));
        auto position = static_cast<int32_t>(s.waiting.size());
        try_step(self);
        return position;
      },
      [self](ready_atom, sequence_step& offer) {
        auto& s = self->state;
        ++s.handled;
        auto* e = find_running(self, caf::actor_cast<caf::actor_addr>(self->current_sender()));
        if (e == nullptr || e->status == run_status::preempting)
          return;
        if (e->first_start < 0)
          e->first_start = offer.start_pos;
        e->offer = std::move(offer);
        e->status = run_status::ready;
        try_step(self);
      },
      [self](starved_atom) -> caf::result<int32_t> {
        auto& s = self->state;
        ++s.handled;
        auto addr = caf::actor_cast<caf::actor_addr>(self->current_sender());
        auto* e = find_running(self, addr);
        if (e == nullptr)
          return static_cast<int32_t>(starve_decision::requeued);
        e->status = run_status::processing;
        auto promise = self->make_response_promise<int32_t>();
        s.starved.push_back({addr, promise});
        try_step(self);
        return promise;
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
        auto& s = self->state;
        ++s.handled;
        auto c = s.counts;
        c.queued = static_cast<int32_t>(s.waiting.size());
        c.running = static_cast<int32_t>(s.running.size());
        return c;
      },
      [self](inspect_atom) -> std::string {
        auto& s = self->state;
        ++s.handled;
        auto j = actor_snapshot("scheduler", "scheduler", s.busy ? "stepping" : "idle", s.handled,
                                self->mailbox().size());
        auto batch = nlohmann::json::array();
        for (auto& e : s.running)
          if (e.status == run_status::in_step)
            batch.push_back({{"rid", e.rid}, {"tokens", e.step_tokens}, {"phase", e.decoding ? "decode" : "prefill"}});
        auto running = nlohmann::json::array();
        for (auto& e : s.running)
          running.push_back({{"rid", e.rid}, {"status", status_name(e.status)}});
        j["details"] = {{"queued", s.waiting.size()},       {"running", s.running.size()},
                        {"batch", batch},                   {"running_requests", running},
                        {"steps", s.counts.steps},          {"preemptions", s.counts.preemptions},
                        {"admission_blocked", s.admission_blocked}, {"starving", s.starved.size()}};
        auto dev = actor_snapshot("device", "device-" + std::to_string(s.device_generation),
                                  s.busy ? "stepping" : "idle", s.device_steps, 0);
        dev["details"] = {{"backend", s.be->name()},
                          {"steps", s.device_steps},
                          {"tokens", s.device_tokens},
                          {"last_step_ms", s.last_step_ms},
                          {"restarts", s.counts.device_restarts}};
        j["device_snapshot"] = dev;
        return snapshot_text(j);
      },
  };
}

}  // namespace

scheduler_actor spawn_scheduler(caf::actor_system& sys, const engine_settings& settings, trie_actor trie,
                                std::shared_ptr<backend> be) {
  return sys.spawn(scheduler_behavior, settings, std::move(trie), std::move(be));
}

}  // namespace kvactor
