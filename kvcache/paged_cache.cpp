#include "kvcache/paged_cache.hpp"

#include <algorithm>
#include <string>

namespace kvactor {

paged_cache::paged_cache(int32_t num_pages, int32_t page_size, std::unique_ptr<eviction_policy> policy)
    : pool_(num_pages), trie_(page_size, num_pages, std::move(policy)) {}

kv_errc paged_cache::allocate(int32_t n, std::vector<page_id>& out) {
  if (n < 0) return kv_errc::invalid_argument;
  const int32_t shortfall = n - pool_.free_count();
  if (shortfall > 0) {
    // Check before evicting: a failed allocation must not have thrown pages out.
    if (shortfall > trie_.evictable_pages()) return kv_errc::no_capacity;
    evict(shortfall);
  }
  return pool_.allocate(n, out);
}

std::vector<page_id> paged_cache::evict(int32_t n) {
  std::vector<page_id> evicted = trie_.evict(n);
  const kv_errc released = pool_.release(evicted);
  if (released != kv_errc::ok) throw invariant_error("paged_cache: pool rejected evicted pages: " + std::string(to_string(released)));
  return evicted;
}

kv_errc paged_cache::release(const std::vector<page_id>& ids) {
  for (const page_id page : ids)
    if (trie_.state_of(page) != cached_state::not_cached) return kv_errc::page_in_use;
  return pool_.release(ids);
}

publish_result paged_cache::publish(uint64_t ns, const std::vector<int32_t>& tokens, const std::vector<page_id>& pages,
                                    uint64_t handle, uint64_t now) {
  const size_t count = std::min(tokens.size() / static_cast<size_t>(trie_.page_size()), pages.size());
  for (size_t i = 0; i < count; ++i) {
    if (!pool_.is_allocated(pages[i])) {
      publish_result rejected;
      rejected.status = kv_errc::unknown_page;
      return rejected;
    }
  }
  publish_result result = trie_.publish(ns, tokens, pages, handle, now);
  if (result.status == kv_errc::ok && !result.duplicates.empty()) {
    const kv_errc released = pool_.release(result.duplicates);
    if (released != kv_errc::ok) throw invariant_error("paged_cache: pool rejected duplicate pages: " + std::string(to_string(released)));
  }
  return result;
}

}  // namespace kvactor
