// Sampling: greedy ties, temperature, top-k, top-p, and the stateless per-token
// draw that makes sampled runs reproducible.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <set>
#include <vector>

#include "device/sampling.hpp"

using namespace kvactor;

namespace {

std::vector<float> log_probs(const std::vector<double>& probs) {
  std::vector<float> out;
  for (double p : probs) out.push_back(static_cast<float>(std::log(p)));
  return out;
}

// Frequencies of each id over `draws` consecutive sample indices.
std::vector<double> frequencies(const std::vector<float>& logits, const sampling_params& p, int draws) {
  std::vector<std::pair<float, int32_t>> scratch;
  std::vector<double> counts(logits.size(), 0.0);
  for (int i = 0; i < draws; ++i) {
    const int32_t t =
        sample_token(logits.data(), static_cast<int>(logits.size()), p, static_cast<uint64_t>(i), scratch);
    REQUIRE(t >= 0);
    REQUIRE(t < static_cast<int32_t>(logits.size()));
    counts[static_cast<std::size_t>(t)] += 1.0;
  }
  for (double& c : counts) c /= draws;  // exact 1.0 when every draw is the same id
  return counts;
}

}  // namespace

TEST_CASE("greedy takes the argmax, the lowest id on ties, and ignores NaN") {
  std::vector<std::pair<float, int32_t>> scratch;
  sampling_params greedy;
  const std::vector<float> tie = {0.5f, 2.0f, -1.0f, 2.0f};
  CHECK(sample_token(tie.data(), 4, greedy, 0, scratch) == 1);
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const std::vector<float> with_nan = {nan, 1.0f, 3.0f, nan};
  CHECK(sample_token(with_nan.data(), 4, greedy, 0, scratch) == 2);
  const std::vector<float> negative = {-5.0f, -3.0f, -4.0f};
  CHECK(sample_token(negative.data(), 3, greedy, 7, scratch) == 1);
}

TEST_CASE("temperature sampling follows the softmax distribution") {
  const std::vector<float> logits = log_probs({0.1, 0.2, 0.3, 0.4});
  sampling_params p;
  p.temperature = 1.0f;
  p.seed = 42;
  const std::vector<double> f = frequencies(logits, p, 20000);
  CHECK(f[0] == doctest::Approx(0.1).epsilon(0.15));
  CHECK(f[1] == doctest::Approx(0.2).epsilon(0.1));
  CHECK(f[2] == doctest::Approx(0.3).epsilon(0.1));
  CHECK(f[3] == doctest::Approx(0.4).epsilon(0.1));
  // Temperature 2 flattens: p ~ sqrt(original), normalised.
  p.temperature = 2.0f;
  const std::vector<double> flat = frequencies(logits, p, 20000);
  const double z = std::sqrt(0.1) + std::sqrt(0.2) + std::sqrt(0.3) + std::sqrt(0.4);
  CHECK(flat[0] == doctest::Approx(std::sqrt(0.1) / z).epsilon(0.1));
  CHECK(flat[3] == doctest::Approx(std::sqrt(0.4) / z).epsilon(0.1));
  // A tiny temperature is practically greedy.
  p.temperature = 0.01f;
  CHECK(frequencies(logits, p, 500)[3] == 1.0);
}

TEST_CASE("top-k keeps only the k most likely tokens") {
  const std::vector<float> logits = log_probs({0.05, 0.4, 0.1, 0.3, 0.15});
  sampling_params p;
  p.temperature = 1.0f;
  p.top_k = 1;
  CHECK(frequencies(logits, p, 300)[1] == 1.0);
  p.top_k = 2;
  const std::vector<double> f = frequencies(logits, p, 8000);
  CHECK(f[0] == 0.0);
  CHECK(f[2] == 0.0);
  CHECK(f[4] == 0.0);
  CHECK(f[1] == doctest::Approx(0.4 / 0.7).epsilon(0.08));
  CHECK(f[3] == doctest::Approx(0.3 / 0.7).epsilon(0.08));
}

TEST_CASE("top-p keeps the smallest set of tokens reaching the mass") {
  const std::vector<float> logits = log_probs({0.15, 0.5, 0.05, 0.3});
  sampling_params p;
  p.temperature = 1.0f;
  p.top_p = 0.5f;  // the top token alone reaches 0.5
  CHECK(frequencies(logits, p, 300)[1] == 1.0);
  p.top_p = 0.7f;  // 0.5 + 0.3
  std::vector<double> f = frequencies(logits, p, 8000);
  CHECK(f[0] == 0.0);
  CHECK(f[2] == 0.0);
  CHECK(f[1] == doctest::Approx(0.5 / 0.8).epsilon(0.08));
  p.top_p = 0.9f;  // 0.5 + 0.3 + 0.15
  f = frequencies(logits, p, 8000);
  CHECK(f[2] == 0.0);
  CHECK(f[0] > 0.1);
  p.top_k = 1;  // both cuts: top-k first
  p.top_p = 0.9f;
  CHECK(frequencies(logits, p, 300)[1] == 1.0);
}

TEST_CASE("the draw depends only on (seed, sample index)") {
  std::vector<float> logits(64);
  for (std::size_t i = 0; i < logits.size(); ++i) logits[i] = static_cast<float>(std::sin(static_cast<double>(i)));
  sampling_params p;
  p.temperature = 1.5f;
  p.seed = 7;
  std::vector<std::pair<float, int32_t>> scratch, other_scratch;
  std::vector<int32_t> forward, backward(100);
  for (uint64_t i = 0; i < 100; ++i) forward.push_back(sample_token(logits.data(), 64, p, i, scratch));
  for (uint64_t i = 100; i-- > 0;) backward[i] = sample_token(logits.data(), 64, p, i, other_scratch);
  CHECK(forward == backward);  // order of calls and scratch state do not matter
  CHECK(std::set<int32_t>(forward.begin(), forward.end()).size() > 10);
  p.seed = 8;
  std::vector<int32_t> other_seed;
  for (uint64_t i = 0; i < 100; ++i) other_seed.push_back(sample_token(logits.data(), 64, p, i, scratch));
  CHECK(other_seed != forward);
}

TEST_CASE("degenerate logits still give a valid token") {
  std::vector<std::pair<float, int32_t>> scratch;
  sampling_params p;
  p.temperature = 1.0f;
  const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
  const std::vector<float> plus_inf = {0.0f, inf, 1.0f, inf};
  CHECK(sample_token(plus_inf.data(), 4, p, 3, scratch) == 1);
  const std::vector<float> all_bad = {nan, -inf, nan};
  const int32_t t = sample_token(all_bad.data(), 3, p, 3, scratch);
  CHECK((t >= 0 && t < 3));
  p.top_k = 100;  // larger than the vocabulary
  const std::vector<float> small = {1.0f, 2.0f};
  const int32_t s = sample_token(small.data(), 2, p, 0, scratch);
  CHECK((s == 0 || s == 1));
}
