// Token-level masks: which vocabulary tokens may come next in a grammar state.
//
// The vocabulary's token byte strings are laid out once as a trie in preorder, so one mask is a
// single sequential walk: a node whose byte the grammar refuses skips its whole subtree, and each
// surviving node's state is derived from its parent's (one byte step), never from the full string.
//
//   node i: byte, depth, subtree_end (first node after its subtree), tokens ending here
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

#include "grammar/grammar_matcher.hpp"

namespace kvactor::grammar {

// One bit per token id.
struct token_mask {
  std::vector<uint64_t> words;
  void reset(std::size_t vocab_size) { words.assign((vocab_size + 63) / 64, 0); }
  void allow(uint32_t id) { words[id / 64] |= uint64_t{1} << (id % 64); }
  bool allowed(uint32_t id) const { return id / 64 < words.size() && (words[id / 64] >> (id % 64) & 1); }
  std::size_t count() const;
};

class vocabulary_trie {
 public:
  // token_bytes[id]: the bytes token id appends to the text; an empty string (control tokens) is
  // never allowed by a grammar. end_tokens: allowed exactly when the grammar is complete.
  vocabulary_trie(const std::vector<std::string>& token_bytes, std::vector<uint32_t> end_tokens);

  std::size_t vocab_size() const { return vocab_size_; }
  std::size_t node_count() const { return bytes_.size(); }
  const std::vector<uint32_t>& end_tokens() const { return end_tokens_; }

  // Fills `mask` with every token the matcher may take next (end tokens when it is complete).
  void fill_mask(const grammar_matcher& matcher, token_mask& mask) const;

 private:
  friend class mask_cache;
  std::size_t vocab_size_;
  std::vector<uint32_t> end_tokens_;
  std::vector<uint8_t> bytes_;         // per node
  std::vector<uint32_t> depth_;        // per node, 1 for the root's children
  std::vector<uint32_t> subtree_end_;  // per node
  std::vector<uint32_t> token_begin_;  // per node + 1: tokens_[token_begin_[i] .. token_begin_[i+1])
  std::vector<uint32_t> tokens_;
};

// Masks already computed for a grammar state, by state (the stacks' positions and the partial
// UTF-8). Generation revisits states constantly (every character inside an unbounded JSON string
// leaves the same stacks), so most steps are a lookup. On a miss the trie walk runs over interned
// states: each distinct state gets an id and each (state, byte) transition is computed once, so a
// walk through string content (where almost every byte leads back to the same few states) is a
// table lookup per trie node instead of a matcher step. One per request: the request actor owns it
// with its matcher, so no locking. Bounded: cleared when it holds `capacity` masks or 2^16 states.
class mask_cache {
 public:
  explicit mask_cache(std::size_t capacity = 64) : capacity_(capacity) {}
  // The mask for the matcher's current state (computed on a miss).
  const token_mask& mask_for(const vocabulary_trie& trie, const grammar_matcher& matcher);
  std::size_t hits() const { return hits_; }
  std::size_t misses() const { return misses_; }

 private:
  static constexpr int32_t rejected = -1;
  int32_t intern(match_state&& state);
  int32_t transition(const grammar& g, int32_t from, uint8_t byte);
  void walk(const vocabulary_trie& trie, const grammar& g, int32_t root, token_mask& mask);

  std::size_t capacity_;
  std::map<std::vector<const element*>, int32_t> ids_;  // state key -> id
  std::vector<match_state> states_;                     // by id
  std::unordered_map<uint64_t, int32_t> transitions_;   // (id << 8 | byte) -> id or rejected
  std::map<int32_t, token_mask> masks_;                 // by state id
  match_state scratch_;
  std::size_t hits_ = 0, misses_ = 0;
};

}  // namespace kvactor::grammar
