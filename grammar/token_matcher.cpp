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

namespace {

// Every stack, each closed by a null, then the partial code point's fields as fake pointers.
std::vector<const element*> state_key(const match_state& s) {
  std::vector<const element*> key;
  for (const grammar_stack& stack : s.stacks) {
    key.insert(key.end(), stack.begin(), stack.end());
    key.push_back(nullptr);
  }
  for (const uint32_t field :
       {s.partial_value, static_cast<uint32_t>(s.partial_remaining), static_cast<uint32_t>(s.partial_length)})
    key.push_back(reinterpret_cast<const element*>(static_cast<uintptr_t>(field) + 1));
  return key;
}

}  // namespace

int32_t mask_cache::intern(match_state&& state) {
  auto key = state_key(state);
  const auto found = ids_.find(key);
  if (found != ids_.end()) return found->second;
  const auto id = static_cast<int32_t>(states_.size());
  states_.push_back(std::move(state));
  ids_.emplace(std::move(key), id);
  return id;
}

int32_t mask_cache::transition(const grammar& g, int32_t from, uint8_t byte) {
  const uint64_t key = static_cast<uint64_t>(from) << 8 | byte;
  const auto found = transitions_.find(key);
  if (found != transitions_.end()) return found->second;
  const int32_t to =
      step_byte(g, states_[static_cast<std::size_t>(from)], byte, scratch_) ? intern(std::move(scratch_)) : rejected;
  transitions_.emplace(key, to);
  return to;
}

void mask_cache::walk(const vocabulary_trie& trie, const grammar& g, int32_t root, token_mask& mask) {
  std::vector<int32_t> ids{root};  // ids[d]: state after the first d bytes of the current path
  std::size_t i = 0;
  while (i < trie.bytes_.size()) {
    const uint32_t d = trie.depth_[i];
    if (ids.size() <= d) ids.resize(d + 1);
    ids[d] = transition(g, ids[d - 1], trie.bytes_[i]);
    if (ids[d] == rejected) {
      i = trie.subtree_end_[i];
      continue;
    }
    for (uint32_t t = trie.token_begin_[i]; t < trie.token_begin_[i + 1]; ++t) mask.allow(trie.tokens_[t]);
    ++i;
  }
}

const token_mask& mask_cache::mask_for(const vocabulary_trie& trie, const grammar_matcher& matcher) {
  int32_t root = intern(match_state(matcher.state()));
  const auto found = masks_.find(root);
  if (found != masks_.end()) {
    ++hits_;
    return found->second;
  }
  ++misses_;
  if (masks_.size() >= capacity_ || states_.size() >= (1u << 16)) {
    masks_.clear();
    ids_.clear();
    states_.clear();
    transitions_.clear();
    root = intern(match_state(matcher.state()));
  }
  token_mask& mask = masks_[root];
  mask.reset(trie.vocab_size());
  if (matcher.is_complete())
    for (const uint32_t id : trie.end_tokens()) mask.allow(id);
  if (matcher.can_continue()) walk(trie, matcher.rules(), root, mask);
  return mask;
}

}  // namespace kvactor::grammar
