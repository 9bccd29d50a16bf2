// The one interface every device backend implements: a batched forward step over
// sequences whose K/V live in a paged store addressed by block tables.
//
// KV memory is page-major, one contiguous run per (layer, page):
//   [layer][page][k|v][kv_head][page_size][head_dim]
// Position p of a sequence lives in page block_table[p / page_size], slot p % page_size.
#pragma once

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "device/sampling.hpp"
#include "model/model.hpp"

namespace kvactor {

// One sequence's share of a step: a prefill chunk (many tokens) or a decode token.
struct sequence_step {
  uint64_t seq_id = 0;
  std::vector<int32_t> tokens;       // tokens to process now, at positions start_pos...
  int32_t start_pos = 0;             // position of tokens[0]; K/V for [0, start_pos) already written
  std::vector<int32_t> block_table;  // pages covering at least positions [0, start_pos + tokens.size())
  bool sample = false;               // sample a token from the last position's logits
  sampling_params sampling;
  uint64_t sample_index = 0;   // index of the generated token (see sample_token)
  bool return_logits = false;  // copy the last position's logits into the result
  // Prompt + generated tokens so far, for the penalties (only when sampling.penalized()).
  std::vector<int32_t> history;
  int32_t history_prompt_len = 0;  // the prompt's share of history
  // Structured output (grammar/): bit `id` of word id / 64 set = token id may be sampled; empty =
  // no constraint. The request actor computes it from its own grammar state, so it is this row's
  // alone; sampling sees the disallowed logits as -inf (before logit_bias and the penalties).
  std::vector<uint64_t> allowed_tokens;
  bool constrained() const { return !allowed_tokens.empty(); }
  // Prompt scoring: empty, or one entry per token; score_next[i] >= 0 asks for that token's
  // log probability under the logits at position start_pos + i (it is the token at the next
  // position), with the sampling.logprobs most likely alternatives (none when that is < 0).
  std::vector<int32_t> score_next;
};

struct sequence_result {
  uint64_t seq_id = 0;
  int32_t token = -1;         // sampled token when sequence_step::sample
  std::vector<float> logits;  // [vocab] when sequence_step::return_logits
  // When sampling.logprobs >= 0 (device/logit_adjust.hpp): the sampled token's log probability
  // and the sampling.logprobs most likely alternatives.
  float logprob = 0.0f;
  std::vector<int32_t> top_ids;
  std::vector<float> top_logprobs;
  std::vector<scored_token> scored;  // one per score_next entry >= 0, in position order
};

// Raised for a step the backend cannot run: bad token id, block table too short,
// position past the model's context, a device error. The message says which.
struct backend_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct kv_layout {
  int page_size = 16;  // tokens per page
  int num_pages = 0;   // physical pages in the store
};

class backend {
 public:
  virtual ~backend() = default;
  virtual std::string name() const = 0;
  virtual const model_config& config() const = 0;
  virtual kv_layout layout() const = 0;
  // Threads of this process the backend keeps busy during a step (the CPU backend's pool;
  // 1 for a device that computes elsewhere). The engine picks its actor scheduling from it.
  virtual int host_threads() const { return 1; }
  // Runs one batched forward step. Results come back in batch order.
  // Numerics are batch-invariant: a sequence's results do not depend on the other
  // entries, its position in the batch, or how its prompt was chunked.
  virtual std::vector<sequence_result> step(const std::vector<sequence_step>& batch) = 0;
};

}  // namespace kvactor
