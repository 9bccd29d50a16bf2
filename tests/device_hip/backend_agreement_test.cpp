// The GPU backend against the CPU reference: the same greedy tokens for
// stories260K (F32) over a context that crosses the attention chunk boundary, and
// logits within a bound for random f32, f16 and q8_0 models.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "device/cpu_backend.hpp"
#include "device/hip/hip_backend.hpp"
#include "tests/device/engine_runs.hpp"
#include "tests/device/test_models.hpp"
#include "tests/device_hip/gpu_presence.hpp"

using namespace kvactor;
using namespace kvactor::testing;

namespace {

// Largest |a - b| relative to the largest |b| (logits are O(1..10)).
double relative_gap(const std::vector<float>& a, const std::vector<float>& b) {
  double gap = 0, scale = 1e-6;
  for (std::size_t i = 0; i < a.size(); ++i) {
    gap = std::max(gap, static_cast<double>(std::fabs(a[i] - b[i])));
    scale = std::max(scale, static_cast<double>(std::fabs(b[i])));
  }
  return gap / scale;
}

}  // namespace

TEST_CASE("hip backend: greedy tokens equal the CPU backend's for stories260K past one attention chunk") {
  require_gpu();
  const auto& weights = stories260k().weights;
  // On a GPU every token is decoded one step at a time; the emulation prefills
  // the CPU's own text up to just before the 256-key chunk boundary and decodes
  // across it.
  const int page_size = 16, count = emulated_gpu ? 262 : 400, prefilled = emulated_gpu ? 252 : 1;
  const std::vector<int32_t> table = page_range(0, (count + 1 + page_size - 1) / page_size);
  auto cpu = make_cpu_backend(weights, {page_size, static_cast<int>(table.size())}, 2);
  std::vector<std::vector<float>> cpu_logits;
  const std::vector<int32_t> generated = greedy_generate(*cpu, {1}, count, table, 0, &cpu_logits);
  std::vector<int32_t> text{1};
  text.insert(text.end(), generated.begin(), generated.end());

  auto gpu = make_hip_backend(weights, {page_size, static_cast<int>(table.size())});
  sequence_step s;
  s.seq_id = 1;
  s.tokens.assign(text.begin(), text.begin() + prefilled);
  s.block_table = table;
  s.return_logits = true;
  s.sample = true;
  for (int pos = prefilled; pos <= count; ++pos) {  // text[pos] is generated token pos - 1
    const sequence_result r = gpu->step({s})[0];
    INFO("generated token " << pos - 1);
    REQUIRE(r.token == text[static_cast<std::size_t>(pos)]);
    CHECK(relative_gap(r.logits, cpu_logits[static_cast<std::size_t>(pos - 1)]) < 1e-4);
    s.start_pos = pos;
    s.tokens = {r.token};
  }
}

TEST_CASE("hip backend: device greedy sampling and host sampling agree with the logits it returns") {
  require_gpu();
  const auto& weights = stories260k().weights;
  auto gpu = make_hip_backend(weights, {16, 8});
  sequence_step s;
  s.seq_id = 5;
  s.tokens = {1, 400, 31, 77};
  s.block_table = {3, 6};
  s.return_logits = true;
  s.sample = true;
  std::vector<sequence_result> greedy = gpu->step({s});
  REQUIRE(greedy[0].seq_id == 5);
  REQUIRE(greedy[0].logits.size() == 512u);
  std::vector<std::pair<float, int32_t>> scratch;
  CHECK(greedy[0].token == sample_token(greedy[0].logits.data(), 512, sampling_params{}, 0, scratch));
  s.sampling.temperature = 0.9f;
  s.sampling.top_k = 40;
  s.sampling.seed = 1234;
  s.sample_index = 7;
  std::vector<sequence_result> hot = gpu->step({s});  // rewrites the same slots with the same values
  CHECK(hot[0].logits == greedy[0].logits);
  CHECK(hot[0].token == sample_token(hot[0].logits.data(), 512, s.sampling, 7, scratch));
}

TEST_CASE("hip backend: logits agree with the CPU backend for f32, f16 and q8_0 models, chunked or not") {
  require_gpu();
  for (const named_model& m : invariance_models()) {
    CAPTURE(m.name);
    if (llama_layout_gap(*m.weights) != nullptr) {
      // The GPU path runs the plain llama layout only: anything else is refused by name at construction.
      CHECK_THROWS_WITH_AS(make_hip_backend(m.weights, {8, 16}), doctest::Contains("not supported"), backend_error);
      continue;
    }
    const int page_size = 8, vocab = m.weights->config.vocab_size;
    std::vector<int32_t> prompt{1};
    for (int i = 1; i < (emulated_gpu ? 40 : 90); ++i) prompt.push_back(3 + (i * 37) % (vocab - 3));
    const std::vector<int32_t> table = page_range(0, 16);
    // The GPU multiplies Q8_0 in F32, so the CPU does too here (its default quantizes
    // the activations to int8, which moves logits by far more than summation order).
    auto cpu = make_cpu_backend(m.weights, {page_size, 16}, 2, q8_0_activations::f32);
    auto gpu = make_hip_backend(m.weights, {page_size, 16});
    for (int chunk : emulated_gpu ? std::vector<int>{0, 9} : std::vector<int>{0, 7, 1}) {
      CAPTURE(chunk);
      const std::vector<float> want = prefill_logits(*cpu, prompt, table, chunk);
      const std::vector<float> got = prefill_logits(*gpu, prompt, table, chunk);
      REQUIRE(got.size() == want.size());
      // Both backends dequantise exactly, so the dtype does not widen the gap:
      // only summation order and exp differ.
      CHECK(relative_gap(got, want) < 1e-4);
    }
  }
}

TEST_CASE("hip backend: prompt scoring agrees with the CPU backend's") {
  require_gpu();
  const auto& weights = stories260k().weights;
  const std::vector<int32_t> prompt{1, 400, 31, 77, 5, 260, 19, 44, 301, 12, 9, 88};
  sequence_step s;
  s.seq_id = 4;
  s.tokens = prompt;
  s.block_table = page_range(0, 2);
  s.sample = true;
  s.sampling.logprobs = 2;
  for (std::size_t i = 0; i + 1 < prompt.size(); ++i) s.score_next.push_back(prompt[i + 1]);
  s.score_next.push_back(-1);
  auto cpu = make_cpu_backend(weights, {8, 4}, 1);
  auto gpu = make_hip_backend(weights, {8, 4});
  const sequence_result want = cpu->step({s})[0];
  const sequence_result got = gpu->step({s})[0];
  REQUIRE(want.scored.size() == prompt.size() - 1);
  REQUIRE(got.scored.size() == want.scored.size());
  CHECK(got.token == want.token);
  for (std::size_t i = 0; i < want.scored.size(); ++i) {
    CAPTURE(i);
    CHECK(got.scored[i].position == want.scored[i].position);
    CHECK(std::fabs(got.scored[i].logprob - want.scored[i].logprob) < 1e-3);
    CHECK(got.scored[i].top_ids.size() == 2u);
  }
}
