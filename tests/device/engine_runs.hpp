// Small drivers that run sequences through a backend the way a scheduler would,
// used by the device tests to compare runs that must agree bit for bit.
#pragma once

#include <cstdint>
#include <vector>

#include "device/backend.hpp"

namespace kvactor::testing {

// Pages [first, first + count) in order: a block table for one sequence.
std::vector<int32_t> page_range(int first, int count);

// Prefills `prompt` in chunks of `chunk` tokens (0 = one chunk) and returns the
// logits after the last prompt token.
std::vector<float> prefill_logits(backend& b, const std::vector<int32_t>& prompt, const std::vector<int32_t>& table,
                                  int chunk, int start_pos = 0);

// Greedy generation of `count` tokens after `prompt`, one sequence alone; each
// step's logits are appended to *all_logits when given.
std::vector<int32_t> greedy_generate(backend& b, const std::vector<int32_t>& prompt, int count,
                                     const std::vector<int32_t>& table, int chunk = 0,
                                     std::vector<std::vector<float>>* all_logits = nullptr);

// A seeded prompt of `length` tokens: BOS (1), then ids drawn from [3, vocab).
std::vector<int32_t> make_prompt(int length, int vocab, uint64_t seed);

// True when both logit vectors hold exactly the same bits.
bool same_bits(const std::vector<float>& a, const std::vector<float>& b);

}  // namespace kvactor::testing

namespace kvactor::testing {

// One sequence in a simulated continuous-batching run.
struct scripted_sequence {
  std::vector<int32_t> prompt;
  int chunk = 0;          // prefill chunk size, 0 = whole prompt in one step
  int join_step = 0;      // step at which it enters the batch
  int decode_tokens = 8;  // greedy tokens generated after the prompt
  std::vector<int32_t> block_table;
};

// Runs all sequences together the way a scheduler would: each step holds every
// active sequence's next prefill chunk or decode token, in an order shuffled by
// `order_seed`. Returns per sequence the logits of every output position (end of
// prompt, then each decode step).
std::vector<std::vector<std::vector<float>>> run_together(backend& b, const std::vector<scripted_sequence>& seqs,
                                                          uint64_t order_seed);

}  // namespace kvactor::testing
