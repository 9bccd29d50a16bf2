// The sampling every backend runs on one sequence's last-position logits: logit_bias and
// penalties (logit_adjust.hpp), the pick (sampling.hpp), and the log probabilities.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "device/backend.hpp"

namespace kvactor {

struct sampler_scratch {
  std::vector<std::pair<float, int32_t>> ranked;
  std::vector<float> adjusted;
};

// Sets every logit the mask (sequence_step::allowed_tokens) does not allow to -inf.
void mask_logits(float* logits, int vocab, const std::vector<uint64_t>& allowed);

// Whether sampling `s` needs its row's logits on the host (a device argmax is not enough).
inline bool needs_logits(const sequence_step& s) {
  return s.return_logits || !s.sampling.greedy() || s.sampling.adjusts_logits() || s.sampling.logprobs >= 0 ||
         s.constrained();
}

// Fills out.token (when s.sample) and the log probabilities (when s.sampling.logprobs >= 0).
// `greedy_token`, if >= 0, is an argmax the device already computed, used when nothing
// adjusts the logits.
void sample_into(sequence_result& out, const float* logits, int vocab, const sequence_step& s, sampler_scratch& scratch,
                 int32_t greedy_token = -1);

}  // namespace kvactor
