// Q8_0 products the way llama.cpp computes them: the token rows are quantized to Q8_0
// blocks too, and the weights and activations meet as 8-bit integers.
//
// Activations, per block of 32 values (llama.cpp's quantize_row_q8_0 on x86):
//   amax = max |x|;  id = amax ? 127 / amax : 0;  q = round-to-nearest-even(x * id)
//   scale = fp16(amax / 127), widened back to float
// Each output of a Q8_0 product is then
//   acc = 0;  for every block b in order: acc = fma(float(isum_b), dw_b * dx_b, acc)
// where isum_b is the exact integer dot product of the block's 32 weight and 32
// activation values, dw_b the weight block's fp16 scale and dx_b the activation's.
// The integer sums are exact and the float chain runs in one fixed order, so every
// instruction set, tile, token count, row block and thread gives the same bits (the
// backend stays batch-invariant), and the integer part equals llama.cpp's.
#pragma once

#include <cstdint>
#include <vector>

#include "device/cpu_isa.hpp"

namespace kvactor {

// Token rows are also packed in groups of this many (one 32-bit lane per token), for
// the kernels that multiply many tokens at once.
constexpr int q8_group_tokens = 8;

// Pointers into quantized token rows (what the per-ISA kernels read: plain data, no
// library code, cpu_matmul_kernels.hpp).
//   values:        [tokens][cols]               the int8 values
//   scales:        [tokens][blocks]             dx per block
//   packed:        [groups][blocks][8][8][4]    group g, block b, step s, token j: the
//                                               values 4s..4s+3 of token 8g+j's block b
//   group_scales:  [groups][blocks][8]          dx of the group's 8 tokens
//   group_offsets: [groups][blocks][8]          -128 * the sum of the block's values
// Groups: ceil(tokens / 8) from token 0; the last one's lanes past the last token hold
// zeros.
struct q8_rows_view {
  int tokens;
  int64_t cols;
  int64_t blocks;
  const int8_t* values;
  const float* scales;
  const int8_t* packed;
  const float* group_scales;
  const int32_t* group_offsets;
};

// Owns the quantized rows of one product's input; reused from step to step.
class q8_activations {
 public:
  // Sizes the buffers for `tokens` rows of `cols` values (a multiple of 32).
  void resize(int tokens, int64_t cols);
  // Quantizes token rows [t0, t1) of x ([tokens][cols]) and packs the groups that start
  // in [t0, t1) and end in it (or with the last token). Calls on disjoint ranges may run
  // on different threads; splitting at multiples of q8_group_tokens packs every group.
  void quantize(cpu_isa isa, const float* x, int t0, int t1);
  void quantize(const float* x, int t0, int t1) { quantize(cpu_isa_in_use(), x, t0, t1); }
  q8_rows_view view() const;
  int tokens() const { return tokens_; }

 private:
  int tokens_ = 0;
  int64_t cols_ = 0, blocks_ = 0;
  std::vector<int8_t> values_, packed_;
  std::vector<float> scales_, group_scales_;
  std::vector<int32_t> group_offsets_;
};

}  // namespace kvactor
