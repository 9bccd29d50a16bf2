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

// Fills out.token (when s.sample) and the log probabilities (when s.sampling.logprobs >= 0).
// `greedy_token`, if >= 0, is an argmax the device already computed, used when nothing
// adjusts the logits.
void sample_into(sequence_result& out, const float* logits, int vocab, const sequence_step& s, sampler_scratch& scratch,
                 int32_t greedy_token = -1);

}  // namespace kvactor
