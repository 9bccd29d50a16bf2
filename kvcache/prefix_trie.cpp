// prefix_trie: match, publish, unlock, evict and handles.
// Node storage, the edge index and the evictable heap are in prefix_trie_structure.cpp;
// check_invariants and snapshots in prefix_trie_inspect.cpp.

#include "kvcache/prefix_trie.hpp"

#include <algorithm>
#include <string>

#include "kvcache/prefix_trie_node.hpp"

namespace kvactor {

prefix_trie::prefix_trie(int32_t page_size, int32_t num_pages, std::unique_ptr<eviction_policy> policy)
    : page_size_(page_size),
      num_pages_(num_pages),
      policy_(std::move(policy)),
      lines_per_slot_((static_cast<size_t>(page_size) + 15) / 16) {
  if (page_size <= 0)
    throw std::invalid_argument("prefix_trie: page_size must be positive, got " + std::to_string(page_size));
  if (num_pages < 0) throw std::invalid_argument("prefix_trie: negative num_pages " + std::to_string(num_pages));
  static_assert(sizeof(node) == 64, "a trie node should fill exactly one cache line");
  if (!policy_) policy_ = std::make_unique<lru_policy>();
  edges_ = std::make_unique<edge_index>();
  page_node_.assign(static_cast<size_t>(num_pages), -1);
  // Every node holds a distinct page, so num_pages (+ a few roots) bounds the node
  // count. All slots are created (and their memory touched) up front, so publish
  // neither reallocates nor page-faults; more namespace roots than that still fit.
  const size_t slots = static_cast<size_t>(num_pages) + 4;
  nodes_.resize(slots);
  tokens_.resize(slots * lines_per_slot_);
  free_slots_.reserve(slots);
  for (size_t i = slots; i-- > 0;) free_slots_.push_back(static_cast<int32_t>(i));  // slot 0 on top
}

prefix_trie::~prefix_trie() = default;

match_result prefix_trie::match(uint64_t ns, const std::vector<int32_t>& tokens, uint64_t now) {
  match_result result;
  const int32_t root = root_of(ns);
  if (root < 0 || tokens.size() <= 1) return result;
  // At most (n - 1) / page_size pages: the last prompt token always stays uncached.
  const size_t max_pages = (tokens.size() - 1) / static_cast<size_t>(page_size_);
  result.pages.reserve(max_pages);
  path_scratch_.clear();
  int32_t current = root;
  for (size_t i = 0; i < max_pages; ++i) {
    const int32_t child = find_child(current, tokens.data() + i * static_cast<size_t>(page_size_));
    if (child < 0) break;
    result.pages.push_back(nodes_[child].page);
    path_scratch_.push_back(child);
    current = child;
  }
  if (current == root) return result;
  result.cached_tokens = static_cast<int32_t>(result.pages.size()) * page_size_;
  touch_and_lock(path_scratch_, 0, now, true);
  hit_pages_ += result.pages.size();
  result.handle = new_handle(path_scratch_);
  return result;
}

int32_t prefix_trie::cached_prefix_pages(uint64_t ns, const std::vector<int32_t>& tokens) const {
  const int32_t root = root_of(ns);
  if (root < 0 || tokens.size() <= 1) return 0;
  const size_t max_pages = (tokens.size() - 1) / static_cast<size_t>(page_size_);
  int32_t current = root;
  int32_t found = 0;
  for (size_t i = 0; i < max_pages; ++i, ++found) {
    current = find_child(current, tokens.data() + i * static_cast<size_t>(page_size_));
    if (current < 0) break;
  }
  return found;
}

kv_errc prefix_trie::unlock(uint64_t handle) {
  if (handle_node(handle) < 0) return kv_errc::unknown_handle;
  handle_slot& slot = handles_[static_cast<uint32_t>(handle)];
  unlock_path(slot.path);
  slot.path.clear();  // keeps its capacity for the next holder of this slot
  slot.node = -1;
  if (++slot.generation == 0) slot.generation = 1;  // 0 would make handle 0 valid again
  slot.next_free = free_handle_;
  free_handle_ = static_cast<int32_t>(static_cast<uint32_t>(handle));
  --live_handles_;
  return kv_errc::ok;
}

publish_result prefix_trie::publish(uint64_t ns, const std::vector<int32_t>& tokens, const std::vector<page_id>& pages,
                                    uint64_t handle, uint64_t now) {
  publish_result result;
  const size_t count = std::min(tokens.size() / static_cast<size_t>(page_size_), pages.size());
  const int32_t handle_deepest = handle != 0 ? handle_node(handle) : -1;
  if (handle != 0 && handle_deepest < 0) {
    result.status = kv_errc::unknown_handle;
    return result;
  }

  // Pass 1: validate every page and find the existing part of the path. A page the
  // trie does not hold yet is claimed by setting page_node_[page] to claimed_page,
  // which catches repeats in the same call without a separate mark array (one
  // memory access per page fewer); any error undoes the claims.
  constexpr int32_t claimed_page = -2;
  int32_t existing_end = root_of(ns);  // deepest existing node on the path (-1: no tree yet)
  size_t existing = 0;                 // pages of the path that already have nodes
  bool on_existing_path = existing_end >= 0;
  path_scratch_.clear();
  const auto fail = [&](kv_errc code) {
    for (size_t k = 0; k < count; ++k)
      if (pages[k] >= 0 && pages[k] < num_pages_ && page_node_[pages[k]] == claimed_page) page_node_[pages[k]] = -1;
    path_scratch_.clear();
    result.status = code;
    return result;
  };
  for (size_t i = 0; i < count; ++i) {
    const page_id page = pages[i];
    if (page < 0 || page >= num_pages_) return fail(kv_errc::unknown_page);
    const int32_t holder = page_node_[page];
    if (holder == claimed_page) return fail(kv_errc::repeated_page);
    if (holder >= 0) {
      // Cached already: fine only as this position's own node (the caller got it
      // from match); as an earlier position's node it is a repeat.
      const auto depth = static_cast<size_t>(nodes_[holder].depth);
      if (depth <= path_scratch_.size() && path_scratch_[depth - 1] == holder && pages[depth - 1] == page)
        return fail(kv_errc::repeated_page);
    }
    if (on_existing_path) {
      const int32_t child = find_child(existing_end, tokens.data() + i * static_cast<size_t>(page_size_));
      if (child >= 0) {
        // Same page: the caller got it from match. Another page: a duplicate, unless
        // the caller's page is cached elsewhere (then it does not own it).
        if (holder >= 0 && holder != child) return fail(kv_errc::page_already_cached);
        if (holder < 0) page_node_[page] = claimed_page;
        path_scratch_.push_back(child);
        existing_end = child;
        ++existing;
        continue;
      }
      on_existing_path = false;
    }
    if (holder >= 0) return fail(kv_errc::page_already_cached);
    page_node_[page] = claimed_page;
  }
  // The handle must lock a prefix of this path, or this path a prefix of its path.
  if (handle_deepest >= 0) {
    const int32_t handle_depth = nodes_[handle_deepest].depth;
    bool consistent = false;
    if (static_cast<size_t>(handle_depth) <= existing) {
      consistent = handle_depth > 0 && path_scratch_[static_cast<size_t>(handle_depth) - 1] == handle_deepest;
    } else if (existing == count && existing_end >= 0) {
      int32_t ancestor = handle_deepest;
      while (nodes_[ancestor].depth > static_cast<int32_t>(count)) ancestor = nodes_[ancestor].parent;
      consistent = ancestor == existing_end;
    }
    if (!consistent) return fail(kv_errc::handle_mismatch);
  }
  if (count == 0) {
    result.handle = handle;
    return result;
  }

  // Pass 2: nothing can fail from here on.
  result.pages.reserve(count);
  for (size_t i = 0; i < existing; ++i) {
    const page_id cached = nodes_[path_scratch_[i]].page;
    result.pages.push_back(cached);
    if (cached != pages[i]) {
      result.duplicates.push_back(pages[i]);
      page_node_[pages[i]] = -1;  // release the claim: the caller keeps this page
    }
  }
  int32_t deepest = existing > 0 ? path_scratch_[existing - 1] : root_for(ns);
  for (size_t i = existing; i < count; ++i) {
    deepest = new_node(deepest, tokens.data() + i * static_cast<size_t>(page_size_), pages[i], now);
    path_scratch_.push_back(deepest);
    result.pages.push_back(pages[i]);
    ++result.inserted;
  }
  if (handle_deepest >= 0) {
    handle_slot& slot = handles_[static_cast<uint32_t>(handle)];
    if (slot.path.size() < count) {
      // Extend: lock the part of the path below the handle's current end.
      touch_and_lock(path_scratch_, slot.path.size(), now, false);
      slot.path = path_scratch_;
      slot.node = deepest;
    } else {
      touch_and_lock(path_scratch_, count, now, false);  // all locked by the handle already: touch only
    }
    result.handle = handle;
  } else {
    touch_and_lock(path_scratch_, 0, now, false);
    result.handle = new_handle(path_scratch_);
  }
  return result;
}

std::vector<page_id> prefix_trie::evict(int32_t n) {
  std::vector<page_id> evicted;
  if (n <= 0) return evicted;
  evicted.reserve(static_cast<size_t>(std::min<int64_t>(n, static_cast<int64_t>(heap_.size()))));
  while (static_cast<int32_t>(evicted.size()) < n && !heap_.empty()) {
    const int32_t victim = heap_.front().node;
    heap_erase(victim);
    const int32_t parent = nodes_[victim].parent;
    evicted.push_back(nodes_[victim].page);
    remove_leaf(victim);
    refresh_evictable(parent);  // a parent that lost its last child may now be evictable
  }
  evicted_pages_ += evicted.size();
  return evicted;
}

cached_state prefix_trie::state_of(page_id page) const noexcept {
  if (page < 0 || page >= num_pages_ || page_node_[page] < 0) return cached_state::not_cached;
  return nodes_[page_node_[page]].lock_count > 0 ? cached_state::locked : cached_state::evictable;
}

// Touches every node of `path` (last_access = now, plus a hit if count_hit) and locks
// path[lock_from..]. One pass over the path array: the nodes were just walked, so
// they are in cache, and no parent pointers are chased.
void prefix_trie::touch_and_lock(const std::vector<int32_t>& path, size_t lock_from, uint64_t now, bool count_hit) {
  for (size_t i = 0; i < path.size(); ++i) {
    node& entry = nodes_[path[i]];
    entry.last_access = now;
    entry.hit_count += count_hit ? 1 : 0;
    if (i >= lock_from && entry.lock_count++ == 0) {
      ++locked_pages_;
      if (entry.heap_pos >= 0) heap_erase(path[i]);
    }
  }
}

// The loads are independent (indices come from the array), so a cold path costs
// about one memory latency in total rather than one per page.
void prefix_trie::unlock_path(const std::vector<int32_t>& path) {
  for (size_t i = path.size(); i-- > 0;) {
    node& entry = nodes_[path[i]];
    if (--entry.lock_count == 0) {
      --locked_pages_;
      if (entry.child_count == 0) heap_push(path[i]);
    }
  }
}

uint64_t prefix_trie::new_handle(const std::vector<int32_t>& path) {
  int32_t slot_index = free_handle_;
  if (slot_index >= 0) {
    free_handle_ = handles_[slot_index].next_free;
  } else {
    slot_index = static_cast<int32_t>(handles_.size());
    handles_.emplace_back();
  }
  handle_slot& slot = handles_[slot_index];
  slot.node = path.back();
  slot.path = path;
  slot.next_free = -1;
  ++live_handles_;
  return (static_cast<uint64_t>(slot.generation) << 32) | static_cast<uint32_t>(slot_index);
}

int32_t prefix_trie::handle_node(uint64_t handle) const noexcept {
  const uint32_t slot_index = static_cast<uint32_t>(handle);
  const uint32_t generation = static_cast<uint32_t>(handle >> 32);
  if (generation == 0 || slot_index >= handles_.size()) return -1;
  const handle_slot& slot = handles_[slot_index];
  return slot.generation == generation ? slot.node : -1;
}

}  // namespace kvactor
