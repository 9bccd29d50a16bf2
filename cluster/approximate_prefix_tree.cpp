#include "cluster/approximate_prefix_tree.hpp"

#include <algorithm>
#include <queue>
#include <stdexcept>
#include <utility>

namespace kvactor::cluster {

approximate_prefix_tree::approximate_prefix_tree(std::size_t max_tokens)
    : root_(std::make_unique<node>()), max_tokens_(max_tokens) {
  if (max_tokens == 0) throw std::invalid_argument("approximate_prefix_tree: max_tokens must be at least 1");
}

approximate_prefix_tree::~approximate_prefix_tree() = default;
approximate_prefix_tree::approximate_prefix_tree(approximate_prefix_tree&&) noexcept = default;
approximate_prefix_tree& approximate_prefix_tree::operator=(approximate_prefix_tree&&) noexcept = default;

std::size_t approximate_prefix_tree::match(const std::vector<int32_t>& tokens) const {
  const node* at = root_.get();
  std::size_t matched = 0;
  for (int32_t t : tokens) {
    auto it = at->children.find(t);
    if (it == at->children.end()) break;
    at = it->second.get();
    ++matched;
  }
  return matched;
}

void approximate_prefix_tree::insert(const std::vector<int32_t>& tokens) {
  const uint64_t now = ++clock_;
  node* at = root_.get();
  at->last_use = now;
  for (int32_t t : tokens) {
    auto& child = at->children[t];
    if (!child) {
      child = std::make_unique<node>();
      child->parent = at;
      child->token = t;
      ++size_;
    }
    at = child.get();
    at->last_use = now;
  }
  if (size_ > max_tokens_) evict_to(max_tokens_ - max_tokens_ / 10);
}

// Least recently used leaves first; a parent whose last child goes becomes a candidate.
// Paths are stamped on every insert, so a parent is never older than its children and
// removing leaves in this order removes whole cold branches before any warm prefix.
void approximate_prefix_tree::evict_to(std::size_t target) {
  using entry = std::pair<uint64_t, node*>;
  std::priority_queue<entry, std::vector<entry>, std::greater<entry>> leaves;
  std::vector<node*> stack{root_.get()};
  while (!stack.empty()) {
    node* n = stack.back();
    stack.pop_back();
    if (n != root_.get() && n->children.empty()) leaves.emplace(n->last_use, n);
    for (auto& [token, child] : n->children) stack.push_back(child.get());
  }
  while (size_ > target && !leaves.empty()) {
    node* leaf = leaves.top().second;
    leaves.pop();
    node* parent = leaf->parent;
    parent->children.erase(leaf->token);  // destroys leaf
    --size_;
    ++evicted_;
    if (parent != root_.get() && parent->children.empty()) leaves.emplace(parent->last_use, parent);
  }
}

void approximate_prefix_tree::clear() {
  root_ = std::make_unique<node>();
  size_ = 0;
}

}  // namespace kvactor::cluster
