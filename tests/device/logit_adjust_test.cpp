// Each sampling parameter against a direct computation on the logits: logit_bias shifts
// exactly its ids, each penalty changes exactly the logits it should, min_p removes
// exactly the tokens under min_p times the top probability, and the log probabilities
// equal log_softmax of the raw logits.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <set>
#include <vector>

#include "device/logit_adjust.hpp"
#include "device/step_sampling.hpp"

using namespace kvactor;

namespace {

const std::vector<float> base = {1.5f, -0.5f, 0.0f, 2.0f, -3.0f, 0.25f, 4.0f, -1.0f};

std::vector<float> adjusted(const sampling_params& p, const std::vector<int32_t>& history, std::size_t prompt_len) {
  std::vector<float> l = base;
  adjust_logits(l.data(), static_cast<int>(l.size()), p, history, prompt_len);
  return l;
}

}  // namespace

TEST_CASE("logit_bias adds exactly its values to exactly its ids") {
  sampling_params p;
  p.bias_ids = {2, 6};
  p.bias_values = {100.0f, -100.0f};
  const auto l = adjusted(p, {}, 0);
  for (std::size_t i = 0; i < base.size(); ++i) CHECK(l[i] == base[i] + (i == 2 ? 100.0f : i == 6 ? -100.0f : 0.0f));
  std::vector<std::pair<float, int32_t>> scratch;
  CHECK(sample_token(l.data(), 8, sampling_params{}, 0, scratch) == 2);  // greedy follows the bias
}

TEST_CASE("repetition_penalty divides positive and multiplies negative logits of prompt and generated tokens") {
  sampling_params p;
  p.repetition_penalty = 2.0f;
  // Prompt {0, 1}, generated {6, 6, 4}: each distinct token once, however often it appears.
  const auto l = adjusted(p, {0, 1, 6, 6, 4}, 2);
  const std::set<std::size_t> seen = {0, 1, 4, 6};
  for (std::size_t i = 0; i < base.size(); ++i) {
    const float want = !seen.count(i) ? base[i] : base[i] > 0 ? base[i] / 2.0f : base[i] * 2.0f;
    CHECK(l[i] == want);
  }
}

TEST_CASE("frequency and presence penalties count generated tokens only") {
  sampling_params p;
  p.frequency_penalty = 0.5f;
  p.presence_penalty = 0.25f;
  // Prompt {3, 3, 5} is not counted; generated {6, 6, 6, 1}.
  const auto l = adjusted(p, {3, 3, 5, 6, 6, 6, 1}, 3);
  for (std::size_t i = 0; i < base.size(); ++i) {
    const int count = i == 6 ? 3 : i == 1 ? 1 : 0;
    const float want = count > 0 ? base[i] - (static_cast<float>(count) * 0.5f + 0.25f) : base[i];
    CHECK(l[i] == want);
  }
  sampling_params negative;
  negative.presence_penalty = -2.0f;  // a negative penalty favours repeats
  CHECK(adjusted(negative, {6, 1}, 1)[1] == base[1] + 2.0f);
}

TEST_CASE("min_p keeps exactly the tokens whose probability reaches min_p times the top one's") {
  for (float temperature : {0.5f, 1.0f, 1.7f}) {
    sampling_params p;
    p.temperature = temperature;
    p.min_p = 0.1f;
    std::vector<double> probs;
    double z = 0;
    for (float x : base) z += std::exp(static_cast<double>(x) / temperature);
    for (float x : base) probs.push_back(std::exp(static_cast<double>(x) / temperature) / z);
    const double top = *std::max_element(probs.begin(), probs.end());
    std::set<int32_t> allowed, drawn;
    for (std::size_t i = 0; i < probs.size(); ++i)
      if (probs[i] >= 0.1 * top) allowed.insert(static_cast<int32_t>(i));
    std::vector<std::pair<float, int32_t>> scratch;
    for (uint64_t k = 0; k < 4000; ++k) drawn.insert(sample_token(base.data(), 8, p, k, scratch));
    CHECK(drawn == allowed);  // nothing under the floor, and every kept token drawn at least once
    CHECK(allowed.size() < base.size());
  }
}

TEST_CASE("logprobs are log_softmax of the raw logits; top ids most likely first") {
  double z = 0;
  for (float x : base) z += std::exp(static_cast<double>(x));
  const auto lp = logprobs_of(base.data(), 8, 2, 3);
  CHECK(lp.chosen == doctest::Approx(static_cast<double>(base[2]) - std::log(z)).epsilon(1e-6));
  REQUIRE(lp.top_ids == std::vector<int32_t>{6, 3, 0});
  for (std::size_t i = 0; i < 3; ++i)
    CHECK(lp.top_values[i] ==
          doctest::Approx(static_cast<double>(base[static_cast<std::size_t>(lp.top_ids[i])]) - std::log(z))
              .epsilon(1e-6));
  CHECK(logprobs_of(base.data(), 8, 6, 0).top_ids.empty());
}

TEST_CASE("sample_into: penalties change the pick, logprobs describe the unadjusted logits") {
  sequence_step s;
  s.sample = true;
  s.sampling.logprobs = 2;
  s.sampling.bias_ids = {6};
  s.sampling.bias_values = {-100.0f};  // greedy now takes 3, the runner-up
  sampler_scratch scratch;
  sequence_result out;
  sample_into(out, base.data(), 8, s, scratch);
  CHECK(out.token == 3);
  const auto raw = logprobs_of(base.data(), 8, 3, 2);
  CHECK(out.logprob == raw.chosen);
  CHECK(out.top_ids == std::vector<int32_t>{6, 3});
  CHECK(out.top_logprobs == raw.top_values);

  sequence_step rep;
  rep.sample = true;
  rep.sampling.repetition_penalty = 10.0f;
  rep.history = {6};  // 4.0 / 10 = 0.4 falls under 2.0 (token 3)
  rep.history_prompt_len = 1;
  sequence_result r;
  sample_into(r, base.data(), 8, rep, scratch);
  CHECK(r.token == 3);
  CHECK(r.top_ids.empty());  // logprobs not asked for
}

TEST_CASE("sample_into with a grammar mask: only allowed tokens, the same pick as on the masked logits") {
  const int vocab = static_cast<int>(base.size());
  sequence_step s;
  s.sample = true;
  s.sampling.logprobs = 1;
  s.allowed_tokens = {(uint64_t{1} << 1) | (uint64_t{1} << 3) | (uint64_t{1} << 5)};
  std::vector<float> masked = base;
  mask_logits(masked.data(), vocab, s.allowed_tokens);
  for (int id = 0; id < vocab; ++id)
    CHECK(std::isinf(masked[static_cast<std::size_t>(id)]) == !(id == 1 || id == 3 || id == 5));
  sampler_scratch scratch;
  std::vector<std::pair<float, int32_t>> ranked;
  // Greedy: the best allowed token, although a disallowed one (6) has the highest logit; a
  // device argmax passed in is ignored under a mask.
  sequence_result out;
  sample_into(out, base.data(), vocab, s, scratch, 6);
  CHECK(out.token == sample_token(masked.data(), vocab, s.sampling, 0, ranked));
  CHECK(out.token == 3);
  // Log probabilities still describe the model's raw logits.
  CHECK(out.logprob == logprobs_of(base.data(), vocab, 3, 1).chosen);
  CHECK(out.top_ids == std::vector<int32_t>{6});
  // Sampled with penalties and a bias: every draw is allowed and equals the draw on the masked,
  // then adjusted, logits.
  s.sampling.temperature = 1.5f;
  s.sampling.presence_penalty = 0.5f;
  s.sampling.bias_ids = {1};
  s.sampling.bias_values = {2.0f};
  s.history = {0, 3};
  s.history_prompt_len = 1;
  std::vector<float> adjusted = masked;
  adjust_logits(adjusted.data(), vocab, s.sampling, s.history, 1);
  int seen[8] = {};
  for (uint64_t seed = 0; seed < 200; ++seed) {
    s.sampling.seed = seed;
    s.sample_index = seed % 3;
    sequence_result r;
    sample_into(r, base.data(), vocab, s, scratch);
    CHECK(r.token == sample_token(adjusted.data(), vocab, s.sampling, s.sample_index, ranked));
    ++seen[r.token];
  }
  CHECK(seen[1] + seen[3] + seen[5] == 200);
  CHECK(seen[1] > 0);
  CHECK(seen[5] > 0);
}
