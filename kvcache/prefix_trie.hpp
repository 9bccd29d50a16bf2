#pragma once
// prefix_trie: the prefix index over full pages of tokens (a radix tree whose edges
// are exactly one page long), one tree per namespace (model or adapter id).
//
//   namespace root (no page)
//     ├── node: tokens [0,16)  page 7   lock 2
//     │     └── node: tokens [16,32) page 3  lock 1      <- a handle locks its whole path
//     └── node: tokens [0,16)' page 12  lock 0           <- unlocked leaf: evictable
//
// Invariants (check_invariants() recounts them from scratch):
//  - every node's parent/child/sibling links agree; depth = parent depth + 1;
//  - no page id is held by two nodes;
//  - lock_count(node) == number of live handles whose path contains the node,
//    so a locked node's ancestors are locked too;
//  - the evictable set is exactly the unlocked leaves, and only they are evicted;
//  - cached_pages() == nodes, locked_pages() == nodes with lock_count > 0.
//
// Callers never see nodes: they get page ids, handles and snapshots.
// Single-threaded; one owner (the trie actor). No CAF dependency.

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "kvcache/eviction_policy.hpp"
#include "kvcache/kv_errc.hpp"

namespace kvactor {

class edge_index;  // kvcache/edge_index.hpp, internal

/// What match() found.
struct match_result {
  std::vector<page_id> pages;  ///< cached pages, pages[i] holds tokens [i*page_size, (i+1)*page_size)
  int32_t cached_tokens = 0;   ///< pages.size() * page_size
  uint64_t handle = 0;         ///< lock on the matched path; 0 = nothing matched, nothing locked
};

/// What publish() did. On an error only `status` is set and the trie is unchanged.
struct publish_result {
  kv_errc status = kv_errc::ok;
  /// Caller's pages whose tokens were already cached under a different page: the
  /// trie did not take them, the caller still owns them and must release them.
  std::vector<page_id> duplicates;
  /// Canonical page for each published page position: the caller's page where it
  /// was inserted (or already was the cached one), the existing node's page where
  /// it was a duplicate. The caller's block table must use these from now on.
  std::vector<page_id> pages;
  /// Number of new nodes inserted (pages taken over by the trie).
  int32_t inserted = 0;
  /// Lock covering the whole published path (the input handle, extended, or a fresh
  /// one when the input handle was 0); 0 only if nothing was published. The caller
  /// must unlock() it when it stops reading those pages.
  uint64_t handle = 0;
};

/// Lock/eviction state of one page id as seen by the trie.
enum class cached_state : uint8_t { not_cached = 0, locked = 1, evictable = 2 };

/// One node of a snapshot, for /v1/inspect/cache. Namespace roots have page -1.
struct trie_snapshot_node {
  int32_t parent = -1;                ///< index into trie_snapshot::nodes, -1 for a namespace root
  uint64_t ns = 0;                    ///< namespace of the tree this node belongs to
  page_id page = -1;                  ///< -1 for a namespace root
  int32_t depth = 0;                  ///< 0 for a root, 1 for a first page, ...
  int32_t token_count = 0;            ///< page_size, 0 for a root
  std::vector<int32_t> first_tokens;  ///< up to 8 leading tokens of the page
  int32_t lock_count = 0;
  uint64_t hit_count = 0;
  uint64_t last_access = 0;
  int32_t pages_below = 0;  ///< cached pages strictly below this node
};

/// Bounded view of the whole trie; parents always precede their children (BFS order).
struct trie_snapshot {
  int32_t page_size = 0;
  std::string policy;
  int32_t cached_pages = 0;
  int32_t locked_pages = 0;
  int32_t evictable_pages = 0;
  int32_t live_handles = 0;
  int32_t max_depth = 0;   ///< deepest node in the whole trie, not just the snapshot
  uint64_t hits = 0;       ///< pages returned by match() so far
  uint64_t evictions = 0;  ///< pages returned by evict() so far
  bool truncated = false;  ///< nodes were left out because of max_depth / max_nodes
  std::vector<trie_snapshot_node> nodes;
};

class prefix_trie {
 public:
  /// A trie over pages of `page_size` tokens whose page ids lie in [0, num_pages)
  /// (the size of the page pool it caches for). `policy` null means LRU.
  /// Throws std::invalid_argument if page_size <= 0 or num_pages < 0.
  prefix_trie(int32_t page_size, int32_t num_pages, std::unique_ptr<eviction_policy> policy = nullptr);
  ~prefix_trie();
  prefix_trie(const prefix_trie&) = delete;
  prefix_trie& operator=(const prefix_trie&) = delete;

  /// Longest cached full-page prefix of `tokens` in namespace `ns`. Considers at most
  /// (tokens.size() - 1) / page_size pages, so at least the last token is never
  /// cached and a full hit still leaves one token to compute logits for. Locks every
  /// node of the path, from the first page down to the last matched one, under one
  /// new handle, sets their
  /// last_access to `now` (a logical clock or milliseconds; callers keep it
  /// non-decreasing) and counts a hit on each. Nothing matched: empty pages, handle 0.
  match_result match(uint64_t ns, const std::vector<int32_t>& tokens, uint64_t now);

  /// Read-only match: the number of pages match() would return right now, without
  /// locking, touching or counting a hit (a scheduling or routing hint; the answer
  /// may change before the caller acts on it).
  int32_t cached_prefix_pages(uint64_t ns, const std::vector<int32_t>& tokens) const;

  /// Ends the hold of `handle`: decrements the lock count of every node on its path;
  /// nodes that become unlocked leaves become evictable. unknown_handle for 0, a
  /// handle never issued, or one already unlocked (state unchanged).
  kv_errc unlock(uint64_t handle);

  /// Inserts the full pages of `tokens` in namespace `ns`: n = min(tokens.size() /
  /// page_size, pages.size()) pages; pages[i] holds tokens [i*ps, (i+1)*ps); extra
  /// pages (a partial last page) are ignored. Walking from the root, position i:
  ///  - no node yet: a new node takes pages[i] (the trie now owns that page);
  ///  - a node holding pages[i] already: nothing to do (the caller got it from match);
  ///  - a node holding another page: pages[i] is a duplicate, returned for release,
  ///    and the node's page is the canonical one.
  /// The published path is a single chain from the root, so a duplicate at i followed
  /// by new nodes at i+1.. hangs the new nodes under the existing node.
  /// Locking: with handle != 0 the handle (from match or an earlier publish of the
  /// same sequence) must lock a prefix of this path, or the path a prefix of it; its
  /// lock is extended to the longer of the two and the handle stays valid (SGLang's
  /// cache_unfinished_req: the request keeps reading those pages). With handle == 0 a
  /// fresh handle locks the published path. Either way result.handle must be
  /// unlocked by the caller eventually (right away for a finished sequence).
  /// Touches every node on the path (last_access = now); hit counts are unchanged.
  /// Errors (status set, trie unchanged, nothing locked): unknown_handle (checked
  /// first); then, position by position, unknown_page (id outside [0, num_pages)),
  /// repeated_page, page_already_cached (pages[i] held by a node at another
  /// position); then handle_mismatch. The trie never touches the pool: releasing
  /// duplicates is the caller's job (paged_cache does it).
  publish_result publish(uint64_t ns, const std::vector<int32_t>& tokens, const std::vector<page_id>& pages,
                         uint64_t handle, uint64_t now);

  /// Removes up to `n` pages from unlocked leaves in policy order (smallest
  /// eviction_key, then smallest page id) and returns their ids; the caller returns
  /// them to the pool. A parent whose last child goes becomes a leaf and, if
  /// unlocked, is evictable within the same call. Returns fewer than n only if the
  /// trie runs out of unlocked nodes. n <= 0 returns nothing.
  std::vector<page_id> evict(int32_t n);

  /// Pages held by trie nodes (locked + evictable).
  int32_t cached_pages() const noexcept { return cached_pages_; }
  /// Pages whose node has lock_count > 0.
  int32_t locked_pages() const noexcept { return locked_pages_; }
  /// Pages whose node is unlocked: all of them can be evicted (leaves first).
  int32_t evictable_pages() const noexcept { return cached_pages_ - locked_pages_; }
  /// Handles issued and not yet unlocked.
  int32_t live_handles() const noexcept { return live_handles_; }
  int32_t page_size() const noexcept { return page_size_; }
  int32_t num_pages() const noexcept { return num_pages_; }
  const char* policy_name() const noexcept { return policy_->name(); }
  /// Pages returned by match() so far (sum of matched pages).
  uint64_t hit_pages() const noexcept { return hit_pages_; }
  /// Pages returned by evict() so far.
  uint64_t evicted_pages() const noexcept { return evicted_pages_; }

  /// State of `page` in the trie (not_cached also for ids out of range).
  cached_state state_of(page_id page) const noexcept;
  /// One cached_state per page id in [0, num_pages), as bytes: a message-friendly
  /// copy for cross-actor accounting (see cache_accounting.hpp).
  std::vector<uint8_t> cached_states() const;
  /// Page ids on the path locked by `handle`, root side first; empty if unknown.
  std::vector<page_id> handle_pages(uint64_t handle) const;

  /// Bounded BFS view: nodes at depth <= max_depth, at most max_nodes of them
  /// (namespace roots included). O(all nodes) for the summary counts.
  trie_snapshot snapshot(int32_t max_depth, int32_t max_nodes) const;

  /// Recounts everything from scratch: tree shape and links, depths, the edge
  /// index, no page twice, lock counts == live handles' paths, evictable set ==
  /// unlocked leaves with correct keys, counters. Throws invariant_error.
  void check_invariants() const;

 private:
  // Lets tests corrupt internal state on purpose to prove check_invariants() notices.
  friend struct kvcache_test_access;
  struct node;
  struct heap_entry {
    eviction_key key;  // policy key, fixed while the node is evictable
    page_id page;      // tie-break
    int32_t node;
  };
  struct handle_slot {
    uint32_t generation = 1;  // bumped on unlock so stale handles are rejected
    int32_t node = -1;        // deepest locked node; -1 when the slot is free
    int32_t next_free = -1;
    std::vector<int32_t> path;  // locked nodes, root side first (path.back() == node); kept
                                // so unlock reads them independently instead of chasing parents
  };

  int32_t find_child(int32_t parent, const int32_t* page_tokens) const;
  int32_t new_node(int32_t parent, const int32_t* page_tokens, page_id page, uint64_t now);
  int32_t new_root(uint64_t ns);
  void remove_leaf(int32_t index);
  void unlock_path(const std::vector<int32_t>& path);

  void heap_push(int32_t index);
  void heap_erase(int32_t index);
  void heap_sift_up(int32_t pos);
  void heap_sift_down(int32_t pos);
  static bool heap_less(const heap_entry& a, const heap_entry& b) noexcept;
  void heap_place(int32_t pos, const heap_entry& entry);
  struct alignas(64) token_line {
    int32_t tokens[16];
  };
  const int32_t* tokens_of(int32_t slot) const noexcept {
    return reinterpret_cast<const int32_t*>(tokens_.data() + static_cast<size_t>(slot) * lines_per_slot_);
  }
  int32_t* tokens_of(int32_t slot) noexcept {
    return reinterpret_cast<int32_t*>(tokens_.data() + static_cast<size_t>(slot) * lines_per_slot_);
  }
  int32_t take_slot();
  uint64_t slot_hash(int32_t slot) const noexcept;
  void touch_and_lock(const std::vector<int32_t>& path, size_t lock_from, uint64_t now, bool count_hit);
  void refresh_evictable(int32_t index);
  uint64_t new_handle(const std::vector<int32_t>& path);
  int32_t handle_node(uint64_t handle) const noexcept;
  int32_t root_of(uint64_t ns) const;
  int32_t root_for(uint64_t ns);

  int32_t page_size_;
  int32_t num_pages_;
  std::unique_ptr<eviction_policy> policy_;
  std::vector<node> nodes_;         // node slots; freed slots are reused
  std::vector<token_line> tokens_;  // [node slot][lines_per_slot_] tokens of each node, cache-line aligned
  size_t lines_per_slot_;
  std::vector<int32_t> free_slots_;                // unused node slots, a stack (an array, not a list threaded
                                                   // through the nodes: popping never waits on a cold node)
  std::unique_ptr<edge_index> edges_;              // (parent, page tokens) -> child, for wide fan-out
  std::unordered_map<uint64_t, int32_t> roots_;    // namespace -> root node slot
  std::unordered_map<int32_t, uint64_t> root_ns_;  // root node slot -> namespace
  std::vector<int32_t> page_node_;                 // [num_pages] node slot holding the page, -1 if none
                                                   // (-2 briefly inside publish: claimed by that call)
  std::vector<heap_entry> heap_;                   // evictable leaves, min-heap by (key, page)
  std::vector<handle_slot> handles_;
  int32_t free_handle_ = -1;
  std::vector<int32_t> path_scratch_;  // match/publish: the path being walked, root side first
  int32_t cached_pages_ = 0;
  int32_t locked_pages_ = 0;
  int32_t live_handles_ = 0;
  uint64_t hit_pages_ = 0;
  uint64_t evicted_pages_ = 0;
};

}  // namespace kvactor
