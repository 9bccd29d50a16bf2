// Token sampling: greedy, temperature, min_p, top-k, top-p. Stateless per token: the random
// draw for the n-th generated token depends only on (seed, n), so a request that is
// preempted and recomputed, or run in any batch, samples exactly the same tokens.
#pragma once

#include <cstdint>
#include <vector>

namespace kvactor {

struct sampling_params {
  float temperature = 0.0f;  // 0 = greedy (argmax, lowest id wins ties)
  int top_k = 0;             // 0 = no limit
  float top_p = 1.0f;        // 1 = no nucleus cut
  uint64_t seed = 0;
  // Kept: tokens whose probability (after temperature) is at least min_p times the top one's.
  float min_p = 0.0f;
  // Logit adjustments (device/logit_adjust.hpp), applied before temperature and the cuts.
  float presence_penalty = 0.0f;    // minus this once for a token generated at least once
  float frequency_penalty = 0.0f;   // minus this per time a token was generated
  float repetition_penalty = 1.0f;  // a prompt or generated token: logit / p if > 0, logit * p otherwise
  std::vector<int32_t> bias_ids;    // logit_bias: bias_values[i] is added to logit bias_ids[i]
  std::vector<float> bias_values;
  // Log probabilities of the raw logits: -1 none, else the chosen token's plus this many alternatives.
  int32_t logprobs = -1;
  bool greedy() const { return temperature <= 0.0f; }
  bool penalized() const { return presence_penalty != 0.0f || frequency_penalty != 0.0f || repetition_penalty != 1.0f; }
  bool adjusts_logits() const { return penalized() || !bias_ids.empty(); }
};

// A prompt token's log probability under the logits of the position before it (echo with
// logprobs: how evaluation harnesses score text), with the most likely alternatives there.
struct scored_token {
  int32_t position = 0;  // of the scored token in its sequence (>= 1)
  float logprob = 0.0f;  // log_softmax of the raw logits at position - 1
  std::vector<int32_t> top_ids;
  std::vector<float> top_logprobs;
};

// Picks a token (after min_p, top_k, top_p in that order) from `logits[0..vocab)`. `sample_index` is the index of the
// token being generated within its request (0 for the first generated token). `scratch` is reused between calls to
// avoid allocation on the hot path.
int32_t sample_token(const float* logits, int vocab, const sampling_params& params, uint64_t sample_index,
                     std::vector<std::pair<float, int32_t>>& scratch);

}  // namespace kvactor
