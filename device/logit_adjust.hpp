// What a request's sampling parameters do to the logits before a token is picked, and
// the log probabilities reported back. Pure functions of (logits, params, tokens so far),
// so a token depends on nothing but its own request (see sampling.hpp).
//
// Order (vLLM's): logit_bias, then repetition_penalty, then frequency and presence
// penalties; sample_token then applies temperature, min_p, top_k and top_p.
// Which tokens count: repetition_penalty every distinct token of prompt + generated
// (vLLM, HF); frequency and presence penalties the generated tokens only (OpenAI, vLLM).
// Log probabilities are log_softmax of the raw model logits, before any of this
// (OpenAI's and vLLM's default): they describe the model, not the sampler.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "device/sampling.hpp"

namespace kvactor {

// Applies logit_bias and the penalties in place. `history` is the prompt followed by the
// generated tokens; its first `prompt_len` entries are the prompt.
void adjust_logits(float* logits, int vocab, const sampling_params& params, const std::vector<int32_t>& history,
                   std::size_t prompt_len);

struct token_logprobs {
  float chosen = 0.0f;            // log probability of the chosen token
  std::vector<int32_t> top_ids;   // the most likely tokens, most likely first (lower id first on ties)
  std::vector<float> top_values;  // their log probabilities
};

// log_softmax(logits) at `chosen` and at the `top_n` most likely ids (NaN counts as -inf).
token_logprobs logprobs_of(const float* logits, int vocab, int32_t chosen, int top_n);

}  // namespace kvactor
