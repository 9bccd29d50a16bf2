#pragma once
// Test-only access to kvcache internals, so tests can break state on purpose and
// prove that check_invariants() notices. Declared a friend by page_pool, prefix_trie
// and page_ownership.

#include <algorithm>
#include <vector>

#include "kvcache/page_ownership.hpp"
#include "kvcache/page_pool.hpp"
#include "kvcache/prefix_trie.hpp"
#include "kvcache/prefix_trie_node.hpp"

namespace kvactor {

struct kvcache_test_access {
  /// Pushes `page` onto the free list without clearing its allocated flag: the state
  /// a "free twice" bug leaves behind.
  static void push_on_free_list(page_pool& pool, page_id page) {
    pool.next_free_[page] = pool.free_head_;
    pool.free_head_ = page;
    ++pool.free_count_;
  }
  /// Marks a free page allocated without taking it off the free list.
  static void flag_allocated(page_pool& pool, page_id page) { pool.allocated_[page] = 1; }

  /// The node holding `page` (it must be cached).
  static prefix_trie::node& node_of(prefix_trie& trie, page_id page) { return trie.nodes_[trie.page_node_[page]]; }
  static int32_t slot_of(const prefix_trie& trie, page_id page) { return trie.page_node_[page]; }
  static void set_locked_counter(prefix_trie& trie, int32_t value) { trie.locked_pages_ = value; }
  static void heap_push(prefix_trie& trie, page_id page) { trie.heap_push(trie.page_node_[page]); }
  static void forget_page(prefix_trie& trie, page_id page) { trie.page_node_[page] = -1; }

  /// page_ownership: overwrite one page's state or owner without touching counters
  /// or records, the way a missed update would.
  static void set_state(page_ownership& pages, page_id page, page_state state) { pages.state_[page] = state; }
  static void set_owner(page_ownership& pages, page_id page, owner_id owner) { pages.owner_[page] = owner; }
  static void add_to_record(page_ownership& pages, owner_id owner, page_id page) { pages.owned_[owner].insert(page); }
  static void erase_from_record(page_ownership& pages, owner_id owner, page_id page) {
    pages.owned_[owner].erase(page);
  }
  static void bump_private_counter(page_ownership& pages, int32_t by) { pages.private_ += by; }
  static void bump_cached_counter(page_ownership& pages, int32_t by) { pages.cached_ += by; }
  /// Removes `page` from every pending publish (the table forgets it).
  static void drop_from_publishing_table(page_ownership& pages, page_id page) {
    for (auto& [ticket, pending] : pages.publishing_)
      pending.pages.erase(std::remove(pending.pages.begin(), pending.pages.end(), page), pending.pages.end());
  }
  static page_pool& pool_of(page_ownership& pages) { return pages.pool_; }
};

// Lock count of the node holding `page` (-1 when it is not cached), read through
// the public snapshot: no internals needed.
inline int32_t lock_of(const prefix_trie& trie, page_id page) {
  for (const auto& n : trie.snapshot(1 << 30, 1 << 30).nodes)
    if (n.page == page) return n.lock_count;
  return -1;
}

}  // namespace kvactor
