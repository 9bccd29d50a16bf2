#pragma once
// The node record of prefix_trie, shared by its implementation files only.
// Nodes live in one vector and refer to each other by slot index; a node's page
// tokens live in prefix_trie::tokens_ at [slot * page_size, (slot + 1) * page_size).

#include <cstdint>
#include <cstring>

#include "kvcache/edge_index.hpp"
#include "kvcache/prefix_trie.hpp"

namespace kvactor {

// Up to this many children a sibling scan (first token, then memcmp) beats hashing
// the page and a likely cache miss in the edge index; wider nodes index their children.
constexpr int32_t sibling_scan_limit = 8;

// One cache line per node: everything a match step reads or writes (child scan,
// first token, lock, touch) sits in it. The namespace of a root, the page hash and
// the eviction key live elsewhere (roots_, recomputed, heap entries).
struct alignas(64) prefix_trie::node {
  int32_t first_child = -1;
  int32_t next_sibling = -1;  // also the link of the free slot list
  int32_t child_count = 0;
  int32_t first_token = 0;  // tokens[0], checked before a full compare
  page_id page = -1;        // -1 for a root
  int32_t parent = -1;      // -1 for a root
  int32_t lock_count = 0;   // roots are never locked
  int32_t heap_pos = -1;    // position in the evictable heap, -1 if not in it
  uint64_t last_access = 0;
  uint64_t hit_count = 0;
  int32_t prev_sibling = -1;
  int32_t depth = 0;
  bool live = false;
  bool children_indexed = false;  // children are in the edge index (set once fan-out grows past the scan limit)
  bool is_root() const noexcept { return parent < 0; }
};

/// Hash of one page of tokens. Four independent multiply lanes keep the dependency
/// chain short (a 16-token page is two rounds).
inline uint64_t page_token_hash(const int32_t* tokens, int32_t count) noexcept {
  constexpr uint64_t k = 0x9E3779B97F4A7C15ull;
  uint64_t lane[4] = {k, k ^ 0x1234567ull, k ^ 0x89abcdefull, k ^ 0x5555aaaaull};
  int32_t i = 0;
  for (; i + 2 <= count; i += 2) {
    uint64_t word;
    std::memcpy(&word, tokens + i, sizeof word);
    uint64_t& h = lane[(i >> 1) & 3];
    h = (h ^ word) * k;
    h ^= h >> 29;
  }
  if (i < count) lane[0] = (lane[0] ^ static_cast<uint32_t>(tokens[i]) ^ 0xabcdull) * k;
  uint64_t h = lane[0] ^ (lane[1] * 3) ^ (lane[2] * 5) ^ (lane[3] * 7) ^ static_cast<uint64_t>(count);
  h ^= h >> 31;
  h *= k;
  h ^= h >> 29;
  return h;
}

/// Key of the edge parent -> child in the edge index.
inline uint64_t edge_key(int32_t parent, uint64_t page_hash) noexcept {
  uint64_t h = page_hash ^ (static_cast<uint64_t>(static_cast<uint32_t>(parent)) * 0xC2B2AE3D27D4EB4Full);
  h ^= h >> 33;
  h *= 0xFF51AFD7ED558CCDull;
  h ^= h >> 33;
  return h;
}

}  // namespace kvactor
