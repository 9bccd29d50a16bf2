#include "actors/trie_actor.hpp"

#include <chrono>
#include <map>
#include <memory>
#include <set>
#include <unordered_map>

#include "kvcache/prefix_trie.hpp"

namespace kvactor {
namespace {

struct trie_state {
  static inline const char* name = "trie";
  std::unique_ptr<prefix_trie> trie;
  std::map<caf::actor_addr, std::set<uint64_t>> handles;  // owner -> live handles
  std::map<uint64_t, caf::actor_addr> owner_of;
  // Per-request cursors, so requests and the scheduler send only new tokens:
  std::unordered_map<uint64_t, token_list> path_tokens;   // handle -> tokens of its locked path
  std::unordered_map<uint64_t, token_list> peek_prompts;  // seq id -> waiting prompt (peek)
  uint64_t publish_tokens = 0;                            // tokens received in publish messages
  uint64_t peek_tokens = 0;                               // tokens received in peek messages
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
  if (handle == 0) return;
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
  if (it == st.owner_of.end()) return;
  auto h = st.handles.find(it->second);
  if (h != st.handles.end()) {
    h->second.erase(handle);
    if (h->second.empty()) {
      self->demonitor(it->second);
      st.handles.erase(h);
    }
  }
  st.owner_of.erase(it);
  st.path_tokens.erase(handle);
}

int32_t drop_owner(trie_pointer self, const caf::actor_addr& owner) {
  auto& st = self->state;
  auto it = st.handles.find(owner);
  if (it == st.handles.end()) return 0;
  int32_t n = 0;
  for (auto h : it->second) {
    if (st.trie->unlock(h) == kv_errc::ok) ++n;
    st.owner_of.erase(h);
    st.path_tokens.erase(h);
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
  for (auto& [handle, tokens] : st.path_tokens)
    if (st.trie->handle_pages(handle).size() * static_cast<std::size_t>(st.trie->page_size()) != tokens.size())
      return "trie actor: handle " + std::to_string(handle) + " keeps " + std::to_string(tokens.size()) +
             " path tokens, its path is " + std::to_string(st.trie->handle_pages(handle).size()) + " pages";
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

trie_counts counts_of(const trie_state& st) {
  return trie_counts{st.trie->cached_pages(),
                     st.trie->locked_pages(),
                     st.trie->live_handles(),
                     static_cast<int32_t>(st.handles.size()),
                     st.trie->hit_pages(),
                     st.trie->evicted_pages(),
                     static_cast<int32_t>(st.path_tokens.size()),
                     static_cast<int32_t>(st.peek_prompts.size()),
                     st.publish_tokens,
                     st.peek_tokens};
}

// A request's publish carries only its new pages: the path it already holds under
// `handle` comes from the cursor (its tokens) and the trie (its pages).
caf::result<publish_reply> publish_for(trie_pointer self, const caf::actor_addr& owner, publish_request& req) {
  auto& st = self->state;
  st.publish_tokens += req.tokens.size();
  token_list tokens;
  std::vector<page_id> pages;
  if (req.handle != 0) {
    auto it = st.owner_of.find(req.handle);
    if (it == st.owner_of.end() || it->second != owner)
      return caf::make_error(engine_errc::publish_rejected, "publish: handle not held by the publisher");
    auto& held = st.path_tokens[req.handle];
    pages = st.trie->handle_pages(req.handle);
    if (static_cast<std::size_t>(req.first_page) != pages.size() ||
        held.size() != pages.size() * static_cast<std::size_t>(st.trie->page_size()))
      return caf::make_error(engine_errc::publish_rejected, "publish: first_page " + std::to_string(req.first_page) +
                                                                " but the handle holds " +
                                                                std::to_string(pages.size()) + " pages");
    tokens = held;
  } else if (req.first_page != 0) {
    return caf::make_error(engine_errc::publish_rejected, "publish: first_page without a handle");
  }
  const auto known = pages.size();
  tokens.insert(tokens.end(), req.tokens.begin(), req.tokens.end());
  pages.insert(pages.end(), req.pages.begin(), req.pages.end());
  auto r = st.trie->publish(req.ns, tokens, pages, req.handle, st.now());
  if (r.status != kv_errc::ok)
    return caf::make_error(engine_errc::publish_rejected, std::string("publish: ") + to_string(r.status));
  own(self, owner, r.handle);
  if (r.handle != 0 && r.pages.size() >= known) {
    tokens.resize(r.pages.size() * static_cast<std::size_t>(st.trie->page_size()));
    st.path_tokens[r.handle] = std::move(tokens);
  }
  std::vector<page_id> fresh(r.pages.begin() + static_cast<std::ptrdiff_t>(std::min(known, r.pages.size())),
                             r.pages.end());
  return publish_reply{std::move(fresh), std::move(r.duplicates), r.handle, r.inserted};
}

// The scheduler's hints: each waiting prompt arrives once (then only its new tokens).
token_list peek_for(trie_pointer self, uint64_t ns, std::vector<peek_entry>& entries) {
  auto& st = self->state;
  token_list out;
  out.reserve(entries.size());
  for (auto& e : entries) {
    st.peek_tokens += e.tokens.size();
    auto& prompt = st.peek_prompts[e.seq_id];
    if (e.from == 0) {
      prompt = std::move(e.tokens);
    } else if (static_cast<std::size_t>(e.from) == prompt.size()) {
      prompt.insert(prompt.end(), e.tokens.begin(), e.tokens.end());
    } else {
      st.peek_prompts.erase(e.seq_id);
      out.push_back(-1);
      continue;
    }
    out.push_back(st.trie->cached_prefix_pages(ns, prompt) * st.trie->page_size());
  }
  return out;
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
  if (!policy) throw std::invalid_argument("unknown eviction policy '" + policy_name + "' (lru | lfu)");
  self->state.trie = std::make_unique<prefix_trie>(page_size, num_pages, std::move(policy));
  self->set_down_handler([self](caf::down_msg& msg) { drop_owner(self, msg.source); });
  return {
      [self](match_atom, uint64_t ns, token_list& tokens) -> match_reply {
        auto& st = self->state;
        ++st.handled;
        auto r = st.trie->match(ns, tokens, st.now());
        own(self, caf::actor_cast<caf::actor_addr>(self->current_sender()), r.handle);
        if (r.handle != 0) {
          tokens.resize(r.pages.size() * static_cast<std::size_t>(st.trie->page_size()));
          st.path_tokens[r.handle] = std::move(tokens);
        }
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
      [self](peek_atom, uint64_t ns, std::vector<peek_entry>& entries) -> token_list {
        // A read-only match: a scheduling hint must not lock, touch LRU clocks or count hits.
        ++self->state.handled;
        return peek_for(self, ns, entries);
      },
      [self](forget_atom, uint64_t seq_id) {
        ++self->state.handled;
        self->state.peek_prompts.erase(seq_id);
      },
      [self](publish_atom, caf::actor_addr owner, publish_request& req) -> caf::result<publish_reply> {
        ++self->state.handled;
        return publish_for(self, owner, req);
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
        ++self->state.handled;
        return counts_of(self->state);
      },
      [self](cache_atom, int32_t depth, int32_t max_nodes, bool full) -> trie_view {
        ++self->state.handled;
        return view_of(self, depth, max_nodes, full);
      },
      [self](check_atom) -> invariant_check {
        ++self->state.handled;
        auto problem = check_trie(self);
        return invariant_check{problem.empty(), problem};
      },
      [self](inspect_atom) -> trie_report {
        auto& st = self->state;
        ++st.handled;
        return trie_report{
            {"trie", "trie", "running", st.handled, self->mailbox().size()}, counts_of(st), st.trie->policy_name()};
      },
  };
}

}  // namespace

trie_actor spawn_trie(caf::actor_system& sys, int32_t page_size, int32_t num_pages,
                      const std::string& eviction_policy) {
  return sys.spawn(trie_behavior, page_size, num_pages, eviction_policy);
}

}  // namespace kvactor
