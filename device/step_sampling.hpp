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
  return s.return_logits || !s.score_next.empty() || !s.sampling.greedy() || s.sampling.adjusts_logits() ||
         s.sampling.logprobs >= 0 || s.constrained();
}

// Which rows of a step need the final norm and the classifier: each sequence's last row when
// it samples or returns logits, and every row whose next token is scored (score_next). A row
// that is both is computed once. Rows count from 0 over the whole batch, in batch order.
struct output_plan {
  std::vector<int32_t> rows;         // rows to compute logits for, ascending
  std::vector<int32_t> last_output;  // per batch entry: index into rows of its last row, or -1
  struct score {
    std::size_t entry;
    std::size_t index;
    int32_t output;
  };  // batch entry, token index, rows index
  std::vector<score> scores;
  bool any_scores() const { return !scores.empty(); }
};
// Fills `plan` (cleared first; its vectors keep their capacity, so a backend that keeps one
// allocates nothing here after its first steps).
void plan_outputs(const std::vector<sequence_step>& batch, output_plan& plan);

// Adds the scored_token for token `index` of `s` (whose next token is s.score_next[index]),
// from the logits of that row.
void score_into(sequence_result& out, const float* logits, int vocab, const sequence_step& s, std::size_t index);

// Fills out.token (when s.sample) and the log probabilities (when s.sampling.logprobs >= 0).
// `greedy_token`, if >= 0, is an argmax the device already computed, used when nothing
// adjusts the logits.
void sample_into(sequence_result& out, const float* logits, int vocab, const sequence_step& s, sampler_scratch& scratch,
                 int32_t greedy_token = -1);

}  // namespace kvactor
