#pragma once
// page_pool: a fixed set of physical KV pages and the free list over them.
//
//   free list (intrusive, LIFO):  head -> 7 -> 3 -> 12 -> ... -> none
//   next_free_[page]  the page after `page` on the free list (only meaningful while free)
//   allocated_[page]  1 while a caller holds the page, 0 while it is on the free list
//
// LIFO so the most recently released page, still warm in the device caches, is
// reused first. Every operation is O(1) per page and never allocates memory,
// except that allocate() appends to the caller's vector.
//
// The pool does not know who holds a page (a request privately or the trie as a
// cached page); paged_cache and cache_accounting combine it with the trie.

#include <cstdint>
#include <vector>

#include "kvcache/kv_errc.hpp"

namespace kvactor {

class page_pool {
 public:
  /// A pool of `num_pages` pages with ids 0 .. num_pages-1, all free.
  /// Throws std::invalid_argument if num_pages < 0.
  explicit page_pool(int32_t num_pages);

  /// Takes `n` free pages and appends their ids to `out`. All or nothing: returns
  /// no_capacity (n > free_count()) or invalid_argument (n < 0) and changes
  /// neither the pool nor `out`. n == 0 is ok and does nothing.
  kv_errc allocate(int32_t n, std::vector<page_id>& out);

  /// Returns pages to the free list. The whole call is rejected, state unchanged, if
  /// any id is out of range (unknown_page), already free (double_release) or appears
  /// twice in `ids` (repeated_page). The first offending id decides the code.
  kv_errc release(const std::vector<page_id>& ids);

  /// Number of pages the pool was built with.
  int32_t total() const noexcept { return static_cast<int32_t>(allocated_.size()); }
  /// Pages on the free list.
  int32_t free_count() const noexcept { return free_count_; }
  /// Pages handed out and not yet released: total() - free_count().
  int32_t allocated_count() const noexcept { return total() - free_count_; }
  /// True if `page` is in range and currently handed out.
  bool is_allocated(page_id page) const noexcept;

  /// One byte per page id: 1 if allocated, 0 if free. A message-friendly copy of the
  /// pool's state for cross-actor accounting (see cache_accounting.hpp).
  std::vector<uint8_t> allocation_map() const;

  /// Recounts from scratch: walks the free list (no cycle, no allocated page on it,
  /// length == free_count()) and checks the allocated flags agree. Throws
  /// invariant_error naming the first inconsistency.
  void check_invariants() const;

 private:
  // Lets tests corrupt internal state on purpose to prove check_invariants() notices.
  friend struct kvcache_test_access;
  static constexpr page_id no_page = -1;
  std::vector<page_id> next_free_;  // [total] link of the intrusive free list
  std::vector<uint8_t> allocated_;  // [total] 1 = handed out, 0 = free; 2 briefly during release
  page_id free_head_ = no_page;
  int32_t free_count_ = 0;
};

}  // namespace kvactor
