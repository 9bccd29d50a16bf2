#pragma once
// Eviction policies for prefix_trie: which unlocked leaf goes first.
//
// A policy maps a node's usage statistics to an eviction_key; the trie evicts the
// evictable leaf with the smallest (key.primary, key.secondary, page id) first.
// The key is computed once, when a node becomes an evictable leaf: a node in the
// evictable set is never touched (touching locks it, which takes it out of the set),
// so its key cannot go stale.

#include <cstdint>
#include <memory>
#include <string>

namespace kvactor {

/// What a policy may look at.
struct node_usage {
  uint64_t last_access = 0;  ///< `now` of the latest match/publish that touched the node
  uint64_t hit_count = 0;    ///< number of match() calls whose path contained the node
  int32_t depth = 0;         ///< pages from the namespace root (1 = first page)
};

/// Smaller evicts first; ties broken by `secondary`, then by page id.
struct eviction_key {
  uint64_t primary = 0;
  uint64_t secondary = 0;
};

/// Interface of a pluggable eviction policy.
class eviction_policy {
 public:
  virtual ~eviction_policy() = default;
  /// Short stable name ("lru", "lfu") shown by /v1/inspect/cache.
  virtual const char* name() const noexcept = 0;
  /// Ordering key of a node that has just become an evictable leaf.
  virtual eviction_key key(const node_usage& usage) const noexcept = 0;
};

/// Least recently used first: (last_access, 0). The default.
class lru_policy final : public eviction_policy {
 public:
  const char* name() const noexcept override { return "lru"; }
  eviction_key key(const node_usage& usage) const noexcept override { return {usage.last_access, 0}; }
};

/// Least frequently used first, then least recently used: (hit_count, last_access).
class lfu_policy final : public eviction_policy {
 public:
  const char* name() const noexcept override { return "lfu"; }
  eviction_key key(const node_usage& usage) const noexcept override { return {usage.hit_count, usage.last_access}; }
};

/// Policy by name: "lru" or "lfu". Returns nullptr for any other name.
std::unique_ptr<eviction_policy> make_eviction_policy(const std::string& name);

}  // namespace kvactor
