#pragma once
// A brute-force model of paged_cache (pool + trie) for the property tests.
// Everything is recomputed from plain sets and maps on every question: no links,
// no counters, no heap. It is slow and obviously right, which is the point.
//
// The trie is a map from (namespace, token prefix of k full pages) to the page that
// caches page k-1 of it; a handle is the (namespace, token prefix) it locks; a
// node's lock count is the number of handles whose prefix extends the node's key.

#include <algorithm>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <utility>
#include <vector>

#include "kvcache/kv_errc.hpp"

namespace kvactor::testing {

class reference_cache {
 public:
  using key_type = std::pair<uint64_t, std::vector<int32_t>>;
  struct node {
    page_id page = -1;
    uint64_t last_access = 0;
    uint64_t hits = 0;
  };

  reference_cache(int32_t total, int32_t page_size, bool lfu) : total_(total), page_size_(page_size), lfu_(lfu) {
    for (page_id p = 0; p < total; ++p) free_.insert(p);
  }

  // ---- questions ----
  const std::set<page_id>& free_pages() const { return free_; }
  const std::map<key_type, node>& nodes() const { return nodes_; }
  const std::map<uint64_t, key_type>& handles() const { return handles_; }
  bool is_free(page_id p) const { return free_.count(p) > 0; }
  bool in_range(page_id p) const { return p >= 0 && p < total_; }
  std::optional<key_type> key_of_page(page_id p) const {
    for (const auto& [key, entry] : nodes_)
      if (entry.page == p) return key;
    return std::nullopt;
  }
  bool is_cached(page_id p) const { return key_of_page(p).has_value(); }

  int32_t lock_count(const key_type& key) const {
    int32_t count = 0;
    for (const auto& [handle, locked] : handles_)
      if (locked.first == key.first && is_prefix(key.second, locked.second)) ++count;
    return count;
  }
  bool is_leaf(const key_type& key) const {
    for (const auto& [other, entry] : nodes_)
      if (other.first == key.first && other.second.size() == key.second.size() + static_cast<size_t>(page_size_) &&
          is_prefix(key.second, other.second))
        return false;
    return true;
  }
  int32_t cached_count() const { return static_cast<int32_t>(nodes_.size()); }
  int32_t locked_count() const {
    int32_t count = 0;
    for (const auto& [key, entry] : nodes_) count += lock_count(key) > 0 ? 1 : 0;
    return count;
  }
  int32_t evictable_count() const { return cached_count() - locked_count(); }

  // ---- operations; each mirrors paged_cache's documented contract ----

  /// Expected result of allocate(n). On ok, `evicted` gets the pages evicted first
  /// (in order), and the free set afterwards still contains the pages to hand out.
  kv_errc plan_allocate(int32_t n, std::vector<page_id>& evicted) {
    if (n < 0) return kv_errc::invalid_argument;
    const int32_t shortfall = n - static_cast<int32_t>(free_.size());
    if (shortfall > 0) {
      if (shortfall > evictable_count()) return kv_errc::no_capacity;
      evicted = evict(shortfall);
    }
    return kv_errc::ok;
  }
  /// Records that the real pool handed out `ids`; false if any was not free.
  bool take(const std::vector<page_id>& ids) {
    for (page_id p : ids)
      if (free_.erase(p) == 0) return false;
    return true;
  }

  kv_errc release(const std::vector<page_id>& ids) {
    for (page_id p : ids)
      if (is_cached(p)) return kv_errc::page_in_use;
    std::set<page_id> seen;
    for (page_id p : ids) {
      if (!in_range(p)) return kv_errc::unknown_page;
      if (is_free(p)) return kv_errc::double_release;
      if (!seen.insert(p).second) return kv_errc::repeated_page;
    }
    for (page_id p : ids) free_.insert(p);
    return kv_errc::ok;
  }

  struct match_answer {
    std::vector<page_id> pages;
    bool locked = false;
  };
  /// Longest cached prefix, leaving the last token uncached. The caller registers the
  /// real handle with add_handle() when pages are non-empty.
  match_answer match(uint64_t ns, const std::vector<int32_t>& tokens, uint64_t now) {
    match_answer answer;
    if (tokens.size() <= 1) return answer;
    const size_t max_pages = (tokens.size() - 1) / static_cast<size_t>(page_size_);
    size_t k = 0;
    while (k < max_pages && nodes_.count(prefix_key(ns, tokens, k + 1))) ++k;
    for (size_t i = 1; i <= k; ++i) {
      node& entry = nodes_.at(prefix_key(ns, tokens, i));
      answer.pages.push_back(entry.page);
      entry.last_access = now;
      ++entry.hits;
    }
    answer.locked = k > 0;
    return answer;
  }
  void add_handle(uint64_t handle, uint64_t ns, std::vector<int32_t> prefix) {
    handles_[handle] = key_type{ns, std::move(prefix)};
  }

  kv_errc unlock(uint64_t handle) { return handles_.erase(handle) ? kv_errc::ok : kv_errc::unknown_handle; }

  struct publish_answer {
    kv_errc status = kv_errc::ok;
    std::vector<page_id> duplicates;
    std::vector<page_id> pages;
    int32_t inserted = 0;
  };
  /// paged_cache::publish: pool check, trie validation in position order, insert,
  /// release duplicates. Handle bookkeeping: the caller calls add_handle /
  /// extend_handle with the real handle on success (see below).
  publish_answer publish(uint64_t ns, const std::vector<int32_t>& tokens, const std::vector<page_id>& pages,
                         uint64_t handle, uint64_t now) {
    publish_answer answer;
    answer.status = check_publish(ns, tokens, pages, handle);
    if (answer.status != kv_errc::ok) return answer;
    const size_t count = std::min(tokens.size() / static_cast<size_t>(page_size_), pages.size());
    for (size_t i = 0; i < count; ++i) {
      const key_type key = prefix_key(ns, tokens, i + 1);
      auto found = nodes_.find(key);
      if (found == nodes_.end()) {
        nodes_[key] = node{pages[i], now, 0};
        answer.pages.push_back(pages[i]);
        ++answer.inserted;
      } else {
        found->second.last_access = now;
        answer.pages.push_back(found->second.page);
        if (found->second.page != pages[i]) answer.duplicates.push_back(pages[i]);
      }
    }
    for (page_id p : answer.duplicates) free_.insert(p);
    return answer;
  }

  /// The status publish() would return, changing nothing.
  kv_errc check_publish(uint64_t ns, const std::vector<int32_t>& tokens, const std::vector<page_id>& pages,
                        uint64_t handle) const {
    const size_t count = std::min(tokens.size() / static_cast<size_t>(page_size_), pages.size());
    for (size_t i = 0; i < count; ++i)
      if (!in_range(pages[i]) || is_free(pages[i])) return kv_errc::unknown_page;
    if (handle != 0 && !handles_.count(handle)) return kv_errc::unknown_handle;
    std::set<page_id> seen;
    for (size_t i = 0; i < count; ++i) {
      const page_id p = pages[i];
      if (!seen.insert(p).second) return kv_errc::repeated_page;
      const auto found = nodes_.find(prefix_key(ns, tokens, i + 1));
      const bool same_node = found != nodes_.end() && found->second.page == p;
      if (!same_node && is_cached(p)) return kv_errc::page_already_cached;
    }
    if (handle != 0) {
      const key_type& locked = handles_.at(handle);
      const auto path = prefix_key(ns, tokens, count).second;
      const bool related = locked.first == ns && (is_prefix(locked.second, path) || is_prefix(path, locked.second));
      if (!related) return kv_errc::handle_mismatch;
    }
    return kv_errc::ok;
  }
  /// After a successful publish of `count` pages: the handle now locks the longer of
  /// its old path and the published one.
  void extend_handle(uint64_t handle, uint64_t ns, const std::vector<int32_t>& tokens, size_t count) {
    key_type& locked = handles_.at(handle);
    const auto path = prefix_key(ns, tokens, count).second;
    if (path.size() > locked.second.size()) locked.second = path;
  }

  /// Evicts up to n pages onto the free list: repeatedly the unlocked leaf with the
  /// smallest (policy key, page id).
  std::vector<page_id> evict(int32_t n) {
    std::vector<page_id> out;
    while (static_cast<int32_t>(out.size()) < n) {
      const key_type* best = nullptr;
      std::tuple<uint64_t, uint64_t, page_id> best_rank{};
      for (const auto& [key, entry] : nodes_) {
        if (lock_count(key) > 0 || !is_leaf(key)) continue;
        const auto rank = lfu_ ? std::make_tuple(entry.hits, entry.last_access, entry.page)
                               : std::make_tuple(entry.last_access, uint64_t{0}, entry.page);
        if (!best || rank < best_rank) {
          best = &key;
          best_rank = rank;
        }
      }
      if (!best) break;
      out.push_back(nodes_.at(*best).page);
      free_.insert(out.back());
      nodes_.erase(*best);
    }
    return out;
  }

  key_type prefix_key(uint64_t ns, const std::vector<int32_t>& tokens, size_t pages) const {
    return key_type{
        ns, std::vector<int32_t>(tokens.begin(), tokens.begin() + static_cast<std::ptrdiff_t>(pages * page_size_))};
  }

 private:
  static bool is_prefix(const std::vector<int32_t>& a, const std::vector<int32_t>& b) {
    return a.size() <= b.size() && std::equal(a.begin(), a.end(), b.begin());
  }

  int32_t total_;
  int32_t page_size_;
  bool lfu_;
  std::set<page_id> free_;
  std::map<key_type, node> nodes_;
  std::map<uint64_t, key_type> handles_;
};

}  // namespace kvactor::testing
