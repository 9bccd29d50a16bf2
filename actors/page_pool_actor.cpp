#include "actors/page_pool_actor.hpp"

#include <deque>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>

#include "actors/actor_snapshot.hpp"
#include "kvcache/page_pool.hpp"
#ifdef KVACTOR_FAULT_HOOKS
#include "actors/fault_hooks.hpp"  // tests/faults only; see that header
#endif

namespace kvactor {
namespace {

enum class page_kind : uint8_t { free = 0, owned = 1, publishing = 2, cached = 3 };

struct waiting_alloc {
  caf::typed_response_promise<page_list> promise;
  int32_t n = 0;
  caf::actor_addr owner;
};

struct pending_publish {
  caf::actor_addr owner;
  std::vector<page_id> pages;  // the owner's private pages handed to the trie
  bool orphaned = false;       // the owner dropped or died meanwhile: duplicates go free
};

struct pool_state {
  static inline const char* name = "page_pool";
  std::unique_ptr<page_pool> pool_ptr;  // set when the actor starts (states are default-constructed)
  page_pool& pool_ref() { return *pool_ptr; }
  trie_actor trie;
  std::vector<page_kind> kind;                             // [page]
  std::map<caf::actor_addr, std::set<page_id>> owned;     // owner -> private pages (publishing included)
  std::set<caf::actor_addr> monitored;
  std::deque<waiting_alloc> waiting;                       // served in arrival order
  std::map<uint64_t, pending_publish> publishing;
  uint64_t next_publish = 1;
  bool evicting = false;
  int32_t count_owned = 0;       // kind == owned
  int32_t count_publishing = 0;  // kind == publishing
  int32_t count_cached = 0;      // kind == cached
  uint64_t handled = 0;
  uint64_t evicted = 0;

  void set_kind(page_id p, page_kind k) {
    auto& cur = kind[static_cast<std::size_t>(p)];
    counter(cur) -= 1;
    cur = k;
    counter(cur) += 1;
  }
  int32_t& counter(page_kind k) {
    switch (k) {
      case page_kind::owned: return count_owned;
      case page_kind::publishing: return count_publishing;
      case page_kind::cached: return count_cached;
      case page_kind::free: break;
    }
    return count_free_unused;  // free pages are counted by page_pool itself
  }
  int32_t count_free_unused = 0;
};

using pool_pointer = pool_actor::stateful_pointer<pool_state>;

caf::actor_addr sender_of(pool_pointer self) {
  return caf::actor_cast<caf::actor_addr>(self->current_sender());
}

void watch(pool_pointer self, const caf::actor_addr& owner) {
  if (owner && self->state.monitored.insert(owner).second)
    self->monitor(owner);
}

// Frees pages the pool considers held by nobody any more.
void free_pages(pool_pointer self, const std::vector<page_id>& pages) {
  if (pages.empty())
    return;
  for (auto p : pages)
    self->state.set_kind(p, page_kind::free);
  auto rc = self->state.pool_ref().release(pages);
  if (rc != kv_errc::ok)
    throw invariant_error(std::string("page pool actor: release rejected: ") + to_string(rc));
}

page_list take_pages(pool_pointer self, int32_t n, const caf::actor_addr& owner) {
  page_list out;
  auto rc = self->state.pool_ref().allocate(n, out);
  if (rc != kv_errc::ok)
    throw invariant_error("page pool actor: allocate failed although enough pages were free");
  auto& mine = self->state.owned[owner];
  for (auto p : out) {
    self->state.set_kind(p, page_kind::owned);
    mine.insert(p);
  }
  return out;
}

int32_t wanted_pages(pool_pointer self) {
  int32_t want = 0;
  for (auto& w : self->state.waiting)
    want += w.n;
  return want;
}

void kick_eviction(pool_pointer self);

// Serves waiting allocations in order. `progress`: the last eviction freed pages,
// so a short head may still be served by evicting more.
void serve_waiting(pool_pointer self, bool progress) {
  auto& st = self->state;
  while (!st.waiting.empty()) {
    auto& head = st.waiting.front();
    if (head.n <= st.pool_ref().free_count()) {
      auto pages = take_pages(self, head.n, head.owner);
      head.promise.deliver(std::move(pages));
      st.waiting.pop_front();
    } else if (progress && st.count_cached > 0) {
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
  if (st.evicting)
    return;
  auto shortfall = wanted_pages(self) - st.pool_ref().free_count();
  if (shortfall <= 0) {
    serve_waiting(self, false);
    return;
  }
  st.evicting = true;
  self->request(st.trie, caf::infinite, evict_atom_v, shortfall)
      .then(
          [=](page_list& pages) {
            self->state.evicting = false;
            for (auto p : pages)
              if (self->state.kind[static_cast<std::size_t>(p)] != page_kind::cached)
                throw invariant_error("page pool actor: trie evicted page " + std::to_string(p) +
                                      " that the pool does not know as cached");
            self->state.evicted += pages.size();
            free_pages(self, pages);
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
void drop_owner(pool_pointer self, const caf::actor_addr& owner, int32_t& released) {
  auto& st = self->state;
  released = 0;
  auto it = st.owned.find(owner);
  if (it != st.owned.end()) {
    std::vector<page_id> to_free;
    for (auto p : it->second)
      if (st.kind[static_cast<std::size_t>(p)] == page_kind::owned)
        to_free.push_back(p);
    released = static_cast<int32_t>(to_free.size());
    free_pages(self, to_free);
    for (auto p : to_free)
      it->second.erase(p);
    if (it->second.empty())
      st.owned.erase(it);
  }
  for (auto w = st.waiting.begin(); w != st.waiting.end();) {
    if (w->owner == owner) {
      w->promise.deliver(caf::make_error(engine_errc::cancelled));
      w = st.waiting.erase(w);
    } else {
      ++w;
    }
  }
  for (auto& [id, pending] : st.publishing)
    if (pending.owner == owner)
      pending.orphaned = true;
}

void finish_publish(pool_pointer self, uint64_t id, const publish_reply* ok) {
  auto& st = self->state;
  auto it = st.publishing.find(id);
  if (it == st.publishing.end())
    return;
  auto pending = std::move(it->second);
  st.publishing.erase(it);
  std::set<page_id> duplicates;
  if (ok != nullptr)
    duplicates.insert(ok->duplicates.begin(), ok->duplicates.end());
  std::vector<page_id> to_free;
  auto owned_it = st.owned.find(pending.owner);
  for (auto p : pending.pages) {
    bool leaves_owner = true;
    if (ok != nullptr && duplicates.count(p) == 0) {
      st.set_kind(p, page_kind::cached);
    } else if (ok != nullptr || pending.orphaned) {
      to_free.push_back(p);  // duplicate, or rejected for an owner that is gone
    } else {
      st.set_kind(p, page_kind::owned);  // rejected: still the live owner's
      leaves_owner = false;
    }
    if (leaves_owner && owned_it != st.owned.end())
      owned_it->second.erase(p);
  }
  if (owned_it != st.owned.end() && owned_it->second.empty())
    st.owned.erase(owned_it);
  free_pages(self, to_free);
  serve_waiting(self, false);
}

std::string check_state(pool_pointer self) {
  auto& st = self->state;
  try {
    st.pool_ref().check_invariants();
  } catch (const std::exception& e) {
    return e.what();
  }
  int32_t counts[4] = {0, 0, 0, 0};
  for (std::size_t p = 0; p < st.kind.size(); ++p) {
    auto k = st.kind[p];
    counts[static_cast<int>(k)]++;
    if ((k == page_kind::free) == st.pool_ref().is_allocated(static_cast<page_id>(p)))
      return "page " + std::to_string(p) + ": pool actor state disagrees with the free list";
  }
  if (counts[1] != st.count_owned || counts[2] != st.count_publishing || counts[3] != st.count_cached)
    return "page pool actor: incremental counters disagree with a recount";
  std::size_t in_sets = 0;
  for (auto& [owner, pages] : st.owned) {
    in_sets += pages.size();
    for (auto p : pages) {
      auto k = st.kind[static_cast<std::size_t>(p)];
      if (k != page_kind::owned && k != page_kind::publishing)
        return "page " + std::to_string(p) + " listed as private but not private";
    }
  }
  if (in_sets != static_cast<std::size_t>(st.count_owned + st.count_publishing))
    return "private pages missing an owner";
  return {};
}

pool_actor::behavior_type page_pool_behavior(pool_pointer self, int32_t num_pages, trie_actor trie) {
  self->state.pool_ptr = std::make_unique<page_pool>(num_pages);
  self->state.kind.assign(static_cast<std::size_t>(num_pages), page_kind::free);
  self->state.trie = trie;
  self->set_down_handler([self](caf::down_msg& msg) {
    int32_t released = 0;
    drop_owner(self, msg.source, released);
    self->state.monitored.erase(msg.source);
    self->request(self->state.trie, caf::infinite, drop_atom_v, msg.source)
        .then([](int32_t) {}, [](caf::error&) {});
    serve_waiting(self, false);
  });
  return {
      [self](alloc_atom, int32_t n) -> caf::result<page_list> {
        auto& st = self->state;
        ++st.handled;
        if (n < 0)
          return caf::make_error(engine_errc::bad_request, "alloc: negative page count");
        if (n > st.pool_ref().total())
          return caf::make_error(engine_errc::no_capacity);
#ifdef KVACTOR_FAULT_HOOKS
        switch (fault_hooks::on_allocation()) {
          case fault_hooks::alloc_fault::no_capacity: return caf::make_error(engine_errc::no_capacity);
          case fault_hooks::alloc_fault::failure:
            return caf::make_error(caf::sec::runtime_error, "injected page allocation failure");
          case fault_hooks::alloc_fault::none: break;
        }
#endif
        auto owner = sender_of(self);
        watch(self, owner);
        if (st.waiting.empty() && n <= st.pool_ref().free_count())
          return take_pages(self, n, owner);
        auto promise = self->make_response_promise<page_list>();
        st.waiting.push_back({promise, n, owner});
        kick_eviction(self);
        return promise;
      },
      [self](publish_atom, publish_request& req) -> caf::result<publish_reply> {
        auto& st = self->state;
        ++st.handled;
        auto owner = sender_of(self);
        auto it = st.owned.find(owner);
        // Every page must be the sender's private page or already cached (a
        // canonical page it matched or published before).
        std::vector<page_id> mine;
        for (auto p : req.pages) {
          if (p < 0 || p >= st.pool_ref().total())
            return caf::make_error(engine_errc::not_owner, "publish: unknown page " + std::to_string(p));
          auto k = st.kind[static_cast<std::size_t>(p)];
          if (k == page_kind::cached)
            continue;
          if (k != page_kind::owned || it == st.owned.end() || it->second.count(p) == 0)
            return caf::make_error(engine_errc::not_owner,
                                   "publish: page " + std::to_string(p) + " is not the sender's");
          mine.push_back(p);
        }
        auto id = st.next_publish++;
        for (auto p : mine)
          st.set_kind(p, page_kind::publishing);
        st.publishing[id] = pending_publish{owner, mine, false};
        auto promise = self->make_response_promise<publish_reply>();
        self->request(st.trie, caf::infinite, publish_atom_v, owner, std::move(req))
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
      },
      [self](drop_atom) -> caf::result<int32_t> {
        ++self->state.handled;
        auto owner = sender_of(self);
        int32_t released = 0;
        drop_owner(self, owner, released);
        auto promise = self->make_response_promise<int32_t>();
        self->request(self->state.trie, caf::infinite, drop_atom_v, owner)
            .then([promise, released](int32_t) mutable { promise.deliver(released); },
                  [promise](caf::error& err) mutable { promise.deliver(std::move(err)); });
        serve_waiting(self, false);
        return promise;
      },
      [self](counts_atom) -> pool_counts {
        auto& st = self->state;
        ++st.handled;
        return pool_counts{st.pool_ref().total(),         st.pool_ref().free_count(),
                           st.count_owned + st.count_publishing, st.count_cached,
                           st.count_publishing,      static_cast<int32_t>(st.owned.size()),
                           static_cast<int32_t>(st.waiting.size())};
      },
      [self](cache_atom, int32_t depth, int32_t max_nodes) -> caf::result<std::string> {
        ++self->state.handled;
        auto promise = self->make_response_promise<std::string>();
        self->request(self->state.trie, caf::infinite, cache_atom_v, depth, max_nodes)
            .then(
                [self, promise](std::string& trie_json) mutable {
                  auto& st = self->state;
                  auto t = nlohmann::json::parse(trie_json);
                  auto states = t["states"].get<std::string>();
                  std::string map(st.kind.size(), 'f');
                  int32_t locked = 0, evictable = 0;
                  bool ok = states.size() == st.kind.size();
                  for (std::size_t p = 0; p < st.kind.size(); ++p) {
                    char ts = p < states.size() ? states[p] : '.';
                    switch (st.kind[p]) {
                      case page_kind::free: map[p] = ts == '.' ? 'f' : '!'; break;
                      case page_kind::owned:
                      case page_kind::publishing: map[p] = ts == '.' ? 'p' : '!'; break;
                      case page_kind::cached: map[p] = ts == '.' ? '!' : ts; break;
                    }
                    if (map[p] == '!')
                      ok = false;
                    locked += map[p] == 'L';
                    evictable += map[p] == 'e';
                  }
                  auto problem = check_state(self);
                  nlohmann::json out;
                  out["page_size"] = t["page_size"];
                  out["pages"] = {{"total", st.pool_ref().total()},
                                  {"free", st.pool_ref().free_count()},
                                  {"private", st.count_owned + st.count_publishing},
                                  {"cached_locked", locked},
                                  {"cached_evictable", evictable}};
                  out["page_states"] = map;
                  out["trie"] = t["trie"];
                  out["invariants_ok"] = ok && problem.empty() && t["trie_ok"].get<bool>();
                  out["tree"] = t["tree"];
                  promise.deliver(snapshot_text(out));
                },
                [promise](caf::error& err) mutable { promise.deliver(std::move(err)); });
        return promise;
      },
      [self](check_atom) -> caf::result<std::string> {
        ++self->state.handled;
        auto local = check_state(self);
        if (!local.empty())
          return local;
        auto promise = self->make_response_promise<std::string>();
        self->request(self->state.trie, caf::infinite, cache_atom_v, 0, 0)
            .then(
                [self, promise](std::string& trie_json) mutable {
                  auto t = nlohmann::json::parse(trie_json);
                  if (!t["trie_ok"].get<bool>()) {
                    promise.deliver(t["trie_problem"].get<std::string>());
                    return;
                  }
                  auto states = t["states"].get<std::string>();
                  auto& st = self->state;
                  if (states.size() != st.kind.size()) {
                    promise.deliver(std::string("trie and pool disagree on the page count"));
                    return;
                  }
                  for (std::size_t p = 0; p < states.size(); ++p) {
                    bool cached_in_pool = st.kind[p] == page_kind::cached;
                    if (cached_in_pool != (states[p] != '.')) {
                      promise.deliver("page " + std::to_string(p) + ": pool says " +
                                      (cached_in_pool ? "cached" : "not cached") + ", trie disagrees");
                      return;
                    }
                  }
                  promise.deliver(std::string());
                },
                [promise](caf::error& err) mutable { promise.deliver(std::move(err)); });
        return promise;
      },
      [self](inspect_atom) -> std::string {
        auto& st = self->state;
        ++st.handled;
        auto j = actor_snapshot("page_pool", "page_pool", st.evicting ? "evicting" : "running", st.handled,
                                self->mailbox().size());
        j["details"] = {{"total", st.pool_ref().total()},
                        {"free", st.pool_ref().free_count()},
                        {"allocated", st.pool_ref().allocated_count()},
                        {"private", st.count_owned + st.count_publishing},
                        {"publishing", st.count_publishing},
                        {"cached", st.count_cached},
                        {"owners", st.owned.size()},
                        {"waiting_allocs", st.waiting.size()},
                        {"evicted_pages", st.evicted}};
        return snapshot_text(j);
      },
  };
}

}  // namespace

pool_actor spawn_page_pool(caf::actor_system& sys, int32_t num_pages, trie_actor trie) {
  return sys.spawn(page_pool_behavior, num_pages, trie);
}

}  // namespace kvactor
