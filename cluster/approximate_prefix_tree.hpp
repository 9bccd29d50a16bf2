// The router's guess of what one node has cached: a token trie of the prompts routed
// to that node (as SGLang's router keeps one per worker). It is approximate by design:
// the node may have evicted pages the tree still lists, and the tree forgets the least
// recently used branches once it holds more than `max_tokens` tokens. A wrong guess
// only costs a cache miss, never a wrong answer. Plain data, no CAF.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <vector>

namespace kvactor::cluster {

class approximate_prefix_tree {
 public:
  // max_tokens >= 1: how many trie nodes (one per token) the tree keeps at most.
  explicit approximate_prefix_tree(std::size_t max_tokens);
  ~approximate_prefix_tree();
  approximate_prefix_tree(approximate_prefix_tree&&) noexcept;
  approximate_prefix_tree& operator=(approximate_prefix_tree&&) noexcept;

  // Length of the longest prefix of `tokens` the tree holds. Does not count as a use.
  std::size_t match(const std::vector<int32_t>& tokens) const;

  // Records `tokens` as routed here (marks the whole path as just used), then evicts
  // least recently used leaves down to 90% of max_tokens if the tree is over its size.
  void insert(const std::vector<int32_t>& tokens);

  std::size_t size() const { return size_; }  // tokens (trie nodes) held
  std::size_t max_tokens() const { return max_tokens_; }
  uint64_t evicted() const { return evicted_; }  // tokens forgotten so far
  void clear();

 private:
  struct node {
    node* parent = nullptr;
    int32_t token = 0;
    uint64_t last_use = 0;
    std::map<int32_t, std::unique_ptr<node>> children;
  };
  void evict_to(std::size_t target);

  std::unique_ptr<node> root_;
  std::size_t max_tokens_;
  std::size_t size_ = 0;
  uint64_t clock_ = 0;  // logical time: one tick per insert, so eviction order is deterministic
  uint64_t evicted_ = 0;
};

}  // namespace kvactor::cluster
