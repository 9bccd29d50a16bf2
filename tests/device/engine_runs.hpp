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

// True when both logit vectors hold exactly the same bits.
bool same_bits(const std::vector<float>& a, const std::vector<float>& b);

}  // namespace kvactor::testing
