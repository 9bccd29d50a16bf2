#pragma once
// paged_cache: a page_pool and its prefix_trie owned together, for single-owner use
// (tests, benchmarks, a single-actor deployment). It adds the cross-structure rules
// that neither half can check alone:
//  - release() refuses a page the trie holds (page_in_use): only private pages go back;
//  - allocate() evicts unlocked trie pages lazily when the free list is short
//    (vLLM's block pool does the same), still all or nothing;
//  - publish() hands duplicate pages straight back to the pool.
// The actor layer splits the two halves across two actors and does these steps
// by message; the semantics are the same.

#include <cstdint>
#include <memory>
#include <vector>

#include "kvcache/cache_accounting.hpp"
#include "kvcache/page_pool.hpp"
#include "kvcache/prefix_trie.hpp"

namespace kvactor {

class paged_cache {
 public:
  /// num_pages pages of page_size tokens; `policy` null means LRU.
  paged_cache(int32_t num_pages, int32_t page_size, std::unique_ptr<eviction_policy> policy = nullptr);

  /// Appends n new private pages to `out`. If fewer than n are free, first evicts
  /// the shortfall from the trie (policy order). no_capacity, nothing changed (no
  /// eviction either), if free + evictable < n; invalid_argument if n < 0.
  kv_errc allocate(int32_t n, std::vector<page_id>& out);

  /// Returns private pages to the pool. Rejected as a whole, state unchanged, if a
  /// page is cached in the trie (page_in_use) or the pool rejects it.
  kv_errc release(const std::vector<page_id>& ids);

  /// prefix_trie::match.
  match_result match(uint64_t ns, const std::vector<int32_t>& tokens, uint64_t now) {
    return trie_.match(ns, tokens, now);
  }
  /// prefix_trie::unlock.
  kv_errc unlock(uint64_t handle) { return trie_.unlock(handle); }

  /// prefix_trie::publish, then releases result.duplicates to the pool (they are
  /// listed in the result, already released). Every published page must be
  /// allocated in the pool (unknown_page otherwise, nothing changed).
  publish_result publish(uint64_t ns, const std::vector<int32_t>& tokens, const std::vector<page_id>& pages,
                         uint64_t handle, uint64_t now);

  /// Evicts up to n unlocked trie pages (prefix_trie::evict order) and returns them
  /// to the free list; returns their ids.
  std::vector<page_id> evict(int32_t n);

  /// Counters, O(1).
  page_accounting accounting() const noexcept { return account_pages(pool_, trie_); }
  /// check_pool_and_trie(pool, trie).
  void check_invariants() const { check_pool_and_trie(pool_, trie_); }

  const page_pool& pool() const noexcept { return pool_; }
  const prefix_trie& trie() const noexcept { return trie_; }

 private:
  page_pool pool_;
  prefix_trie trie_;
  std::vector<page_id> scratch_;  // evicted pages on their way back to the pool
};

}  // namespace kvactor
