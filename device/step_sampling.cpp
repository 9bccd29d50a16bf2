#include "device/step_sampling.hpp"

#include <algorithm>
#include <limits>

#include "device/logit_adjust.hpp"

namespace kvactor {

// Disallowed tokens (sequence_step::allowed_tokens) get -inf: no temperature, cut or draw can
// pick them, and the argmax is the best allowed token.
void mask_logits(float* logits, int vocab, const std::vector<uint64_t>& allowed) {
  constexpr float minus_inf = -std::numeric_limits<float>::infinity();
  for (int id = 0; id < vocab; ++id) {
    const std::size_t word = static_cast<std::size_t>(id) / 64;
    if (word >= allowed.size() || !(allowed[word] >> (id % 64) & 1)) logits[id] = minus_inf;
  }
}

void plan_outputs(const std::vector<sequence_step>& batch, output_plan& plan) {
  plan.rows.clear();
  plan.scores.clear();
  plan.last_output.assign(batch.size(), -1);
  int32_t row = 0;
  for (std::size_t e = 0; e < batch.size(); ++e) {
    const sequence_step& s = batch[e];
    const std::size_t n = s.tokens.size();
    for (std::size_t i = 0; i < n; ++i, ++row) {
      const bool scored = i < s.score_next.size() && s.score_next[i] >= 0;
      const bool last = i + 1 == n && (s.sample || s.return_logits);
      if (!scored && !last) continue;
      const auto output = static_cast<int32_t>(plan.rows.size());
      plan.rows.push_back(row);
      if (scored) plan.scores.push_back({e, i, output});
      if (last) plan.last_output[e] = output;
    }
  }
}

void score_into(sequence_result& out, const float* logits, int vocab, const sequence_step& s, std::size_t index) {
  const int32_t next = s.score_next[index];
  token_logprobs lp = logprobs_of(logits, vocab, next, std::max(0, s.sampling.logprobs));
  scored_token t;
  t.position = s.start_pos + static_cast<int32_t>(index) + 1;
  t.logprob = lp.chosen;
  t.top_ids = std::move(lp.top_ids);
  t.top_logprobs = std::move(lp.top_values);
  out.scored.push_back(std::move(t));
}

void sample_into(sequence_result& out, const float* logits, int vocab, const sequence_step& s, sampler_scratch& scratch,
                 int32_t greedy_token) {
  if (!s.sample) return;
  const sampling_params& p = s.sampling;
  if (p.adjusts_logits() || s.constrained()) {
    scratch.adjusted.assign(logits, logits + vocab);
    if (s.constrained()) mask_logits(scratch.adjusted.data(), vocab, s.allowed_tokens);
    if (p.adjusts_logits())
      adjust_logits(scratch.adjusted.data(), vocab, p, s.history,
                    static_cast<std::size_t>(std::max(0, s.history_prompt_len)));
    out.token = sample_token(scratch.adjusted.data(), vocab, p, s.sample_index, scratch.ranked);
  } else if (p.greedy() && greedy_token >= 0) {
    out.token = greedy_token;
  } else {
    out.token = sample_token(logits, vocab, p, s.sample_index, scratch.ranked);
  }
  if (p.logprobs < 0) return;
  token_logprobs lp = logprobs_of(logits, vocab, out.token, p.logprobs);
  out.logprob = lp.chosen;
  out.top_ids = std::move(lp.top_ids);
  out.top_logprobs = std::move(lp.top_values);
}

}  // namespace kvactor
