#pragma once
// edge_index: open-addressing hash table (linear probing, backward-shift deletion)
// from an edge key, hash(parent node, page tokens), to the child node slot.
// Internal to prefix_trie: it lets a node with thousands of children (a namespace
// root under a no-sharing workload) find the right child in O(1) instead of
// scanning its sibling list. Keys may collide; the caller confirms a candidate by
// comparing the parent and the tokens, so the table only narrows the search.

#include <cstdint>
#include <vector>

namespace kvactor {

class edge_index {
 public:
  struct entry {
    uint64_t key = 0;
    int32_t node = -1;  // -1 = empty slot
  };

  edge_index() { slots_.resize(64); }

  /// Calls `confirms(node)` for each stored node whose key equals `key`, in probe
  /// order, and returns the first it accepts, or -1.
  template <class Confirm>
  int32_t find(uint64_t key, Confirm&& confirms) const {
    const size_t mask = slots_.size() - 1;
    for (size_t pos = key & mask;; pos = (pos + 1) & mask) {
      const entry& slot = slots_[pos];
      if (slot.node < 0) return -1;
      if (slot.key == key && confirms(slot.node)) return slot.node;
    }
  }

  /// Adds (key, node). The caller guarantees the pair is not present yet.
  void insert(uint64_t key, int32_t node) {
    if ((size_ + 1) * 2 > slots_.size()) grow();
    place(key, node);
    ++size_;
  }

  /// Removes (key, node); returns false if it was not there.
  bool erase(uint64_t key, int32_t node) {
    const size_t mask = slots_.size() - 1;
    size_t pos = key & mask;
    for (;; pos = (pos + 1) & mask) {
      if (slots_[pos].node < 0) return false;
      if (slots_[pos].node == node && slots_[pos].key == key) break;
    }
    // Backward shift: pull later entries of the probe run into the hole so that
    // lookups never stop early at it (no tombstones to clean up later).
    size_t hole = pos;
    for (size_t next = (hole + 1) & mask; slots_[next].node >= 0; next = (next + 1) & mask) {
      const size_t home = slots_[next].key & mask;
      // The entry at `next` may move to `hole` if its home is not inside (hole, next].
      const bool home_after_hole = hole <= next ? (home > hole && home <= next) : (home > hole || home <= next);
      if (!home_after_hole) {
        slots_[hole] = slots_[next];
        hole = next;
      }
    }
    slots_[hole] = entry{};
    --size_;
    return true;
  }

  size_t size() const noexcept { return size_; }
  const std::vector<entry>& slots() const noexcept { return slots_; }

 private:
  void place(uint64_t key, int32_t node) {
    const size_t mask = slots_.size() - 1;
    size_t pos = key & mask;
    while (slots_[pos].node >= 0) pos = (pos + 1) & mask;
    slots_[pos] = entry{key, node};
  }

  void grow() {
    std::vector<entry> old;
    old.swap(slots_);
    slots_.resize(old.size() * 2);
    for (const entry& slot : old)
      if (slot.node >= 0) place(slot.key, slot.node);
  }

  std::vector<entry> slots_;  // power-of-two size, at most half full
  size_t size_ = 0;
};

}  // namespace kvactor
