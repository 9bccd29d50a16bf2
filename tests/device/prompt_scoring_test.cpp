// Prompt scoring (sequence_step::score_next, for echo with logprobs): each scored position's
// log probabilities equal logprobs_of() on the logits that position gives when it is the last
// row of a step, bit for bit, however the prompt is chunked and whatever shares the step.
#include <doctest/doctest.h>

#include "device/cpu_backend.hpp"
#include "device/logit_adjust.hpp"
#include "device/step_validation.hpp"
#include "tests/device/engine_runs.hpp"
#include "tests/device/test_models.hpp"

using namespace kvactor;
using namespace kvactor::testing;

namespace {

constexpr int page_size = 8;
constexpr int top_n = 3;

std::vector<int32_t> next_tokens(const std::vector<int32_t>& prompt, std::size_t from, std::size_t count) {
  std::vector<int32_t> out(count, -1);
  for (std::size_t i = 0; i < count; ++i)
    if (from + i + 1 < prompt.size()) out[i] = prompt[from + i + 1];
  return out;
}

// The reference: position p's logits as the last row of a prefill of prompt[0..p].
std::vector<scored_token> reference_scores(backend& b, const std::vector<int32_t>& prompt) {
  std::vector<scored_token> out;
  for (std::size_t p = 0; p + 1 < prompt.size(); ++p) {
    sequence_step s;
    s.seq_id = 99;
    s.tokens.assign(prompt.begin(), prompt.begin() + static_cast<std::ptrdiff_t>(p) + 1);
    s.block_table = page_range(40, 8);
    s.return_logits = true;
    const sequence_result r = b.step({s})[0];
    const token_logprobs lp = logprobs_of(r.logits.data(), static_cast<int>(r.logits.size()), prompt[p + 1], top_n);
    out.push_back({static_cast<int32_t>(p) + 1, lp.chosen, lp.top_ids, lp.top_values});
  }
  return out;
}

void check_scores(const std::vector<scored_token>& got, const std::vector<scored_token>& want) {
  REQUIRE(got.size() == want.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    INFO("scored position " << want[i].position);
    CHECK(got[i].position == want[i].position);
    CHECK(got[i].logprob == want[i].logprob);
    CHECK(got[i].logprob <= 0.0f);
    CHECK(got[i].top_ids == want[i].top_ids);
    CHECK(got[i].top_logprobs == want[i].top_logprobs);
  }
}

}  // namespace

TEST_CASE("prompt scoring equals the log probabilities of each position's own logits, in one step or in chunks") {
  for (const named_model& m : invariance_models()) {
    CAPTURE(m.name);
    const int vocab = m.weights->config.vocab_size;
    const std::vector<int32_t> prompt = make_prompt(21, vocab, 7);
    auto b = make_cpu_backend(m.weights, {page_size, 64}, 2);
    const std::vector<scored_token> want = reference_scores(*b, prompt);

    // One step: every token scored, the last samples (it has no next prompt token).
    sequence_step whole;
    whole.seq_id = 1;
    whole.tokens = prompt;
    whole.block_table = page_range(0, 4);
    whole.sample = true;
    whole.sampling.logprobs = top_n;
    whole.score_next = next_tokens(prompt, 0, prompt.size());
    const sequence_result one = b->step({whole})[0];
    check_scores(one.scored, want);
    // The sampled token is the one an unscored run samples.
    sequence_step plain = whole;
    plain.score_next.clear();
    plain.block_table = page_range(8, 4);
    CHECK(b->step({plain})[0].token == one.token);

    // Chunks of 6, 6, 9 beside an unscored sequence that decodes; its tokens do not change.
    sequence_step other;
    other.seq_id = 2;
    other.tokens = make_prompt(5, vocab, 8);
    other.block_table = page_range(16, 4);
    other.sample = true;
    const int32_t other_alone = b->step({other})[0].token;
    std::vector<scored_token> chunked;
    std::size_t at = 0;
    for (std::size_t len : {6u, 6u, 9u}) {
      sequence_step s = whole;
      s.tokens.assign(prompt.begin() + static_cast<std::ptrdiff_t>(at),
                      prompt.begin() + static_cast<std::ptrdiff_t>(at + len));
      s.start_pos = static_cast<int32_t>(at);
      s.score_next = next_tokens(prompt, at, len);
      s.sample = at + len == prompt.size();
      const std::vector<sequence_result> r = b->step({other, s});
      CHECK(r[0].token == other_alone);
      CHECK(r[0].scored.empty());
      chunked.insert(chunked.end(), r[1].scored.begin(), r[1].scored.end());
      if (s.sample) CHECK(r[1].token == one.token);
      at += len;
    }
    check_scores(chunked, want);
  }
}

TEST_CASE("prompt scoring: -1 entries are skipped, and a bad score_next is refused by name") {
  const named_model& m = invariance_models().front();
  auto b = make_cpu_backend(m.weights, {page_size, 16}, 1);
  sequence_step s;
  s.seq_id = 3;
  s.tokens = {1, 5, 9, 12};
  s.block_table = page_range(0, 1);
  s.score_next = {-1, 9, -1, -1};  // only position 2 (token 9) scored; no top alternatives asked
  const sequence_result r = b->step({s})[0];
  REQUIRE(r.scored.size() == 1u);
  CHECK(r.scored[0].position == 2);
  CHECK(r.scored[0].top_ids.empty());
  CHECK(r.token == -1);  // nothing sampled

  s.score_next = {1, 2};
  CHECK_THROWS_WITH_AS(validate_step({s}, m.weights->config, {page_size, 16}),
                       doctest::Contains("score_next has 2 entries for 4 tokens"), backend_error);
  s.score_next = {1, 2, 3, m.weights->config.vocab_size};
  CHECK_THROWS_WITH_AS(validate_step({s}, m.weights->config, {page_size, 16}),
                       doctest::Contains("neither -1 nor in the vocabulary"), backend_error);
  s.score_next = {1, -2, 3, 4};
  CHECK_THROWS_AS(b->step({s}), backend_error);
}
