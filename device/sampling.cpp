#include "device/sampling.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace kvactor {

namespace {

// splitmix64's finaliser: a bijective 64-bit mix.
uint64_t mix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

// A uniform draw in [0, 1) that depends only on (seed, sample_index).
double uniform_draw(uint64_t seed, uint64_t sample_index) {
  const uint64_t bits = mix64(seed ^ mix64(sample_index ^ 0x5851f42d4c957f2dull));
  return static_cast<double>(bits >> 11) * 0x1.0p-53;
}

// NaN logits never win and are never sampled.
float usable(float logit) { return std::isnan(logit) ? -std::numeric_limits<float>::infinity() : logit; }

int32_t argmax(const float* logits, int vocab) {
  int32_t best = 0;
  float best_value = usable(logits[0]);
  for (int i = 1; i < vocab; ++i)
    if (usable(logits[i]) > best_value) {  // strict: the lowest id wins ties
      best_value = usable(logits[i]);
      best = i;
    }
  return best;
}

// Higher logit first, then lower id: a total order, so every sort is deterministic.
bool ranks_before(const std::pair<float, int32_t>& a, const std::pair<float, int32_t>& b) {
  return a.first != b.first ? a.first > b.first : a.second < b.second;
}

// The candidates: every usable token, less those min_p removes (probability after
// temperature below min_p times the top one's: (logit - max) / T < log(min_p)).
void fill_candidates(const float* logits, int vocab, const sampling_params& params,
                     std::vector<std::pair<float, int32_t>>& scratch) {
  scratch.clear();
  if (params.min_p <= 0.0f) {
    for (int i = 0; i < vocab; ++i) scratch.emplace_back(usable(logits[i]), static_cast<int32_t>(i));
    return;
  }
  const double top = static_cast<double>(usable(logits[argmax(logits, vocab)]));
  const double floor = std::log(static_cast<double>(params.min_p));
  const double inv_t = 1.0 / static_cast<double>(params.temperature);
  for (int i = 0; i < vocab; ++i)
    if ((static_cast<double>(usable(logits[i])) - top) * inv_t >= floor)
      scratch.emplace_back(usable(logits[i]), static_cast<int32_t>(i));
}

}  // namespace

int32_t sample_token(const float* logits, int vocab, const sampling_params& params, uint64_t sample_index,
                     std::vector<std::pair<float, int32_t>>& scratch) {
  if (vocab <= 0) return -1;
  if (params.greedy()) return argmax(logits, vocab);

  fill_candidates(logits, vocab, params, scratch);
  if (scratch.empty()) return argmax(logits, vocab);  // an infinite top logit: it wins outright
  std::size_t kept = scratch.size();
  bool sorted = false;
  if (params.top_k > 0 && static_cast<std::size_t>(params.top_k) < kept) {
    kept = static_cast<std::size_t>(params.top_k);
    std::partial_sort(scratch.begin(), scratch.begin() + static_cast<std::ptrdiff_t>(kept), scratch.end(),
                      ranks_before);
    sorted = true;
  }
  if (params.top_p < 1.0f && !sorted) {
    std::sort(scratch.begin(), scratch.end(), ranks_before);
    sorted = true;
  }
  float max_logit = -std::numeric_limits<float>::infinity();
  for (std::size_t i = 0; i < kept; ++i) max_logit = std::max(max_logit, scratch[i].first);
  if (std::isinf(max_logit)) return argmax(logits, vocab);  // nothing usable, or an infinite logit wins outright

  // Unnormalised softmax weights of logits / temperature, in double.
  const double inv_t = 1.0 / static_cast<double>(params.temperature);
  auto weight = [&](std::size_t i) {
    return std::exp((static_cast<double>(scratch[i].first) - static_cast<double>(max_logit)) * inv_t);
  };
  double total = 0.0;
  for (std::size_t i = 0; i < kept; ++i) total += weight(i);
  if (params.top_p < 1.0f) {
    // Nucleus: the smallest prefix (in rank order) whose mass reaches top_p.
    const double target = static_cast<double>(params.top_p) * total;
    double mass = 0.0;
    std::size_t cut = 0;
    while (cut < kept) {
      mass += weight(cut++);
      if (mass >= target) break;
    }
    kept = cut;
    total = mass;
  }
  const double threshold = uniform_draw(params.seed, sample_index) * total;
  double mass = 0.0;
  for (std::size_t i = 0; i < kept; ++i) {
    mass += weight(i);
    if (threshold < mass) return scratch[i].second;
  }
  return scratch[kept - 1].second;  // rounding left the draw just past the end
}

}  // namespace kvactor
