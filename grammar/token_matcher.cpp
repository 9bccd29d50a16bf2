#include "grammar/token_matcher.hpp"

#include <algorithm>
#include <numeric>

namespace kvactor::grammar {

std::size_t token_mask::count() const {
  std::size_t n = 0;
  for (const uint64_t w : words) n += static_cast<std::size_t>(__builtin_popcountll(w));
  return n;
}

vocabulary_trie::vocabulary_trie(const std::vector<std::string>& token_bytes, std::vector<uint32_t> end_tokens)
    : vocab_size_(token_bytes.size()), end_tokens_(std::move(end_tokens)) {
  // Sorting the strings gives the trie's preorder directly: a node per distinct prefix, in order.
  std::vector<uint32_t> order;
  for (uint32_t id = 0; id < token_bytes.size(); ++id)
    if (!token_bytes[id].empty()) order.push_back(id);
  std::sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) {
    return token_bytes[a] != token_bytes[b] ? token_bytes[a] < token_bytes[b] : a < b;
  });
  std::vector<uint32_t> path;  // node index per depth of the previous string
  const std::string* previous = nullptr;
  for (const uint32_t id : order) {
    const std::string& s = token_bytes[id];
    std::size_t common = 0;
    if (previous != nullptr)
      while (common < previous->size() && common < s.size() && (*previous)[common] == s[common]) ++common;
    for (std::size_t d = common; d < path.size(); ++d) subtree_end_[path[d]] = static_cast<uint32_t>(bytes_.size());
    path.resize(common);
    for (std::size_t d = common; d < s.size(); ++d) {
      path.push_back(static_cast<uint32_t>(bytes_.size()));
      bytes_.push_back(static_cast<uint8_t>(s[d]));
      depth_.push_back(static_cast<uint32_t>(d + 1));
      subtree_end_.push_back(0);
      token_begin_.push_back(static_cast<uint32_t>(tokens_.size()));
    }
    tokens_.push_back(id);  // ends at the deepest node, which is the last one added (or equal string)
    previous = &s;
  }
  for (const uint32_t node : path) subtree_end_[node] = static_cast<uint32_t>(bytes_.size());
  token_begin_.push_back(static_cast<uint32_t>(tokens_.size()));
}

void vocabulary_trie::fill_mask(const grammar_matcher& matcher, token_mask& mask) const {
  mask.reset(vocab_size_);
  if (matcher.is_complete())
    for (const uint32_t id : end_tokens_) mask.allow(id);
  if (!matcher.can_continue()) return;
  const grammar& g = matcher.rules();
  thread_local std::vector<match_state> states;  // states[d]: after the first d bytes of the current path
  if (states.empty()) states.resize(1);
  states[0] = matcher.state();
  std::size_t i = 0;
  while (i < bytes_.size()) {
    const uint32_t d = depth_[i];
    if (states.size() <= d) states.resize(d + 1);
    if (!step_byte(g, states[d - 1], bytes_[i], states[d])) {
      i = subtree_end_[i];
      continue;
    }
    // A token ending inside a code point is fine while that code point can still complete.
    for (uint32_t t = token_begin_[i]; t < token_begin_[i + 1]; ++t) mask.allow(tokens_[t]);
    ++i;
  }
}

const token_mask& mask_cache::mask_for(const vocabulary_trie& trie, const grammar_matcher& matcher) {
  // Key: every stack, each closed by a null, then the partial code point's two fields as fake pointers.
  std::vector<const element*> key;
  const match_state& s = matcher.state();
  for (const grammar_stack& stack : s.stacks) {
    key.insert(key.end(), stack.begin(), stack.end());
    key.push_back(nullptr);
  }
  key.push_back(reinterpret_cast<const element*>(static_cast<uintptr_t>(s.partial_value) + 1));
  key.push_back(reinterpret_cast<const element*>(static_cast<uintptr_t>(s.partial_remaining) + 1));
  key.push_back(reinterpret_cast<const element*>(static_cast<uintptr_t>(s.partial_length) + 1));
  const auto found = masks_.find(key);
  if (found != masks_.end()) {
    ++hits_;
    return found->second;
  }
  ++misses_;
  if (masks_.size() >= capacity_) masks_.clear();
  token_mask& mask = masks_[std::move(key)];
  trie.fill_mask(matcher, mask);
  return mask;
}

}  // namespace kvactor::grammar
