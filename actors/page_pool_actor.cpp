#include "actors/page_pool_actor.hpp"

#include <algorithm>
#include <deque>
#include <map>
#include <memory>

#include "kvcache/page_ownership.hpp"
#include "kvcache/prefix_trie.hpp"
#ifdef KVACTOR_FAULT_HOOKS
#include "actors/fault_hooks.hpp"  // tests/faults only; see that header
#endif

namespace kvactor {
namespace {

struct waiting_alloc {
  caf::typed_response_promise<page_list> promise;
  int32_t n = 0;
  owner_id owner = 0;
};

// The actor's part: who the owners are (CAF addresses), the allocations waiting for
// pages and the eviction in flight. Every page's state is in `pages`.
struct pool_state {
  static inline const char* name = "page_pool";
  std::unique_ptr<page_ownership> pages_ptr;  // set when the actor starts (states are default-constructed)
  page_ownership& pages() { return *pages_ptr; }
  trie_actor trie;
  std::map<caf::actor_addr, owner_id> owners;  // monitored senders; ids are never reused
  owner_id next_owner = 1;
  std::deque<waiting_alloc> waiting;  // served in arrival order
  bool evicting = false;
  uint64_t handled = 0;
  uint64_t evicted = 0;
};

using pool_pointer = pool_actor::stateful_pointer<pool_state>;

// The sender's owner id; the first allocation of a sender starts monitoring it.
owner_id sender_owner(pool_pointer self) {
  auto addr = caf::actor_cast<caf::actor_addr>(self->current_sender());
  auto& st = self->state;
  auto it = st.owners.find(addr);
  if (it != st.owners.end()) return it->second;
  auto id = st.next_owner++;
  st.owners.emplace(addr, id);
  if (addr) self->monitor(addr);
  return id;
}

// The sender's owner id if it ever allocated, else 0 (nobody: holds nothing).
owner_id known_owner(pool_pointer self) {
  auto it = self->state.owners.find(caf::actor_cast<caf::actor_addr>(self->current_sender()));
  return it == self->state.owners.end() ? 0 : it->second;
}

page_list take_pages(pool_pointer self, int32_t n, owner_id owner) {
  page_list out;
  if (self->state.pages().allocate(owner, n, out) != kv_errc::ok)
    throw invariant_error("page pool actor: allocate failed although enough pages were free");
  return out;
}

int32_t wanted_pages(pool_pointer self) {
  int32_t want = 0;
  for (auto& w : self->state.waiting) want += w.n;
  return want;
}

void kick_eviction(pool_pointer self);

// Serves waiting allocations in order. `progress`: the last eviction freed pages,
// so a short head may still be served by evicting more. While an eviction is in
// flight a short head waits for it (its answer serves the queue again) rather than
// failing: pages freed meanwhile by a drop or a publish do not end the wait.
void serve_waiting(pool_pointer self, bool progress) {
  auto& st = self->state;
  while (!st.waiting.empty()) {
    auto& head = st.waiting.front();
    if (head.n <= st.pages().free_count()) {
      auto pages = take_pages(self, head.n, head.owner);
      head.promise.deliver(std::move(pages));
      st.waiting.pop_front();
    } else if (st.evicting) {
      return;
    } else if (progress && st.pages().cached_count() > 0) {
      kick_eviction(self);
      return;
    } else {
      head.promise.deliver(caf::make_error(engine_errc::no_capacity));
      st.waiting.pop_front();
    }
  }
}

void kick_eviction(pool_pointer self) {
  auto& st = self->state;
  if (st.evicting) return;
  auto shortfall = wanted_pages(self) - st.pages().free_count();
  if (shortfall <= 0) {
    serve_waiting(self, false);
    return;
  }
  st.evicting = true;
  self->request(st.trie, caf::infinite, evict_atom_v, shortfall)
      .then(
          [=](page_list& pages) {
            self->state.evicting = false;
            auto rc = self->state.pages().release_evicted(pages);
            if (rc != kv_errc::ok)
              throw invariant_error(std::string("page pool actor: trie evicted pages the pool does not know as "
                                                "cached: ") +
                                    to_string(rc));
            self->state.evicted += pages.size();
            serve_waiting(self, !pages.empty());
          },
          [=](caf::error&) {
            self->state.evicting = false;
            serve_waiting(self, false);
          });
}

// Everything `owner` holds goes back: private pages now, its queued allocations
// fail, its in-flight publishes are orphaned (their duplicates will be freed), and
// the trie drops its locks. The trie hears this after any publish the pool
// forwarded for the owner (pool→trie messages are FIFO), so no lock survives.
int32_t drop_owner(pool_pointer self, owner_id owner) {
  auto& st = self->state;
  auto released = st.pages().drop_owner(owner);
  for (auto w = st.waiting.begin(); w != st.waiting.end();) {
    if (w->owner == owner) {
      w->promise.deliver(caf::make_error(engine_errc::cancelled));
      w = st.waiting.erase(w);
    } else {
      ++w;
    }
  }
  return released;
}

void finish_publish(pool_pointer self, uint64_t ticket, const publish_reply* ok) {
  static const std::vector<page_id> none;
  self->state.pages().finish_publish(ticket, ok != nullptr, ok ? ok->pages : none, ok ? ok->duplicates : none);
  serve_waiting(self, false);
}

std::string check_state(pool_pointer self) {
  try {
    self->state.pages().check_invariants();
  } catch (const std::exception& e) {
    return e.what();
  }
  return {};
}

// Counters that must agree, O(1): kept separately (the free list's length, the
// private, publishing and cached counters), so their sum can be wrong.
std::string check_counters(pool_pointer self, const trie_view& trie) {
  auto c = self->state.pages().counts();
  if (c.free + c.private_pages + c.cached != c.total)
    return "page pool actor: free " + std::to_string(c.free) + " + private " + std::to_string(c.private_pages) +
           " + cached " + std::to_string(c.cached) + " != total " + std::to_string(c.total);
  if (c.cached != trie.cached_pages)
    return "page pool actor: " + std::to_string(c.cached) + " pages cached, the trie has " +
           std::to_string(trie.cached_pages);
  return {};
}

// The pool's half of the `cache` view around the trie's. `full`: the O(pages)
// walks ran (the trie's already, in `trie.problem`); else counters only. The page
// map is compared with the trie's either way ('!' where they disagree).
cache_view cache_view_of(pool_pointer self, trie_view trie, bool full) {
  auto& pages = self->state.pages();
  cache_view v;
  auto c = pages.counts();
  v.total = c.total;
  v.free = c.free;
  v.private_pages = c.private_pages;
  v.page_states = page_state_map(pages, trie.states);
  v.cached_locked = static_cast<int32_t>(std::count(v.page_states.begin(), v.page_states.end(), 'L'));
  v.cached_evictable = static_cast<int32_t>(std::count(v.page_states.begin(), v.page_states.end(), 'e'));
  v.full_check = full;
  v.problem = trie.problem;
  if (v.problem.empty() && full) v.problem = check_state(self);
  if (v.problem.empty()) v.problem = check_counters(self, trie);
  if (v.problem.empty()) v.problem = cross_check(pages, trie.states);
  v.invariants_ok = v.problem.empty();
  trie.states.clear();  // shown through page_states
  v.trie = std::move(trie);
  return v;
}

// `alloc`: n pages now, or a place in the waiting queue (and an eviction under way).
caf::result<page_list> answer_alloc(pool_pointer self, int32_t n) {
  auto& st = self->state;
  if (n < 0) return caf::make_error(engine_errc::bad_request, "alloc: negative page count");
  if (n > st.pages().total()) return caf::make_error(engine_errc::no_capacity);
#ifdef KVACTOR_FAULT_HOOKS
  switch (fault_hooks::on_allocation()) {
    case fault_hooks::alloc_fault::no_capacity: return caf::make_error(engine_errc::no_capacity);
    case fault_hooks::alloc_fault::failure:
      return caf::make_error(caf::sec::runtime_error, "injected page allocation failure");
    case fault_hooks::alloc_fault::none: break;
  }
#endif
  auto owner = sender_owner(self);
  if (st.waiting.empty() && n <= st.pages().free_count()) return take_pages(self, n, owner);
  auto promise = self->make_response_promise<page_list>();
  st.waiting.push_back({promise, n, owner});
  kick_eviction(self);
  return promise;
}

// The `cache` view: the trie's part first, then the pool's around it.
caf::result<cache_view> answer_cache(pool_pointer self, int32_t depth, int32_t max_nodes, bool full) {
  auto promise = self->make_response_promise<cache_view>();
  self->request(self->state.trie, caf::infinite, cache_atom_v, depth, max_nodes, full)
      .then([self, promise,
             full](trie_view& trie) mutable { promise.deliver(cache_view_of(self, std::move(trie), full)); },
            [promise](caf::error& err) mutable { promise.deliver(std::move(err)); });
  return promise;
}

// `check`: the pool's full walk, the trie's, then the page-by-page cross-check.
caf::result<invariant_check> answer_check(pool_pointer self) {
  auto local = check_state(self);
  if (!local.empty()) return invariant_check{false, local};
  auto promise = self->make_response_promise<invariant_check>();
  self->request(self->state.trie, caf::infinite, cache_atom_v, int32_t{0}, int32_t{0}, true)
      .then(
          [self, promise](trie_view& trie) mutable {
            auto problem = trie.problem.empty() ? cross_check(self->state.pages(), trie.states) : trie.problem;
            promise.deliver(invariant_check{problem.empty(), problem});
          },
          [promise](caf::error& err) mutable { promise.deliver(std::move(err)); });
  return promise;
}

pool_report report_of(pool_pointer self) {
  auto& st = self->state;
  auto c = st.pages().counts();
  return pool_report{
      {"page_pool", "page_pool", st.evicting ? "evicting" : "running", st.handled, self->mailbox().size()},
      pool_counts{c.total, c.free, c.private_pages, c.cached, c.publishing, c.owners,
                  static_cast<int32_t>(st.waiting.size())},
      st.evicted};
}

// Publishes the sender's pages: checked here, indexed by the trie, finished when the trie answers.
caf::result<publish_reply> answer_publish(pool_pointer self, publish_request& req) {
  auto& st = self->state;
  // Every page must be the sender's private page or already cached (a
  // canonical page it matched or published before).
  auto ticket = st.pages().begin_publish(known_owner(self), req.pages);
  if (ticket.status == kv_errc::unknown_page && (ticket.page < 0 || ticket.page >= st.pages().total()))
    return caf::make_error(engine_errc::not_owner, "publish: unknown page " + std::to_string(ticket.page));
  if (ticket.status != kv_errc::ok)
    return caf::make_error(engine_errc::not_owner,
                           "publish: page " + std::to_string(ticket.page) + " is not the sender's");
  // Read the sender before making the promise: the promise takes it over.
  auto sender = caf::actor_cast<caf::actor_addr>(self->current_sender());
  auto promise = self->make_response_promise<publish_reply>();
  auto id = ticket.id;
  self->request(st.trie, caf::infinite, publish_atom_v, sender, std::move(req))
      .then(
          [self, id, promise](publish_reply& reply) mutable {
            finish_publish(self, id, &reply);
            promise.deliver(std::move(reply));
          },
          [self, id, promise](caf::error& err) mutable {
            finish_publish(self, id, nullptr);
            promise.deliver(std::move(err));
          });
  return promise;
}

pool_actor::behavior_type page_pool_behavior(pool_pointer self, int32_t num_pages, trie_actor trie) {
  self->state.pages_ptr = std::make_unique<page_ownership>(num_pages);
  self->state.trie = trie;
  self->set_down_handler([self](caf::down_msg& msg) {
    auto it = self->state.owners.find(msg.source);
    if (it != self->state.owners.end()) {
      drop_owner(self, it->second);
      self->state.owners.erase(it);
    }
    self->request(self->state.trie, caf::infinite, drop_atom_v, msg.source).then([](int32_t) {}, [](caf::error&) {});
    serve_waiting(self, false);
  });
  return {
      [self](alloc_atom, int32_t n) -> caf::result<page_list> {
        ++self->state.handled;
        return answer_alloc(self, n);
      },
      [self](publish_atom, publish_request& req) -> caf::result<publish_reply> {
        ++self->state.handled;
        return answer_publish(self, req);
      },
      [self](drop_atom) -> caf::result<int32_t> {
        ++self->state.handled;
        auto released = drop_owner(self, known_owner(self));
        auto sender = caf::actor_cast<caf::actor_addr>(self->current_sender());  // before the promise takes it
        auto promise = self->make_response_promise<int32_t>();
        self->request(self->state.trie, caf::infinite, drop_atom_v, sender)
            .then([promise, released](int32_t) mutable { promise.deliver(released); },
                  [promise](caf::error& err) mutable { promise.deliver(std::move(err)); });
        serve_waiting(self, false);
        return promise;
      },
      [self](counts_atom) -> pool_counts {
        auto& st = self->state;
        ++st.handled;
        auto c = st.pages().counts();
        return pool_counts{c.total,
                           c.free,
                           c.private_pages,
                           c.cached,
                           c.publishing,
                           c.owners,
                           static_cast<int32_t>(st.waiting.size())};
      },
      [self](cache_atom, int32_t depth, int32_t max_nodes, bool full) -> caf::result<cache_view> {
        ++self->state.handled;
        return answer_cache(self, depth, max_nodes, full);
      },
      [self](check_atom) -> caf::result<invariant_check> {
        ++self->state.handled;
        return answer_check(self);
      },
      [self](inspect_atom) -> pool_report {
        ++self->state.handled;
        return report_of(self);
      },
  };
}

}  // namespace

pool_actor spawn_page_pool(caf::actor_system& sys, int32_t num_pages, trie_actor trie) {
  return sys.spawn(page_pool_behavior, num_pages, trie);
}

}  // namespace kvactor
