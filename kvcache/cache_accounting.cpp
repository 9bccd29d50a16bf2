#include "kvcache/cache_accounting.hpp"

#include <string>

namespace kvactor {

page_accounting account_pages(const page_pool& pool, const prefix_trie& trie) noexcept {
  page_accounting counts;
  counts.total = pool.total();
  counts.free = pool.free_count();
  counts.cached_locked = trie.locked_pages();
  counts.cached_evictable = trie.evictable_pages();
  counts.private_pages = pool.allocated_count() - trie.cached_pages();
  return counts;
}

page_accounting recount_pages(const std::vector<uint8_t>& allocation_map, const std::vector<uint8_t>& cached_states) {
  if (allocation_map.size() != cached_states.size())
    throw invariant_error("accounting: pool has " + std::to_string(allocation_map.size()) + " pages, trie maps " +
                          std::to_string(cached_states.size()));
  page_accounting counts;
  counts.total = static_cast<int32_t>(allocation_map.size());
  for (size_t page = 0; page < allocation_map.size(); ++page) {
    const auto state = static_cast<cached_state>(cached_states[page]);
    const bool allocated = allocation_map[page] != 0;
    if (state != cached_state::not_cached && !allocated)
      throw invariant_error("accounting: page " + std::to_string(page) + " is cached in the trie but free in the pool");
    if (!allocated) ++counts.free;
    else if (state == cached_state::locked) ++counts.cached_locked;
    else if (state == cached_state::evictable) ++counts.cached_evictable;
    else ++counts.private_pages;
  }
  return counts;
}

std::string page_state_map(const std::vector<uint8_t>& allocation_map, const std::vector<uint8_t>& cached_states) {
  std::string map(allocation_map.size(), 'f');
  for (size_t page = 0; page < allocation_map.size(); ++page) {
    const auto state = page < cached_states.size() ? static_cast<cached_state>(cached_states[page]) : cached_state::not_cached;
    const bool allocated = allocation_map[page] != 0;
    if (state == cached_state::not_cached) map[page] = allocated ? 'p' : 'f';
    else if (!allocated) map[page] = '!';
    else map[page] = state == cached_state::locked ? 'L' : 'e';
  }
  return map;
}

void check_pool_and_trie(const page_pool& pool, const prefix_trie& trie) {
  pool.check_invariants();
  trie.check_invariants();
  if (pool.total() != trie.num_pages())
    throw invariant_error("accounting: pool has " + std::to_string(pool.total()) + " pages, trie expects " +
                          std::to_string(trie.num_pages()));
  const page_accounting recount = recount_pages(pool.allocation_map(), trie.cached_states());
  const page_accounting counters = account_pages(pool, trie);
  if (recount.free != counters.free || recount.private_pages != counters.private_pages ||
      recount.cached_locked != counters.cached_locked || recount.cached_evictable != counters.cached_evictable)
    throw invariant_error("accounting: counters (free " + std::to_string(counters.free) + ", private " +
                          std::to_string(counters.private_pages) + ", locked " + std::to_string(counters.cached_locked) +
                          ", evictable " + std::to_string(counters.cached_evictable) + ") disagree with the recount (" +
                          std::to_string(recount.free) + ", " + std::to_string(recount.private_pages) + ", " +
                          std::to_string(recount.cached_locked) + ", " + std::to_string(recount.cached_evictable) + ")");
  if (recount.free + recount.private_pages + recount.cached() != recount.total)
    throw invariant_error("accounting: free + private + cached != total");
}

}  // namespace kvactor
