#pragma once
// paged_cache (test wrapper): page_ownership and a prefix_trie composed exactly as
// the page-pool and trie actors compose them by message, in one object, so the
// property and failure-mode tests drive the production state machine directly:
//
//   allocate   evict the shortfall from the trie (trie.evict -> release_evicted),
//              then page_ownership::allocate            (pool actor: alloc + evict)
//   publish    begin_publish -> trie.publish -> finish_publish  (pool actor: publish)
//   drop       page_ownership::drop_owner                       (pool actor: drop)
//   evict      trie.evict -> page_ownership::release_evicted
//
// Every call takes an owner (default 1, a single client).

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "kvcache/page_ownership.hpp"
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

class paged_cache {
 public:
  paged_cache(int32_t num_pages, int32_t page_size, std::unique_ptr<eviction_policy> policy = nullptr)
      : pages_(num_pages), trie_(page_size, num_pages, std::move(policy)) {}

  /// n new private pages for `owner`; evicts the shortfall first (all or nothing:
  /// no eviction when free + evictable < n).
  kv_errc allocate(int32_t n, std::vector<page_id>& out, owner_id owner = 1) {
    if (n < 0) return kv_errc::invalid_argument;
    const int32_t shortfall = n - pages_.free_count();
    if (shortfall > 0) {
      if (shortfall > trie_.evictable_pages()) return kv_errc::no_capacity;
      evict(shortfall);
    }
    return pages_.allocate(owner, n, out);
  }

  kv_errc release(const std::vector<page_id>& ids, owner_id owner = 1) { return pages_.release(owner, ids); }
  int32_t drop(owner_id owner) { return pages_.drop_owner(owner); }

  match_result match(uint64_t ns, const std::vector<int32_t>& tokens, uint64_t now) {
    return trie_.match(ns, tokens, now);
  }
  kv_errc unlock(uint64_t handle) { return trie_.unlock(handle); }

  /// The pool actor's publish, synchronously: the pages the trie will read (the
  /// first tokens/page_size) must be the owner's or cached.
  publish_result publish(uint64_t ns, const std::vector<int32_t>& tokens, const std::vector<page_id>& pages,
                         uint64_t handle, uint64_t now, owner_id owner = 1) {
    const size_t count = std::min(tokens.size() / static_cast<size_t>(trie_.page_size()), pages.size());
    const auto ticket = pages_.begin_publish(owner, std::vector<page_id>(pages.begin(), pages.begin() + count));
    if (ticket.status != kv_errc::ok) {
      publish_result rejected;
      rejected.status = ticket.status;
      return rejected;
    }
    publish_result result = trie_.publish(ns, tokens, pages, handle, now);
    pages_.finish_publish(ticket.id, result.status == kv_errc::ok, result.pages, result.duplicates);
    return result;
  }

  std::vector<page_id> evict(int32_t n) {
    std::vector<page_id> evicted = trie_.evict(n);
    const kv_errc rc = pages_.release_evicted(evicted);
    if (rc != kv_errc::ok) throw invariant_error(std::string("paged_cache: evicted pages refused: ") + to_string(rc));
    return evicted;
  }

  page_accounting accounting() const {
    const ownership_counts c = pages_.counts();
    return page_accounting{c.total, c.free, c.private_pages, trie_.locked_pages(), trie_.evictable_pages()};
  }

  /// Both halves' own checks, then the cross check the pool actor runs by message.
  void check_invariants() const {
    pages_.check_invariants();
    trie_.check_invariants();
    const std::string problem = cross_check(pages_, trie_.cached_states());
    if (!problem.empty()) throw invariant_error(problem);
  }

  const page_ownership& ownership() const noexcept { return pages_; }
  page_ownership& ownership() noexcept { return pages_; }
  const prefix_trie& trie() const noexcept { return trie_; }

 private:
  page_ownership pages_;
  prefix_trie trie_;
};

}  // namespace kvactor
