// Bad step inputs throw backend_error naming the problem, before any KV write:
// afterwards the store still gives exactly the results it would have given.
#include <doctest/doctest.h>

#include <algorithm>
#include <limits>
#include <string>

#include "device/cpu_backend.hpp"
#include "device/step_validation.hpp"
#include "tests/device/engine_runs.hpp"
#include "tests/device/random_weights.hpp"

using namespace kvactor;
using namespace kvactor::testing;

namespace {

std::shared_ptr<const model_weights> small_model() {
  random_model_shape s;
  s.max_seq_len = 40;
  s.seed = 5;
  static auto m = make_random_model(s);
  return m;
}

sequence_step valid_step() {
  sequence_step s;
  s.seq_id = 9;
  s.tokens = {1, 2, 3};
  s.start_pos = 0;
  s.block_table = {0};
  s.return_logits = true;
  return s;
}

void check_rejected(backend& b, const std::vector<sequence_step>& batch, const std::string& needle) {
  try {
    b.step(batch);
    FAIL("step accepted a bad batch; expected an error mentioning: " << needle);
  } catch (const backend_error& e) {
    CAPTURE(e.what());
    CHECK(std::string(e.what()).find(needle) != std::string::npos);
  }
}

}  // namespace

TEST_CASE("bad step inputs are rejected with a message and leave the KV store untouched") {
  auto b = make_cpu_backend(small_model(), {8, 6}, 2);
  // A sequence with its prompt in pages 0 and 1; we will continue it after the errors.
  const std::vector<int32_t> prompt = {1, 50, 60, 70, 80, 90, 100, 110, 120, 130, 140};
  std::vector<std::vector<float>> want;
  {
    auto clean = make_cpu_backend(small_model(), {8, 6}, 2);
    greedy_generate(*clean, prompt, 5, {0, 1}, 0, &want);
  }
  prefill_logits(*b, std::vector<int32_t>(prompt.begin(), prompt.begin() + 6), {0, 1}, 0);

  // Every bad batch would, if it wrote anything, overwrite pages 0/1 positions 6..
  auto overwriting = [] {
    sequence_step s = valid_step();
    s.tokens = {7, 7, 7};
    s.start_pos = 6;
    s.block_table = {0, 1};
    return s;
  };
  auto bad = overwriting();
  bad.tokens[2] = 256;  // vocab is 256
  check_rejected(*b, {overwriting(), bad}, "outside the vocabulary");
  bad = overwriting();
  bad.tokens[1] = -1;
  check_rejected(*b, {bad}, "outside the vocabulary");
  bad = overwriting();
  bad.tokens.clear();
  check_rejected(*b, {overwriting(), bad}, "no tokens");
  bad = overwriting();
  bad.start_pos = 38;
  bad.block_table = {0, 1, 2, 3, 4};
  check_rejected(*b, {bad}, "context of 40");
  bad = overwriting();
  bad.sample = true;
  bad.allowed_tokens = {1};  // a grammar mask must cover the 256-token vocabulary: 4 words
  check_rejected(*b, {overwriting(), bad}, "allowed_tokens has 1 words, the vocabulary of 256 needs 4");
  bad.allowed_tokens.assign(4, 0);
  check_rejected(*b, {bad}, "allowed_tokens allows no token");
  bad = overwriting();
  bad.start_pos = 7;  // positions 7..9 need two pages
  bad.block_table = {0};
  check_rejected(*b, {bad}, "block table has 1 pages");
  bad = overwriting();
  bad.block_table = {0, 6};
  check_rejected(*b, {overwriting(), bad}, "outside the store's 6 pages");
  bad = overwriting();
  bad.start_pos = -2;
  check_rejected(*b, {bad}, "negative");
  bad = overwriting();
  bad.sample = true;
  bad.sampling.temperature = std::numeric_limits<float>::quiet_NaN();
  check_rejected(*b, {overwriting(), bad}, "temperature");
  bad.sampling.temperature = 1.0f;
  bad.sampling.top_p = 0.0f;
  check_rejected(*b, {bad}, "top_p");
  bad.sampling.top_p = 1.0f;
  bad.sampling.top_k = -3;
  check_rejected(*b, {bad}, "top_k");
  // Two sequences writing the same slot in one step.
  sequence_step other = overwriting();
  other.seq_id = 10;
  other.block_table = {3, 1};
  check_rejected(*b, {overwriting(), other}, "same KV slot");

  // The store is exactly as it was: finishing the prompt and decoding matches a clean run.
  std::vector<std::vector<float>> got;
  std::vector<float> logits = prefill_logits(*b, prompt, {0, 1}, 0, 6);
  std::vector<int32_t> tokens = prompt;
  for (int i = 0; i < 5; ++i) {
    got.push_back(logits);
    tokens.push_back(static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin()));
    sequence_step s = valid_step();
    s.tokens = {tokens.back()};
    s.start_pos = static_cast<int32_t>(tokens.size()) - 1;
    s.block_table = {0, 1};
    logits = b->step({s})[0].logits;
  }
  REQUIRE(got.size() == want.size());
  for (std::size_t i = 0; i < got.size(); ++i) CHECK(same_bits(got[i], want[i]));
}

TEST_CASE("bad weights and layouts are rejected when the backend is made") {
  CHECK_THROWS_AS(make_cpu_backend(nullptr, {8, 4}, 1), backend_error);
  CHECK_THROWS_AS(make_cpu_backend(small_model(), {0, 4}, 1), backend_error);
  CHECK_THROWS_AS(make_cpu_backend(small_model(), {8, 0}, 1), backend_error);
  auto broken = std::make_shared<model_weights>(*small_model());
  broken->layers[1].w2.data.pop_back();
  CHECK_THROWS_WITH_AS(make_cpu_backend(broken, {8, 4}, 1), doctest::Contains("blk.1.ffn_down"), backend_error);
  auto wrong_shape = std::make_shared<model_weights>(*small_model());
  wrong_shape->layers[0].wk.rows = 3;
  CHECK_THROWS_WITH_AS(make_cpu_backend(wrong_shape, {8, 4}, 1), doctest::Contains("blk.0.attn_k"), backend_error);
  auto bad_heads = std::make_shared<model_weights>(*small_model());
  bad_heads->config.n_kv_heads = 3;
  CHECK_THROWS_AS(make_cpu_backend(bad_heads, {8, 4}, 1), backend_error);
}

TEST_CASE("an empty batch is a no-op and sampling in a step is reproducible") {
  auto b = make_cpu_backend(small_model(), {8, 6}, 2);
  CHECK(b->step({}).empty());
  sequence_step s = valid_step();
  s.sample = true;
  s.return_logits = false;
  s.sampling.temperature = 0.9f;
  s.sampling.top_k = 40;
  s.sampling.seed = 1234;
  std::vector<int32_t> first_run, second_run;
  for (uint64_t index = 0; index < 16; ++index) {
    s.sample_index = index;
    const auto r = b->step({s});
    CHECK(r[0].seq_id == 9);
    CHECK(r[0].logits.empty());
    first_run.push_back(r[0].token);
  }
  for (uint64_t index = 0; index < 16; ++index) {
    s.sample_index = index;
    second_run.push_back(b->step({s})[0].token);
  }
  CHECK(first_run == second_run);
  std::sort(first_run.begin(), first_run.end());
  CHECK(std::unique(first_run.begin(), first_run.end()) - first_run.begin() > 1);  // it really samples
}

TEST_CASE("a kv layout without pages or with empty pages is refused before anything is allocated") {
  CHECK_THROWS_WITH_AS(make_cpu_backend(small_model(), {0, 8}, 1), doctest::Contains("page_size 0"), backend_error);
  CHECK_THROWS_WITH_AS(make_cpu_backend(small_model(), {16, 0}, 1), doctest::Contains("num_pages 0"), backend_error);
  CHECK_THROWS_WITH_AS(validate_layout({16, -3}), doctest::Contains("num_pages -3"), backend_error);
  CHECK_NOTHROW(validate_layout({1, 1}));
}
