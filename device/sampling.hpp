// Token sampling: greedy, temperature, top-k, top-p. Stateless per token: the random
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
  bool greedy() const { return temperature <= 0.0f; }
};

// Picks a token from `logits[0..vocab)`. `sample_index` is the index of the token
// being generated within its request (0 for the first generated token).
// `scratch` is reused between calls to avoid allocation on the hot path.
int32_t sample_token(const float* logits, int vocab, const sampling_params& params,
                     uint64_t sample_index, std::vector<std::pair<float, int32_t>>& scratch);

}  // namespace kvactor
