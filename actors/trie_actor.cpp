#include "actors/trie_actor.hpp"

#include <chrono>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>

#include "actors/actor_snapshot.hpp"
#include "kvcache/prefix_trie.hpp"

namespace kvactor {
namespace {

struct trie_state {
  static inline const char* name = "trie";
  std::unique_ptr<prefix_trie> trie;
  std::map<caf::actor_addr, std::set<uint64_t>> handles;  // owner -> live handles
  std::map<uint64_t, caf::actor_addr> owner_of;
  std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();
  uint64_t last_now = 0;
  uint64_t handled = 0;

  // Microseconds since start, strictly increasing: an LRU clock that also orders
  // operations within one microsecond.
  uint64_t now() {
    auto us = static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - start).count());
    last_now = us > last_now ? us : last_now + 1;
    return last_now;
  }
};

using trie_pointer = trie_actor::stateful_pointer<trie_state>;

void own(trie_pointer self, const caf::actor_addr& owner, uint64_t handle) {
  if (handle == 0)
    return;
  auto& st = self->state;
  auto it = st.handles.find(owner);
  if (it == st.handles.end()) {
    st.handles[owner].insert(handle);
    // If the owner is already dead, CAF sends the down message at once.
    self->monitor(owner);
  } else {
    it->second.insert(handle);
  }
  st.owner_of[handle] = owner;
}

void disown(trie_pointer self, uint64_t handle) {
  auto& st = self->state;
  auto it = st.owner_of.find(handle);
  if (it == st.owner_of.end())
    return;
  auto h = st.handles.find(it->second);
  if (h != st.handles.end()) {
    h->second.erase(handle);
    if (h->second.empty()) {
      self->demonitor(it->second);
      st.handles.erase(h);
    }
  }
  st.owner_of.erase(it);
}

int32_t drop_owner(trie_pointer self, const caf::actor_addr& owner) {
  auto& st = self->state;
  auto it = st.handles.find(owner);
  if (it == st.handles.end())
    return 0;
  int32_t n = 0;
  for (auto h : it->second) {
    if (st.trie->unlock(h) == kv_errc::ok)
      ++n;
    st.owner_of.erase(h);
  }
  self->demonitor(owner);
  st.handles.erase(it);
  return n;
}

std::string check_trie(trie_pointer self) {
  auto& st = self->state;
  try {
    st.trie->check_invariants();
  } catch (const std::exception& e) {
    return e.what();
  }
  if (static_cast<int32_t>(st.owner_of.size()) != st.trie->live_handles())
    return "trie actor: " + std::to_string(st.owner_of.size()) + " owned handles but the trie has " +
           std::to_string(st.trie->live_handles()) + " live";
  return {};
}

// Counters that must agree, O(1): what a console poll checks.
std::string check_trie_counters(trie_pointer self) {
  auto& st = self->state;
  if (st.trie->locked_pages() + st.trie->evictable_pages() != st.trie->cached_pages())
    return "trie actor: locked " + std::to_string(st.trie->locked_pages()) + " + evictable " +
           std::to_string(st.trie->evictable_pages()) + " != cached " + std::to_string(st.trie->cached_pages());
  if (static_cast<int32_t>(st.owner_of.size()) != st.trie->live_handles())
    return "trie actor: " + std::to_string(st.owner_of.size()) + " owned handles but the trie has " +
           std::to_string(st.trie->live_handles()) + " live";
  return {};
}

trie_view view_of(trie_pointer self, int32_t depth, int32_t max_nodes, bool full) {
  auto& st = self->state;
  auto snap = st.trie->snapshot(depth, max_nodes);
  auto now_us = st.now();
  trie_view v;
  v.page_size = st.trie->page_size();
  v.states = st.trie->cached_states();
  v.cached_pages = snap.cached_pages;
  v.locked_pages = snap.locked_pages;
  v.max_depth = snap.max_depth;
  v.hits = snap.hits;
  v.evictions = snap.evictions;
  v.policy = snap.policy;
  v.live_handles = snap.live_handles;
  v.problem = full ? check_trie(self) : check_trie_counters(self);
  v.with_tree = depth > 0 || max_nodes > 0;
  v.truncated = snap.truncated;
  if (v.with_tree) {
    v.nodes.reserve(snap.nodes.size());
    for (auto& n : snap.nodes)
      v.nodes.push_back(cache_tree_node{
          n.parent, n.page, n.token_count, n.first_tokens, n.lock_count, n.hit_count,
          n.page < 0 || now_us < n.last_access ? 0.0 : static_cast<double>(now_us - n.last_access) / 1000.0,
          n.pages_below, n.ns});
  }
  return v;
}

trie_actor::behavior_type trie_behavior(trie_pointer self, int32_t page_size, int32_t num_pages,
                                        std::string policy_name) {
  auto policy = make_eviction_policy(policy_name);
  if (!policy)
    throw std::invalid_argument("unknown eviction policy '" + policy_name + "' (lru | lfu)");
  self->state.trie = std::make_unique<prefix_trie>(page_size, num_pages, std::move(policy));
  self->set_down_handler([self](caf::down_msg& msg) { drop_owner(self, msg.source); });
  return {
      [self](match_atom, uint64_t ns, token_list& tokens) -> match_reply {
        auto& st = self->state;
        ++st.handled;
        auto r = st.trie->match(ns, tokens, st.now());
        own(self, caf::actor_cast<caf::actor_addr>(self->current_sender()), r.handle);
        return match_reply{std::move(r.pages), r.cached_tokens, r.handle};
      },
      [self](unlock_atom, uint64_t handle) -> caf::result<int32_t> {
        auto& st = self->state;
        ++st.handled;
        auto rc = st.trie->unlock(handle);
        if (rc != kv_errc::ok)
          return caf::make_error(engine_errc::bad_request, std::string("unlock: ") + to_string(rc));
        disown(self, handle);
        return 0;
      },
      [self](peek_atom, uint64_t ns, std::vector<token_list>& prompts) -> token_list {
        // A read-only match: a scheduling hint must not lock, touch LRU clocks or count hits.
        auto& st = self->state;
        ++st.handled;
        token_list out;
        out.reserve(prompts.size());
        for (auto& p : prompts)
          out.push_back(st.trie->cached_prefix_pages(ns, p) * st.trie->page_size());
        return out;
      },
      [self](publish_atom, caf::actor_addr owner, publish_request& req) -> caf::result<publish_reply> {
        auto& st = self->state;
        ++st.handled;
        if (req.handle != 0) {
          auto it = st.owner_of.find(req.handle);
          if (it == st.owner_of.end() || it->second != owner)
            return caf::make_error(engine_errc::publish_rejected, "publish: handle not held by the publisher");
        }
        auto r = st.trie->publish(req.ns, req.tokens, req.pages, req.handle, st.now());
        if (r.status != kv_errc::ok)
          return caf::make_error(engine_errc::publish_rejected, std::string("publish: ") + to_string(r.status));
        own(self, owner, r.handle);
        return publish_reply{std::move(r.pages), std::move(r.duplicates), r.handle, r.inserted};
      },
      [self](drop_atom, caf::actor_addr owner) -> int32_t {
        ++self->state.handled;
        return drop_owner(self, owner);
      },
      [self](evict_atom, int32_t n) -> page_list {
        ++self->state.handled;
        return self->state.trie->evict(n);
      },
      [self](counts_atom) -> trie_counts {
        auto& st = self->state;
        ++st.handled;
        return trie_counts{st.trie->cached_pages(),
                           st.trie->locked_pages(),
                           st.trie->live_handles(),
                           static_cast<int32_t>(st.handles.size()),
                           st.trie->hit_pages(),
                           st.trie->evicted_pages()};
      },
      [self](cache_atom, int32_t depth, int32_t max_nodes, bool full) -> trie_view {
        ++self->state.handled;
        return view_of(self, depth, max_nodes, full);
      },
      [self](check_atom) -> std::string {
        ++self->state.handled;
        return check_trie(self);
      },
      [self](inspect_atom) -> std::string {
        auto& st = self->state;
        ++st.handled;
        auto j = actor_snapshot("trie", "trie", "running", st.handled, self->mailbox().size());
        j["details"] = {{"nodes", st.trie->cached_pages()},
                        {"cached_pages", st.trie->cached_pages()},
                        {"locked_nodes", st.trie->locked_pages()},
                        {"live_handles", st.trie->live_handles()},
                        {"owners", st.handles.size()},
                        {"policy", st.trie->policy_name()}};
        return snapshot_text(j);
      },
  };
}

}  // namespace

trie_actor spawn_trie(caf::actor_system& sys, int32_t page_size, int32_t num_pages,
                      const std::string& eviction_policy) {
  return sys.spawn(trie_behavior, page_size, num_pages, eviction_policy);
}

}  // namespace kvactor
