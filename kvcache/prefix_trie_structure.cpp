// prefix_trie: node slots, child lookup (sibling scan or edge index), and the
// indexed min-heap of evictable leaves.

#include <cstring>

#include "kvcache/prefix_trie.hpp"
#include "kvcache/prefix_trie_node.hpp"

namespace kvactor {

int32_t prefix_trie::find_child(int32_t parent, const int32_t* page_tokens) const {
  const node& parent_node = nodes_[parent];
  const size_t page_bytes = static_cast<size_t>(page_size_) * sizeof(int32_t);
  if (!parent_node.children_indexed) {
    for (int32_t child = parent_node.first_child; child >= 0; child = nodes_[child].next_sibling) {
      if (nodes_[child].first_token == page_tokens[0] && std::memcmp(tokens_of(child), page_tokens, page_bytes) == 0)
        return child;
    }
    return -1;
  }
  const uint64_t key = edge_key(parent, page_token_hash(page_tokens, page_size_));
  return edges_->find(key, [&](int32_t child) {
    return nodes_[child].parent == parent && std::memcmp(tokens_of(child), page_tokens, page_bytes) == 0;
  });
}

uint64_t prefix_trie::slot_hash(int32_t slot) const noexcept { return page_token_hash(tokens_of(slot), page_size_); }

int32_t prefix_trie::take_slot() {
  if (!free_slots_.empty()) {
    const int32_t index = free_slots_.back();
    free_slots_.pop_back();
    return index;
  }
  // Only namespace roots beyond the pre-created spare slots get here.
  nodes_.emplace_back();
  tokens_.resize(tokens_.size() + lines_per_slot_);
  return static_cast<int32_t>(nodes_.size()) - 1;
}

int32_t prefix_trie::new_node(int32_t parent, const int32_t* page_tokens, page_id page, uint64_t now) {
  const int32_t index = take_slot();
  node& parent_node = nodes_[parent];
  if (parent_node.heap_pos >= 0) heap_erase(parent);  // no longer a leaf
  node& entry = nodes_[index];
  entry = node{};
  entry.live = true;
  entry.parent = parent;
  entry.depth = parent_node.depth + 1;
  entry.page = page;
  entry.first_token = page_tokens[0];
  entry.last_access = now;
  std::memcpy(tokens_of(index), page_tokens, static_cast<size_t>(page_size_) * sizeof(int32_t));
  entry.next_sibling = parent_node.first_child;
  if (parent_node.first_child >= 0) nodes_[parent_node.first_child].prev_sibling = index;
  parent_node.first_child = index;
  ++parent_node.child_count;
  if (parent_node.children_indexed) {
    edges_->insert(edge_key(parent, page_token_hash(page_tokens, page_size_)), index);
  } else if (parent_node.child_count > sibling_scan_limit) {
    // Fan-out just outgrew the sibling scan: index all children from now on. The
    // flag is cleared only when the node has no children left (hysteresis).
    parent_node.children_indexed = true;
    for (int32_t child = parent_node.first_child; child >= 0; child = nodes_[child].next_sibling)
      edges_->insert(edge_key(parent, slot_hash(child)), child);
  }
  page_node_[page] = index;
  ++cached_pages_;
  return index;
}

int32_t prefix_trie::new_root(uint64_t ns) {
  const int32_t index = take_slot();
  nodes_[index] = node{};
  nodes_[index].live = true;
  root_ns_[index] = ns;
  return index;
}

void prefix_trie::remove_leaf(int32_t index) {
  node& entry = nodes_[index];
  node& parent_node = nodes_[entry.parent];
  if (parent_node.children_indexed) edges_->erase(edge_key(entry.parent, slot_hash(index)), index);
  if (entry.prev_sibling >= 0)
    nodes_[entry.prev_sibling].next_sibling = entry.next_sibling;
  else
    parent_node.first_child = entry.next_sibling;
  if (entry.next_sibling >= 0) nodes_[entry.next_sibling].prev_sibling = entry.prev_sibling;
  if (--parent_node.child_count == 0) parent_node.children_indexed = false;
  page_node_[entry.page] = -1;
  --cached_pages_;
  entry = node{};
  free_slots_.push_back(index);
}

void prefix_trie::refresh_evictable(int32_t index) {
  const node& entry = nodes_[index];
  if (!entry.is_root() && entry.lock_count == 0 && entry.child_count == 0 && entry.heap_pos < 0) heap_push(index);
}

int32_t prefix_trie::root_of(uint64_t ns) const {
  const auto found = roots_.find(ns);
  return found == roots_.end() ? -1 : found->second;
}

int32_t prefix_trie::root_for(uint64_t ns) {
  const int32_t existing = root_of(ns);
  if (existing >= 0) return existing;
  const int32_t root = new_root(ns);
  roots_.emplace(ns, root);
  return root;
}

// ---- evictable heap: min-heap by (key.primary, key.secondary, page) ----

bool prefix_trie::heap_less(const heap_entry& a, const heap_entry& b) noexcept {
  if (a.key.primary != b.key.primary) return a.key.primary < b.key.primary;
  if (a.key.secondary != b.key.secondary) return a.key.secondary < b.key.secondary;
  return a.page < b.page;
}

void prefix_trie::heap_place(int32_t pos, const heap_entry& entry) {
  heap_[static_cast<size_t>(pos)] = entry;
  nodes_[entry.node].heap_pos = pos;
}

void prefix_trie::heap_push(int32_t index) {
  const node& entry = nodes_[index];
  heap_.push_back(
      heap_entry{policy_->key(node_usage{entry.last_access, entry.hit_count, entry.depth}), entry.page, index});
  const int32_t pos = static_cast<int32_t>(heap_.size()) - 1;
  nodes_[index].heap_pos = pos;
  heap_sift_up(pos);
}

void prefix_trie::heap_erase(int32_t index) {
  const int32_t pos = nodes_[index].heap_pos;
  const heap_entry last = heap_.back();
  heap_.pop_back();
  nodes_[index].heap_pos = -1;
  if (last.node == index) return;
  heap_place(pos, last);
  heap_sift_up(pos);
  heap_sift_down(nodes_[last.node].heap_pos);
}

void prefix_trie::heap_sift_up(int32_t pos) {
  const heap_entry moving = heap_[static_cast<size_t>(pos)];
  while (pos > 0) {
    const int32_t parent_pos = (pos - 1) / 2;
    if (!heap_less(moving, heap_[static_cast<size_t>(parent_pos)])) break;
    heap_place(pos, heap_[static_cast<size_t>(parent_pos)]);
    pos = parent_pos;
  }
  heap_place(pos, moving);
}

void prefix_trie::heap_sift_down(int32_t pos) {
  const int32_t size = static_cast<int32_t>(heap_.size());
  const heap_entry moving = heap_[static_cast<size_t>(pos)];
  for (;;) {
    int32_t child = 2 * pos + 1;
    if (child >= size) break;
    if (child + 1 < size && heap_less(heap_[static_cast<size_t>(child) + 1], heap_[static_cast<size_t>(child)]))
      ++child;
    if (!heap_less(heap_[static_cast<size_t>(child)], moving)) break;
    heap_place(pos, heap_[static_cast<size_t>(child)]);
    pos = child;
  }
  heap_place(pos, moving);
}

}  // namespace kvactor
