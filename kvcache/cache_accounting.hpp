#pragma once
// Combined accounting for a page_pool and the prefix_trie that caches pages taken
// from it. Every physical page is in exactly one state:
//
//   free     on the pool's free list
//   private  allocated in the pool, not in the trie (a request is writing it)
//   cached   allocated in the pool and held by a trie node (locked or evictable)
//
//   free + private + cached_locked + cached_evictable == total, always;
//   a page in the trie is never free in the pool ("no page in two places").
//
// The pool and trie live in different actors, so every check also has a form over
// plain byte maps (page_pool::allocation_map(), prefix_trie::cached_states()) that
// can travel in messages.

#include <cstdint>
#include <string>
#include <vector>

#include "kvcache/page_pool.hpp"
#include "kvcache/prefix_trie.hpp"

namespace kvactor {

struct page_accounting {
  int32_t total = 0;
  int32_t free = 0;
  int32_t private_pages = 0;
  int32_t cached_locked = 0;
  int32_t cached_evictable = 0;
  int32_t cached() const noexcept { return cached_locked + cached_evictable; }
};

/// From the incremental counters, O(1): private = pool allocated - trie cached.
page_accounting account_pages(const page_pool& pool, const prefix_trie& trie) noexcept;

/// Recount from byte maps of equal length (allocation_map: 1 allocated / 0 free;
/// cached_states: cached_state values). Throws invariant_error if the lengths differ
/// or a page is cached in the trie but free in the pool.
page_accounting recount_pages(const std::vector<uint8_t>& allocation_map,
                              const std::vector<uint8_t>& cached_states);

/// One character per page id: 'f' free, 'p' private, 'L' cached-locked,
/// 'e' cached-evictable, '!' cached but free in the pool (a broken invariant).
std::string page_state_map(const std::vector<uint8_t>& allocation_map, const std::vector<uint8_t>& cached_states);

/// pool.check_invariants(), trie.check_invariants(), equal page counts, the recount
/// from the maps equals account_pages(), and no trie page is free in the pool.
/// Throws invariant_error naming the first problem.
void check_pool_and_trie(const page_pool& pool, const prefix_trie& trie);

}  // namespace kvactor
