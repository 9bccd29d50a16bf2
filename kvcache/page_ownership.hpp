#pragma once
// page_ownership: who holds every physical KV page. The state machine the page-pool
// actor wraps (one call per message) and the property tests drive against the
// brute-force reference; CAF-free, single-threaded.
//
//                allocate(owner)              begin_publish(owner)
//     free ─────────────────────► private ─────────────────────► publishing
//      ▲  ◄───────────────────── (owner)  ◄─────────────────────     │
//      │   release / drop_owner            finish_publish: rejected   │ finish_publish:
//      │                                                              │ accepted
//      └────────────── release_evicted ◄──── cached ◄─────────────────┘
//
//  - free pages are the page_pool's free list; every other page is allocated there;
//  - private and publishing pages belong to exactly one owner (its owner record);
//  - a publish names its pages in the publishing table until the trie answers: its
//    duplicates go free, its canonical pages become cached, the rest go back to the
//    owner (or free, when the owner dropped meanwhile: the publish is "orphaned");
//  - cached pages belong to the trie, which gives them back only by eviction.
//
// Counters are kept incrementally; check_invariants() recounts every state from
// the per-page states, the owner records, the publishing table and the pool's free
// list independently, so a counter or record that drifts is caught.

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "kvcache/page_pool.hpp"

namespace kvactor {

/// Who holds private pages; 0 is nobody. The actor maps its senders to these.
using owner_id = uint64_t;

enum class page_state : uint8_t { free = 0, private_page = 1, publishing = 2, cached = 3 };

/// Stable lowercase name ("free", "private", "publishing", "cached").
const char* to_string(page_state state) noexcept;

struct ownership_counts {
  int32_t total = 0;
  int32_t free = 0;
  int32_t private_pages = 0;  ///< private or publishing: held by an owner
  int32_t publishing = 0;
  int32_t cached = 0;
  int32_t owners = 0;  ///< owners holding at least one private or publishing page
};

class page_ownership {
 public:
  /// `num_pages` pages, all free. Throws std::invalid_argument if num_pages < 0.
  explicit page_ownership(int32_t num_pages);

  /// Takes `n` free pages for `owner` (not 0) and appends them to `out`. All or
  /// nothing: no_capacity if fewer are free, invalid_argument if n < 0 or owner is 0.
  kv_errc allocate(owner_id owner, int32_t n, std::vector<page_id>& out);

  /// Returns some of `owner`'s private pages to the free list. Rejected whole, state
  /// unchanged: page_in_use if any page is cached (checked first, like
  /// paged_cache did), then per page in order unknown_page (out of range),
  /// double_release (free), repeated_page, not_owner (another owner's, or
  /// publishing).
  kv_errc release(owner_id owner, const std::vector<page_id>& ids);

  /// Frees every private page of `owner` and orphans its publishes (their pages go
  /// free when the trie answers). Returns the number of pages freed now.
  int32_t drop_owner(owner_id owner);

  struct publish_ticket {
    kv_errc status = kv_errc::ok;
    page_id page = -1;  ///< the offending page when status != ok
    uint64_t id = 0;    ///< pass to finish_publish when status == ok
  };
  /// Starts a publish of `pages` by `owner`: each must be the owner's private page
  /// (it becomes publishing) or already cached (skipped); repeats are allowed (the
  /// trie rejects them). unknown_page (out of range or free) or not_owner (another
  /// owner's, or already publishing), nothing changed.
  publish_ticket begin_publish(owner_id owner, const std::vector<page_id>& pages);

  /// The trie's answer to publish `ticket`. accepted: each publishing page listed
  /// in `canonical` becomes cached, each in `duplicates` goes free; any other goes
  /// back to its owner. Rejected (accepted == false): every page goes back to its
  /// owner, or free if the owner dropped meanwhile. Returns the pages freed. An
  /// unknown ticket is ignored (returns none).
  std::vector<page_id> finish_publish(uint64_t ticket, bool accepted, const std::vector<page_id>& canonical,
                                      const std::vector<page_id>& duplicates);

  /// The trie evicted `pages`: each must be cached (not_cached otherwise, or
  /// unknown_page out of range; nothing changed). They go free.
  kv_errc release_evicted(const std::vector<page_id>& pages);

  /// Counters, O(1).
  ownership_counts counts() const noexcept;
  int32_t total() const noexcept { return pool_.total(); }
  int32_t free_count() const noexcept { return pool_.free_count(); }
  int32_t cached_count() const noexcept { return cached_; }
  /// State of `page`; free for an out-of-range id.
  page_state state_of(page_id page) const noexcept;
  /// Owner of a private or publishing page, else 0.
  owner_id owner_of(page_id page) const noexcept;
  /// Pending publishes (tickets issued and not finished).
  int32_t pending_publishes() const noexcept { return static_cast<int32_t>(publishing_.size()); }

  /// Recounts from scratch (O(pages + records)); throws invariant_error naming the
  /// first inconsistency: the pool's own free list, free state <=> free in the pool,
  /// each counter against a recount of the per-page states, owner records against
  /// the per-page owners (both directions), the publishing table against the
  /// publishing pages (each in exactly one entry), and free + private + publishing +
  /// cached == total from the four independent recounts.
  void check_invariants() const;

 private:
  friend struct kvcache_test_access;  // tests corrupt state to prove check_invariants notices
  struct pending_publish {
    owner_id owner = 0;
    std::vector<page_id> pages;  // unique, publishing
    bool orphaned = false;
  };
  bool in_range(page_id page) const noexcept { return page >= 0 && page < pool_.total(); }
  void set_state(page_id page, page_state state) noexcept;
  void forget(owner_id owner, page_id page);         // drop `page` from owner's record
  void free_now(const std::vector<page_id>& pages);  // states already free; pool release

  page_pool pool_;
  std::vector<page_state> state_;                // [page]
  std::vector<owner_id> owner_;                  // [page] owner while private/publishing, else 0
  std::map<owner_id, std::set<page_id>> owned_;  // owner -> private and publishing pages
  std::map<uint64_t, pending_publish> publishing_;
  uint64_t next_ticket_ = 1;
  int32_t private_ = 0;  // state == private_page
  int32_t publishing_count_ = 0;
  int32_t cached_ = 0;
};

/// 'f' free, 'p' private or publishing, 'L' cached and locked, 'e' cached and
/// evictable, '!' where the trie's cached_states (prefix_trie::cached_states()
/// bytes) and the ownership disagree (a page cached on one side only).
std::string page_state_map(const page_ownership& pages, const std::vector<uint8_t>& trie_states);

/// "" if the trie's cached_states and the ownership agree page for page (same
/// length, cached in one exactly when cached in the other), else the first problem.
std::string cross_check(const page_ownership& pages, const std::vector<uint8_t>& trie_states);

}  // namespace kvactor
