// The central promise: a sequence's logits are bit-identical whatever it shares a
// step with, wherever it sits in the batch, however its prompt is chunked, whoever
// computed its prefix pages, and however many threads the backend uses.
#include <doctest/doctest.h>

#include <algorithm>

#include "device/cpu_backend.hpp"
#include "tests/device/engine_runs.hpp"
#include "tests/device/test_models.hpp"

using namespace kvactor;
using namespace kvactor::testing;

namespace {

constexpr int page_size = 8;

// Logits of every output position when `s` runs alone in fresh pages.
std::vector<std::vector<float>> solo_trace(const named_model& m, scripted_sequence s) {
  auto b = make_cpu_backend(m.weights, {page_size, 64}, 1);
  s.join_step = 0;
  s.chunk = 0;
  s.block_table = page_range(0, static_cast<int>(s.block_table.size()));
  return run_together(*b, {s}, 0)[0];
}

void check_same(const std::vector<std::vector<float>>& got, const std::vector<std::vector<float>>& want) {
  REQUIRE(got.size() == want.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    INFO("output position " << i);
    CHECK(same_bits(got[i], want[i]));
  }
}

}  // namespace

TEST_CASE("logits are identical alone and in batches of any size, order, chunking and timing") {
  for (const named_model& m : cpu_invariance_models()) {
    CAPTURE(m.name);
    const int vocab = m.weights->config.vocab_size;
    // Eight sequences of different lengths, chunkings and arrival times, each in its
    // own pages (spread across the store, not in order).
    std::vector<scripted_sequence> seqs;
    const int lengths[] = {5, 23, 1, 17, 40, 9, 31, 12};
    const int chunks[] = {0, 4, 0, 1, 7, 3, 0, 5};
    const int joins[] = {0, 0, 1, 2, 0, 5, 3, 9};
    for (int i = 0; i < 8; ++i) {
      scripted_sequence s;
      s.prompt = make_prompt(lengths[i], vocab, 100 + static_cast<uint64_t>(i));
      s.chunk = chunks[i];
      s.join_step = joins[i];
      s.decode_tokens = 10;
      for (int p = 0; p < 7; ++p) s.block_table.push_back(63 - (i * 7 + p));
      seqs.push_back(s);
    }
    std::vector<std::vector<std::vector<float>>> solo;
    for (const auto& s : seqs) solo.push_back(solo_trace(m, s));
    for (uint64_t order_seed : {1u, 2u}) {
      for (int threads : {1, 2, 3}) {
        CAPTURE(order_seed);
        CAPTURE(threads);
        auto b = make_cpu_backend(m.weights, {page_size, 64}, threads);
        const auto together = run_together(*b, seqs, order_seed);
        for (std::size_t i = 0; i < seqs.size(); ++i) {
          CAPTURE(i);
          check_same(together[i], solo[i]);
        }
      }
    }
  }
}

TEST_CASE("prefill in one chunk, several chunks or token by token gives identical logits") {
  for (const named_model& m : cpu_invariance_models()) {
    CAPTURE(m.name);
    const std::vector<int32_t> prompt = make_prompt(37, m.weights->config.vocab_size, 7);
    auto b = make_cpu_backend(m.weights, {page_size, 16}, 2);
    std::vector<std::vector<float>> reference;
    const std::vector<int32_t> want = greedy_generate(*b, prompt, 6, page_range(0, 8), 0, &reference);
    for (int chunk : {1, 2, 5, 8, 16, 36}) {
      CAPTURE(chunk);
      std::vector<std::vector<float>> logits;
      const std::vector<int32_t> got = greedy_generate(*b, prompt, 6, page_range(8, 8), chunk, &logits);
      CHECK(got == want);
      check_same(logits, reference);
    }
  }
}

TEST_CASE("prefix pages computed by another sequence give identical logits") {
  for (const named_model& m : cpu_invariance_models()) {
    CAPTURE(m.name);
    const int vocab = m.weights->config.vocab_size;
    std::vector<int32_t> shared = make_prompt(3 * page_size, vocab, 31);  // three full pages
    std::vector<int32_t> first = shared, second = shared;
    for (int32_t t : make_prompt(6, vocab, 32)) first.push_back(t);
    for (int32_t t : make_prompt(11, vocab, 33)) second.push_back(t);

    // `second` alone, computing everything itself.
    auto alone = make_cpu_backend(m.weights, {page_size, 32}, 2);
    std::vector<std::vector<float>> want;
    const std::vector<int32_t> want_tokens = greedy_generate(*alone, second, 8, page_range(0, 8), 0, &want);

    // `first` writes pages 10..12 (the shared prefix) then its own; `second` reuses
    // 10..12 and continues in pages 20.. from position 24.
    auto b = make_cpu_backend(m.weights, {page_size, 32}, 2);
    greedy_generate(*b, first, 4, {10, 11, 12, 13, 14}, 5);
    const std::vector<int32_t> table = {10, 11, 12, 20, 21, 22, 23, 24};
    std::vector<std::vector<float>> got;
    std::vector<float> logits = prefill_logits(*b, second, table, 0, 3 * page_size);
    std::vector<int32_t> tokens = second;
    for (int i = 0; i < 8; ++i) {
      got.push_back(logits);
      tokens.push_back(static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin()));
      sequence_step s;
      s.start_pos = static_cast<int32_t>(tokens.size()) - 1;
      s.tokens = {tokens.back()};
      s.block_table = table;
      s.return_logits = true;
      logits = b->step({s})[0].logits;
    }
    check_same(got, want);
    CHECK(std::vector<int32_t>(tokens.begin() + static_cast<std::ptrdiff_t>(second.size()), tokens.end()) ==
          want_tokens);
  }
}

TEST_CASE("results do not depend on the thread count") {
  for (const named_model& m : cpu_invariance_models()) {
    CAPTURE(m.name);
    const std::vector<int32_t> prompt = make_prompt(29, m.weights->config.vocab_size, 9);
    std::vector<std::vector<float>> want;
    {
      auto b = make_cpu_backend(m.weights, {16, 4}, 1);
      greedy_generate(*b, prompt, 12, page_range(0, 4), 0, &want);
    }
    for (int threads : {2, 3, 4, 7}) {
      CAPTURE(threads);
      auto b = make_cpu_backend(m.weights, {16, 4}, threads);
      std::vector<std::vector<float>> got;
      greedy_generate(*b, prompt, 12, page_range(0, 4), 0, &got);
      check_same(got, want);
    }
  }
}

namespace {

// Sampled generation of `count` tokens for each sequence, all sequences in every
// step (together) or each on its own backend (alone).
std::vector<std::vector<int32_t>> sampled_runs(const named_model& m, const std::vector<std::vector<int32_t>>& prompts,
                                               int count, bool together) {
  std::vector<std::vector<int32_t>> out(prompts.size());
  std::vector<sequence_step> steps(prompts.size());
  for (std::size_t i = 0; i < prompts.size(); ++i) {
    steps[i].seq_id = i;
    steps[i].tokens = prompts[i];
    steps[i].block_table = page_range(static_cast<int>(i) * 8, 8);
    steps[i].sample = true;
    steps[i].sampling.temperature = 0.8f + 0.1f * static_cast<float>(i);
    steps[i].sampling.top_k = i == 1 ? 20 : 0;
    steps[i].sampling.top_p = i == 2 ? 0.9f : 1.0f;
    steps[i].sampling.seed = 1000 + i;
  }
  auto advance = [&](std::size_t i, int32_t token) {
    out[i].push_back(token);
    steps[i].start_pos += static_cast<int32_t>(steps[i].tokens.size());
    steps[i].tokens = {token};
    steps[i].sample_index = out[i].size();
  };
  if (together) {
    auto b = make_cpu_backend(m.weights, {page_size, 8 * static_cast<int>(prompts.size())}, 2);
    for (int n = 0; n < count; ++n) {
      const auto results = b->step(steps);
      for (std::size_t i = 0; i < steps.size(); ++i) advance(i, results[i].token);
    }
  } else {
    for (std::size_t i = 0; i < steps.size(); ++i) {
      auto b = make_cpu_backend(m.weights, {page_size, 8 * static_cast<int>(prompts.size())}, 1);
      for (int n = 0; n < count; ++n) advance(i, b->step({steps[i]})[0].token);
    }
  }
  return out;
}

}  // namespace

TEST_CASE("sampled tokens are reproducible and the same alone or batched") {
  for (const named_model& m : cpu_invariance_models()) {
    CAPTURE(m.name);
    const int vocab = m.weights->config.vocab_size;
    const std::vector<std::vector<int32_t>> prompts = {make_prompt(9, vocab, 1), make_prompt(20, vocab, 2),
                                                       make_prompt(3, vocab, 3)};
    const auto alone = sampled_runs(m, prompts, 24, false);
    CHECK(sampled_runs(m, prompts, 24, true) == alone);
    CHECK(sampled_runs(m, prompts, 24, false) == alone);
    CHECK(alone[0] != alone[1]);
  }
}

TEST_CASE("the page size does not change the logits") {
  for (const named_model& m : cpu_invariance_models()) {
    CAPTURE(m.name);
    const std::vector<int32_t> prompt = make_prompt(21, m.weights->config.vocab_size, 17);
    std::vector<std::vector<float>> want;
    {
      auto b = make_cpu_backend(m.weights, {16, 4}, 1);
      greedy_generate(*b, prompt, 10, page_range(0, 4), 0, &want);
    }
    for (int ps : {1, 3, 64}) {
      CAPTURE(ps);
      const int pages = (31 + ps - 1) / ps;
      auto b = make_cpu_backend(m.weights, {ps, pages + 2}, 2);
      std::vector<int32_t> table = page_range(2, pages);
      std::reverse(table.begin(), table.end());  // pages need not be in order
      std::vector<std::vector<float>> got;
      greedy_generate(*b, prompt, 10, table, 4, &got);
      check_same(got, want);
    }
  }
}
