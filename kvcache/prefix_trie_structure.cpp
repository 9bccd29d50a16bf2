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
      if (nodes_[child].first_token == page_tokens[0] &&
          std::memcmp(&tokens_[static_cast<size_t>(child) * page_size_], page_tokens, page_bytes) == 0)
        return child;
    }
    return -1;
  }
  const uint64_t key = edge_key(parent, page_token_hash(page_tokens, page_size_));
  return edges_->find(key, [&](int32_t child) {
    return nodes_[child].parent == parent &&
           std::memcmp(&tokens_[static_cast<size_t>(child) * page_size_], page_tokens, page_bytes) == 0;
  });
}

int32_t prefix_trie::new_node(int32_t parent, const int32_t* page_tokens, page_id page, uint64_t now) {
  int32_t index = free_node_;
  if (index >= 0) {
    free_node_ = nodes_[index].next_sibling;
  } else {
    index = static_cast<int32_t>(nodes_.size());
    nodes_.emplace_back();
    tokens_.resize(tokens_.size() + static_cast<size_t>(page_size_));
  }
  node& parent_node = nodes_[parent];
  if (parent_node.heap_pos >= 0) heap_erase(parent);  // no longer a leaf
  node& entry = nodes_[index];
  entry = node{};
  entry.live = true;
  entry.ns = parent_node.ns;
  entry.parent = parent;
  entry.depth = parent_node.depth + 1;
  entry.page = page;
  entry.first_token = page_tokens[0];
  entry.last_access = now;
  entry.hash = page_token_hash(page_tokens, page_size_);
  std::memcpy(&tokens_[static_cast<size_t>(index) * page_size_], page_tokens,
              static_cast<size_t>(page_size_) * sizeof(int32_t));
  entry.next_sibling = parent_node.first_child;
  if (parent_node.first_child >= 0) nodes_[parent_node.first_child].prev_sibling = index;
  parent_node.first_child = index;
  ++parent_node.child_count;
  if (parent_node.children_indexed) {
    edges_->insert(edge_key(parent, entry.hash), index);
  } else if (parent_node.child_count > sibling_scan_limit) {
    // Fan-out just outgrew the sibling scan: index all children from now on. The
    // flag is cleared only when the node has no children left (hysteresis).
    parent_node.children_indexed = true;
    for (int32_t child = parent_node.first_child; child >= 0; child = nodes_[child].next_sibling)
      edges_->insert(edge_key(parent, nodes_[child].hash), child);
  }
  page_node_[page] = index;
  ++cached_pages_;
  return index;
}

int32_t prefix_trie::new_root(uint64_t ns) {
  int32_t index = free_node_;
  if (index >= 0) {
    free_node_ = nodes_[index].next_sibling;
  } else {
    index = static_cast<int32_t>(nodes_.size());
    nodes_.emplace_back();
    tokens_.resize(tokens_.size() + static_cast<size_t>(page_size_));
  }
  nodes_[index] = node{};
  nodes_[index].live = true;
  nodes_[index].ns = ns;
  return index;
}

void prefix_trie::remove_leaf(int32_t index) {
  node& entry = nodes_[index];
  node& parent_node = nodes_[entry.parent];
  if (parent_node.children_indexed) edges_->erase(edge_key(entry.parent, entry.hash), index);
  if (entry.prev_sibling >= 0) nodes_[entry.prev_sibling].next_sibling = entry.next_sibling;
  else parent_node.first_child = entry.next_sibling;
  if (entry.next_sibling >= 0) nodes_[entry.next_sibling].prev_sibling = entry.prev_sibling;
  if (--parent_node.child_count == 0) parent_node.children_indexed = false;
  page_node_[entry.page] = -1;
  --cached_pages_;
  entry = node{};
  entry.next_sibling = free_node_;
  free_node_ = index;
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

bool prefix_trie::heap_less(int32_t a, int32_t b) const noexcept {
  const node& x = nodes_[a];
  const node& y = nodes_[b];
  if (x.key.primary != y.key.primary) return x.key.primary < y.key.primary;
  if (x.key.secondary != y.key.secondary) return x.key.secondary < y.key.secondary;
  return x.page < y.page;
}

void prefix_trie::heap_push(int32_t index) {
  node& entry = nodes_[index];
  entry.key = policy_->key(node_usage{entry.last_access, entry.hit_count, entry.depth});
  entry.heap_pos = static_cast<int32_t>(heap_.size());
  heap_.push_back(index);
  heap_sift_up(entry.heap_pos);
}

void prefix_trie::heap_erase(int32_t index) {
  const int32_t pos = nodes_[index].heap_pos;
  const int32_t last = heap_.back();
  heap_.pop_back();
  nodes_[index].heap_pos = -1;
  if (last == index) return;
  heap_[pos] = last;
  nodes_[last].heap_pos = pos;
  heap_sift_up(pos);
  heap_sift_down(nodes_[last].heap_pos);
}

void prefix_trie::heap_sift_up(int32_t pos) {
  const int32_t moving = heap_[pos];
  while (pos > 0) {
    const int32_t parent_pos = (pos - 1) / 2;
    if (!heap_less(moving, heap_[parent_pos])) break;
    heap_[pos] = heap_[parent_pos];
    nodes_[heap_[pos]].heap_pos = pos;
    pos = parent_pos;
  }
  heap_[pos] = moving;
  nodes_[moving].heap_pos = pos;
}

void prefix_trie::heap_sift_down(int32_t pos) {
  const int32_t size = static_cast<int32_t>(heap_.size());
  const int32_t moving = heap_[pos];
  for (;;) {
    int32_t child = 2 * pos + 1;
    if (child >= size) break;
    if (child + 1 < size && heap_less(heap_[child + 1], heap_[child])) ++child;
    if (!heap_less(heap_[child], moving)) break;
    heap_[pos] = heap_[child];
    nodes_[heap_[pos]].heap_pos = pos;
    pos = child;
  }
  heap_[pos] = moving;
  nodes_[moving].heap_pos = pos;
}

}  // namespace kvactor
