#include "device/logit_adjust.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>

namespace kvactor {

namespace {

bool in_vocab(int32_t t, int vocab) { return t >= 0 && t < vocab; }

void apply_repetition(float* logits, int vocab, float penalty, const std::vector<int32_t>& history) {
  std::vector<bool> seen(static_cast<std::size_t>(vocab), false);
  for (int32_t t : history) {
    if (!in_vocab(t, vocab) || seen[static_cast<std::size_t>(t)]) continue;
    seen[static_cast<std::size_t>(t)] = true;
    float& l = logits[t];
    l = l > 0.0f ? l / penalty : l * penalty;
  }
}

void apply_frequency_presence(float* logits, int vocab, const sampling_params& p, const std::vector<int32_t>& history,
                              std::size_t prompt_len) {
  std::vector<int32_t> counts(static_cast<std::size_t>(vocab), 0);
  for (std::size_t i = std::min(prompt_len, history.size()); i < history.size(); ++i)
    if (in_vocab(history[i], vocab)) ++counts[static_cast<std::size_t>(history[i])];
  for (int t = 0; t < vocab; ++t) {
    const int32_t c = counts[static_cast<std::size_t>(t)];
    if (c > 0) logits[t] -= static_cast<float>(c) * p.frequency_penalty + p.presence_penalty;
  }
}

float usable(float logit) { return std::isnan(logit) ? -std::numeric_limits<float>::infinity() : logit; }

}  // namespace

void adjust_logits(float* logits, int vocab, const sampling_params& params, const std::vector<int32_t>& history,
                   std::size_t prompt_len) {
  for (std::size_t i = 0; i < params.bias_ids.size() && i < params.bias_values.size(); ++i)
    if (in_vocab(params.bias_ids[i], vocab)) logits[params.bias_ids[i]] += params.bias_values[i];
  if (params.repetition_penalty != 1.0f) apply_repetition(logits, vocab, params.repetition_penalty, history);
  if (params.frequency_penalty != 0.0f || params.presence_penalty != 0.0f)
    apply_frequency_presence(logits, vocab, params, history, prompt_len);
}

token_logprobs logprobs_of(const float* logits, int vocab, int32_t chosen, int top_n) {
  token_logprobs out;
  if (vocab <= 0) return out;
  double top = -std::numeric_limits<double>::infinity();
  for (int i = 0; i < vocab; ++i) top = std::max(top, static_cast<double>(usable(logits[i])));
  double sum = 0.0;
  if (std::isfinite(top))
    for (int i = 0; i < vocab; ++i) sum += std::exp(static_cast<double>(usable(logits[i])) - top);
  const double log_z = std::isfinite(top) ? top + std::log(sum) : top;
  auto logprob = [&](int32_t t) { return static_cast<float>(static_cast<double>(usable(logits[t])) - log_z); };
  if (in_vocab(chosen, vocab)) out.chosen = logprob(chosen);

  const std::size_t n = static_cast<std::size_t>(std::clamp(top_n, 0, vocab));
  if (n == 0) return out;
  std::vector<std::pair<float, int32_t>> ranked;
  ranked.reserve(static_cast<std::size_t>(vocab));
  for (int i = 0; i < vocab; ++i) ranked.emplace_back(usable(logits[i]), static_cast<int32_t>(i));
  std::partial_sort(
      ranked.begin(), ranked.begin() + static_cast<std::ptrdiff_t>(n), ranked.end(),
      [](const auto& a, const auto& b) { return a.first != b.first ? a.first > b.first : a.second < b.second; });
  for (std::size_t i = 0; i < n; ++i) {
    out.top_ids.push_back(ranked[i].second);
    out.top_values.push_back(logprob(ranked[i].second));
  }
  return out;
}

}  // namespace kvactor
