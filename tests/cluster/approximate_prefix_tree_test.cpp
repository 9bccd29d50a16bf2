#include <doctest/doctest.h>

#include <stdexcept>
#include <vector>

#include "cluster/approximate_prefix_tree.hpp"

using kvactor::cluster::approximate_prefix_tree;
using tokens = std::vector<int32_t>;

TEST_CASE("approximate tree: match is the longest stored prefix") {
  approximate_prefix_tree tree(100);
  CHECK(tree.match({1, 2, 3}) == 0);
  tree.insert({1, 2, 3, 4});
  CHECK(tree.size() == 4);
  CHECK(tree.match({1, 2, 3, 4}) == 4);
  CHECK(tree.match({1, 2, 9}) == 2);
  CHECK(tree.match({1, 2, 3, 4, 5, 6}) == 4);
  CHECK(tree.match({2}) == 0);
  CHECK(tree.match({}) == 0);
  tree.insert({1, 2, 7});  // shares two tokens: one new node
  CHECK(tree.size() == 5);
  CHECK(tree.match({1, 2, 7, 8}) == 3);
}

TEST_CASE("approximate tree: inserting the same prompt twice adds nothing") {
  approximate_prefix_tree tree(100);
  tree.insert({5, 6, 7});
  tree.insert({5, 6, 7});
  CHECK(tree.size() == 3);
  tree.insert({5, 6});
  CHECK(tree.size() == 3);
}

TEST_CASE("approximate tree: over its size it forgets the least recently used branch first") {
  approximate_prefix_tree tree(10);
  tree.insert({1, 1, 1, 1});  // oldest
  tree.insert({2, 2, 2, 2});
  tree.insert({1, 1, 1, 1});  // used again: now newer than branch 2
  CHECK(tree.size() == 8);
  tree.insert({3, 3, 3, 3});  // 12 > 10: evicts to 9 (90%), from branch 2
  CHECK(tree.size() <= 10);
  CHECK(tree.size() == 9);
  CHECK(tree.evicted() == 3);
  CHECK(tree.match({1, 1, 1, 1}) == 4);
  CHECK(tree.match({3, 3, 3, 3}) == 4);
  CHECK(tree.match({2, 2, 2, 2}) == 1);  // leaves first: the branch shrinks from its end
}

TEST_CASE("approximate tree: a shared prefix outlives the cold suffixes hanging off it") {
  approximate_prefix_tree tree(20);
  const tokens system = {9, 9, 9, 9, 9, 9};
  for (int32_t q = 0; q < 10; ++q) {
    tokens prompt = system;
    prompt.push_back(100 + q);
    prompt.push_back(200 + q);
    tree.insert(prompt);
    CHECK(tree.size() <= 20);
  }
  // The system prompt is on every path and was just used: it is never the victim.
  CHECK(tree.match(system) == system.size());
  tokens newest = system;
  newest.push_back(109);
  newest.push_back(209);
  CHECK(tree.match(newest) == newest.size());
  tokens oldest = system;
  oldest.push_back(100);
  CHECK(tree.match(oldest) == system.size());
}

TEST_CASE("approximate tree: one prompt longer than the whole tree keeps its head") {
  approximate_prefix_tree tree(8);
  tokens long_prompt;
  for (int32_t i = 0; i < 30; ++i) long_prompt.push_back(i);
  tree.insert(long_prompt);
  CHECK(tree.size() <= 8);
  CHECK(tree.match(long_prompt) == tree.size());  // what is left is a prefix, not holes
}

TEST_CASE("approximate tree: clear forgets everything, size zero is refused") {
  approximate_prefix_tree tree(10);
  tree.insert({1, 2});
  tree.clear();
  CHECK(tree.size() == 0);
  CHECK(tree.match({1, 2}) == 0);
  CHECK_THROWS_AS(approximate_prefix_tree(0), std::invalid_argument);
}
