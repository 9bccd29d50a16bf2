#include <doctest/doctest.h>

#include <algorithm>

#include "scheduling/batch_formation.hpp"

using namespace kvactor::scheduling;

namespace {

limits budget(int32_t max_batch, int32_t tokens, int32_t chunk) {
  limits lim;
  lim.max_batch = max_batch;
  lim.max_tokens_per_step = tokens;
  lim.prefill_chunk = chunk;
  return lim;
}

std::vector<std::size_t> indices(const formed_batch& b) {
  std::vector<std::size_t> out;
  for (auto& s : b.slots) out.push_back(s.index);
  return out;
}

}  // namespace

TEST_CASE("decodes go first, then prefill chunks in running order") {
  std::vector<step_candidate> c = {{true, 20}, {true, 1}, {false, 5}, {true, 1}, {true, 3}};
  auto b = form_batch(c, budget(8, 100, 16));
  CHECK(indices(b) == std::vector<std::size_t>{1, 3, 0, 4});
  CHECK(b.slots[2].tokens == 16);
  CHECK(b.slots[2].truncated);
  CHECK(b.slots[3].tokens == 3);
  CHECK_FALSE(b.slots[3].truncated);
  CHECK(b.tokens == 1 + 1 + 16 + 3);
}

TEST_CASE("the token budget cuts the last prefill and stops formation") {
  std::vector<step_candidate> c = {{true, 10}, {true, 10}, {true, 10}, {true, 1}};
  auto b = form_batch(c, budget(8, 15, 64));
  CHECK(indices(b) == std::vector<std::size_t>{3, 0, 1});
  CHECK(b.slots[1].tokens == 10);
  CHECK(b.slots[2].tokens == 4);
  CHECK(b.slots[2].truncated);
  CHECK(b.tokens == 15);
}

TEST_CASE("max_batch bounds the sequences of a step, decodes included") {
  std::vector<step_candidate> c = {{true, 1}, {true, 1}, {true, 1}, {true, 8}};
  auto b = form_batch(c, budget(2, 100, 64));
  CHECK(indices(b) == std::vector<std::size_t>{0, 1});
  CHECK(b.tokens == 2);
}

TEST_CASE("no ready sequence or no budget forms an empty batch") {
  CHECK(form_batch({{false, 1}, {false, 9}}, budget(8, 100, 64)).slots.empty());
  CHECK(form_batch({{true, 1}, {true, 9}}, budget(8, 0, 64)).slots.empty());
  CHECK(form_batch({}, budget(8, 100, 64)).tokens == 0);
}

TEST_CASE("a batch never exceeds its limits (randomised)") {
  uint32_t x = 12345;
  auto next = [&](uint32_t n) {
    x = x * 1103515245u + 12345u;
    return (x >> 16) % n;
  };
  for (int round = 0; round < 500; ++round) {
    auto lim =
        budget(1 + static_cast<int32_t>(next(8)), static_cast<int32_t>(next(64)), 1 + static_cast<int32_t>(next(32)));
    std::vector<step_candidate> c(next(12));
    for (auto& s : c) s = {next(4) != 0, next(3) == 0 ? 1 : 1 + static_cast<int32_t>(next(40))};
    auto b = form_batch(c, lim);
    int32_t sum = 0;
    std::vector<bool> seen(c.size(), false);
    for (auto& s : b.slots) {
      REQUIRE(s.index < c.size());
      CHECK_FALSE(seen[s.index]);
      seen[s.index] = true;
      CHECK(c[s.index].ready);
      CHECK(s.tokens >= 1);
      CHECK(s.tokens <= c[s.index].offered);
      CHECK(s.truncated == (s.tokens < c[s.index].offered));
      if (c[s.index].offered > 1) CHECK(s.tokens <= lim.prefill_chunk);
      sum += s.tokens;
    }
    CHECK(sum == b.tokens);
    CHECK(sum <= lim.max_tokens_per_step);
    CHECK(static_cast<int32_t>(b.slots.size()) <= lim.max_batch);
    // Every ready decode is in the batch while there is room and budget for it.
    int32_t decodes = 0;
    for (auto& s : c) decodes += s.ready && s.offered == 1;
    CHECK(static_cast<int32_t>(b.slots.size()) >= std::min<int32_t>({decodes, lim.max_batch, lim.max_tokens_per_step}));
  }
}
