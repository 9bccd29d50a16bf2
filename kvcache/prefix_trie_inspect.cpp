// prefix_trie: read-only views (states, snapshots) and check_invariants(), which
// recounts everything from scratch and compares it with the incremental state.

#include <algorithm>
#include <cstring>
#include <string>

#include "kvcache/prefix_trie.hpp"
#include "kvcache/prefix_trie_node.hpp"

namespace kvactor {

namespace {
[[noreturn]] void broken(const std::string& what) { throw invariant_error("prefix_trie: " + what); }
std::string node_name(int32_t index) { return "node " + std::to_string(index); }
}  // namespace

std::vector<uint8_t> prefix_trie::cached_states() const {
  std::vector<uint8_t> states(static_cast<size_t>(num_pages_));
  for (int32_t page = 0; page < num_pages_; ++page) states[page] = static_cast<uint8_t>(state_of(page));
  return states;
}

std::vector<page_id> prefix_trie::handle_pages(uint64_t handle) const {
  std::vector<page_id> path;
  if (handle_node(handle) < 0) return path;
  for (const int32_t n : handles_[static_cast<uint32_t>(handle)].path) path.push_back(nodes_[n].page);
  return path;
}

trie_snapshot prefix_trie::snapshot(int32_t max_depth, int32_t max_nodes) const {
  trie_snapshot view;
  view.page_size = page_size_;
  view.policy = policy_->name();
  view.cached_pages = cached_pages_;
  view.locked_pages = locked_pages_;
  view.evictable_pages = evictable_pages();
  view.live_handles = live_handles_;
  view.hits = hit_pages_;
  view.evictions = evicted_pages_;

  // pages_below for every node: bucket nodes by depth, then fold deepest first.
  std::vector<int32_t> below(nodes_.size(), 0);
  std::vector<std::vector<int32_t>> by_depth;
  for (size_t i = 0; i < nodes_.size(); ++i) {
    if (!nodes_[i].live || nodes_[i].is_root()) continue;
    const auto depth = static_cast<size_t>(nodes_[i].depth);
    if (by_depth.size() <= depth) by_depth.resize(depth + 1);
    by_depth[depth].push_back(static_cast<int32_t>(i));
  }
  view.max_depth = by_depth.empty() ? 0 : static_cast<int32_t>(by_depth.size()) - 1;
  for (size_t depth = by_depth.size(); depth-- > 0;)
    for (const int32_t n : by_depth[depth]) below[nodes_[n].parent] += below[n] + 1;

  // BFS from the roots, in namespace order so the output is deterministic.
  std::vector<std::pair<uint64_t, int32_t>> roots(roots_.begin(), roots_.end());
  std::sort(roots.begin(), roots.end());
  struct queued {
    int32_t slot;
    int32_t parent_entry;  // index in view.nodes
    uint64_t ns;
  };
  std::vector<queued> queue;
  for (const auto& root : roots) queue.push_back({root.second, -1, root.first});
  for (size_t head = 0; head < queue.size(); ++head) {
    const auto [index, parent_entry, ns] = queue[head];
    const node& entry = nodes_[index];
    if (entry.depth > max_depth || static_cast<int32_t>(view.nodes.size()) >= max_nodes) {
      view.truncated = true;
      continue;
    }
    trie_snapshot_node out;
    out.parent = parent_entry;
    out.ns = ns;
    out.page = entry.page;
    out.depth = entry.depth;
    out.token_count = entry.is_root() ? 0 : page_size_;
    if (!entry.is_root()) {
      const int32_t shown = std::min(page_size_, 8);
      const int32_t* first = tokens_of(index);
      out.first_tokens.assign(first, first + shown);
    }
    out.lock_count = entry.lock_count;
    out.hit_count = entry.hit_count;
    out.last_access = entry.last_access;
    out.pages_below = below[index];
    const int32_t self = static_cast<int32_t>(view.nodes.size());
    view.nodes.push_back(std::move(out));
    for (int32_t child = entry.first_child; child >= 0; child = nodes_[child].next_sibling)
      queue.push_back({child, self, ns});
  }
  return view;
}

void prefix_trie::check_invariants() const {
  const size_t slots = nodes_.size();
  if (tokens_.size() != slots * lines_per_slot_) broken("token storage does not match node slots");
  if (root_ns_.size() != roots_.size()) broken("namespace maps disagree in size");

  // Free slot stack: every slot on it is dead and there once.
  std::vector<uint8_t> on_free_list(slots, 0);
  const size_t free_slots = free_slots_.size();
  for (const int32_t n : free_slots_) {
    if (n < 0 || static_cast<size_t>(n) >= slots)
      broken("free slot stack holds out-of-range slot " + std::to_string(n));
    if (on_free_list[n]) broken("free slot stack holds slot " + std::to_string(n) + " twice");
    if (nodes_[n].live) broken("live " + node_name(n) + " is on the free slot stack");
    on_free_list[n] = 1;
  }

  // Roots.
  for (const auto& [ns, root] : roots_) {
    if (root < 0 || static_cast<size_t>(root) >= slots || !nodes_[root].live || !nodes_[root].is_root())
      broken("namespace " + std::to_string(ns) + " maps to a slot that is not a live root");
    const node& entry = nodes_[root];
    const auto back = root_ns_.find(root);
    if (back == root_ns_.end() || back->second != ns)
      broken("root of namespace " + std::to_string(ns) + " maps back to another namespace");
    if (entry.page != -1 || entry.depth != 0 || entry.lock_count != 0 || entry.heap_pos >= 0)
      broken("root of namespace " + std::to_string(ns) + " has page/depth/lock/heap state");
  }

  // Every live node: links, depth, page, tokens, hash, reachability.
  int32_t live_nodes = 0;
  int32_t live_roots = 0;
  int32_t locked = 0;
  std::vector<int32_t> expected_page_node(static_cast<size_t>(num_pages_), -1);
  for (size_t i = 0; i < slots; ++i) {
    const node& entry = nodes_[i];
    const auto index = static_cast<int32_t>(i);
    if (!entry.live) {
      if (!on_free_list[i]) broken("dead slot " + std::to_string(i) + " is not on the free slot list (leaked)");
      continue;
    }
    // Children list: back links, parent pointers, count, depth.
    int32_t children = 0;
    int32_t previous = -1;
    for (int32_t child = entry.first_child; child >= 0; child = nodes_[child].next_sibling) {
      if (static_cast<size_t>(child) >= slots || !nodes_[child].live)
        broken(node_name(index) + " links to a dead or out-of-range child");
      if (nodes_[child].parent != index)
        broken(node_name(child) + " is in the child list of " + node_name(index) + " but names another parent");
      if (nodes_[child].prev_sibling != previous) broken(node_name(child) + " has a wrong prev_sibling link");
      if (nodes_[child].depth != entry.depth + 1) broken(node_name(child) + " has depth inconsistent with its parent");
      previous = child;
      if (++children > entry.child_count) broken(node_name(index) + " has more children than child_count (or a cycle)");
    }
    if (children != entry.child_count) broken(node_name(index) + " child_count disagrees with its child list");
    if (entry.is_root()) {
      ++live_roots;
      const auto registered = root_ns_.find(index);
      if (registered == root_ns_.end() || root_of(registered->second) != index)
        broken("live root " + node_name(index) + " is not registered for its namespace");
      continue;
    }
    ++live_nodes;
    if (entry.lock_count < 0) broken(node_name(index) + " has a negative lock count");
    if (entry.lock_count > 0) ++locked;
    if (static_cast<size_t>(entry.parent) >= slots || !nodes_[entry.parent].live)
      broken(node_name(index) + " has a dead or out-of-range parent");
    const node& parent_node = nodes_[entry.parent];
    if (entry.lock_count > parent_node.lock_count && !parent_node.is_root())
      broken(node_name(index) + " is locked more often than its parent");
    // Walk to the root: catches cycles and nodes hanging off unregistered trees.
    int32_t up = entry.parent;
    for (int32_t steps = 0; !nodes_[up].is_root(); ++steps) {
      if (steps > entry.depth) broken(node_name(index) + " does not reach a root");
      up = nodes_[up].parent;
    }
    if (nodes_[up].depth != 0 || root_ns_.count(up) == 0) broken(node_name(index) + " hangs off an unregistered root");
    if (entry.page < 0 || entry.page >= num_pages_)
      broken(node_name(index) + " holds out-of-range page " + std::to_string(entry.page));
    if (expected_page_node[entry.page] >= 0)
      broken("page " + std::to_string(entry.page) + " is held by " + node_name(expected_page_node[entry.page]) +
             " and " + node_name(index));
    expected_page_node[entry.page] = index;
    const int32_t* tokens = tokens_of(index);
    if (entry.first_token != tokens[0]) broken(node_name(index) + " first_token is stale");
    // An indexed parent's edge index finds exactly this node; either way a lookup
    // from the parent does (so no sibling has the same tokens).
    if (parent_node.children_indexed) {
      const uint64_t key = edge_key(entry.parent, slot_hash(index));
      const int32_t found = edges_->find(key, [&](int32_t candidate) { return candidate == index; });
      if (found != index) broken(node_name(index) + " is missing from the edge index");
    }
    if (find_child(entry.parent, tokens) != index)
      broken(node_name(index) + " is not what a lookup from its parent finds (duplicate sibling?)");
  }
  if (free_slots + static_cast<size_t>(live_nodes + live_roots) != slots) broken("slot count mismatch");
  if (static_cast<size_t>(live_roots) != roots_.size()) broken("unregistered live root");
  if (live_nodes != cached_pages_)
    broken("cached_pages counter " + std::to_string(cached_pages_) + " but " + std::to_string(live_nodes) + " nodes");
  if (locked != locked_pages_)
    broken("locked_pages counter " + std::to_string(locked_pages_) + " but " + std::to_string(locked) +
           " locked nodes");
  size_t indexed_edges = 0;
  for (size_t i = 0; i < slots; ++i) {
    if (!nodes_[i].live) continue;
    if (nodes_[i].children_indexed) indexed_edges += static_cast<size_t>(nodes_[i].child_count);
    if (nodes_[i].children_indexed && nodes_[i].child_count == 0)
      broken(node_name(static_cast<int32_t>(i)) + " indexed without children");
    if (!nodes_[i].children_indexed && nodes_[i].child_count > sibling_scan_limit)
      broken(node_name(static_cast<int32_t>(i)) + " has a wide fan-out but no edge index");
  }
  if (edges_->size() != indexed_edges) broken("edge index size differs from the indexed children");
  for (const auto& slot : edges_->slots())
    if (slot.node >= 0 && (static_cast<size_t>(slot.node) >= slots || !nodes_[slot.node].live ||
                           nodes_[slot.node].is_root() || !nodes_[nodes_[slot.node].parent].children_indexed))
      broken("edge index points at a dead slot or a child of an unindexed node");
  if (page_node_ != expected_page_node) broken("page -> node map disagrees with the nodes");

  // Lock counts == live handles whose path contains the node.
  std::vector<int32_t> expected_locks(slots, 0);
  int32_t handles_live = 0;
  for (size_t s = 0; s < handles_.size(); ++s) {
    const handle_slot& slot = handles_[s];
    if (slot.generation == 0) broken("handle slot " + std::to_string(s) + " has generation 0");
    if (slot.node < 0) continue;
    ++handles_live;
    if (static_cast<size_t>(slot.node) >= slots || !nodes_[slot.node].live || nodes_[slot.node].is_root())
      broken("handle slot " + std::to_string(s) + " points at a dead node or a root");
    // The stored path is exactly the chain from the root down to slot.node.
    size_t depth = static_cast<size_t>(nodes_[slot.node].depth);
    if (slot.path.size() != depth || slot.path.back() != slot.node)
      broken("handle slot " + std::to_string(s) + " path does not end at its node");
    for (int32_t n = slot.node; !nodes_[n].is_root(); n = nodes_[n].parent) {
      if (slot.path[--depth] != n)
        broken("handle slot " + std::to_string(s) + " path is not the node's chain to the root");
      ++expected_locks[n];
    }
  }
  if (handles_live != live_handles_) broken("live_handles counter disagrees with the handle slots");
  int32_t free_handles = 0;
  for (int32_t s = free_handle_; s >= 0; s = handles_[s].next_free) {
    if (handles_[s].node >= 0 || !handles_[s].path.empty()) broken("live handle slot on the free handle list");
    if (++free_handles > static_cast<int32_t>(handles_.size())) broken("free handle list has a cycle");
  }
  if (free_handles + handles_live != static_cast<int32_t>(handles_.size())) broken("a handle slot leaked");
  for (size_t i = 0; i < slots; ++i)
    if (nodes_[i].live && nodes_[i].lock_count != expected_locks[i])
      broken(node_name(static_cast<int32_t>(i)) + " lock_count " + std::to_string(nodes_[i].lock_count) + " but " +
             std::to_string(expected_locks[i]) + " live handles cover it");

  // Evictable heap == unlocked leaves, with their keys, in heap order.
  int32_t unlocked_leaves = 0;
  for (size_t i = 0; i < slots; ++i) {
    const node& entry = nodes_[i];
    const bool should = entry.live && !entry.is_root() && entry.lock_count == 0 && entry.child_count == 0;
    if (should) ++unlocked_leaves;
    if (should != (entry.heap_pos >= 0))
      broken(node_name(static_cast<int32_t>(i)) + (should ? " is an unlocked leaf missing from" : " is wrongly in") +
             " the evictable set");
  }
  if (unlocked_leaves != static_cast<int32_t>(heap_.size())) broken("evictable heap size differs from unlocked leaves");
  for (size_t pos = 0; pos < heap_.size(); ++pos) {
    const heap_entry& item = heap_[pos];
    const int32_t n = item.node;
    if (n < 0 || static_cast<size_t>(n) >= slots || !nodes_[n].live) broken("evictable heap holds a dead slot");
    if (nodes_[n].heap_pos != static_cast<int32_t>(pos)) broken("heap position of " + node_name(n) + " is stale");
    if (pos > 0 && heap_less(item, heap_[(pos - 1) / 2])) broken("evictable heap order violated at " + node_name(n));
    const node& entry = nodes_[n];
    const eviction_key key = policy_->key(node_usage{entry.last_access, entry.hit_count, entry.depth});
    if (key.primary != item.key.primary || key.secondary != item.key.secondary || item.page != entry.page)
      broken(node_name(n) + " eviction key is stale");
  }
}

}  // namespace kvactor
