#include "device/step_sampling.hpp"

#include <algorithm>

#include "device/logit_adjust.hpp"

namespace kvactor {

void sample_into(sequence_result& out, const float* logits, int vocab, const sequence_step& s, sampler_scratch& scratch,
                 int32_t greedy_token) {
  if (!s.sample) return;
  const sampling_params& p = s.sampling;
  if (p.adjusts_logits()) {
    scratch.adjusted.assign(logits, logits + vocab);
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
