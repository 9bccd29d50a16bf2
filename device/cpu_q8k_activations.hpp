// Q4_K, Q5_K and Q6_K products the way llama.cpp computes them: the token rows are quantized
// to Q8_K (ggml's activation type for the K-quants) and the weights and activations
// meet as integers.
//
// Activations, per block of 256 values (llama.cpp's quantize_row_q8_K_ref, which its x86
// build runs):
//   max = the value of largest magnitude (the first one on a tie);  iscale = -127 / max
//   q = min(127, round-to-nearest-even(iscale * x));  d = 1 / iscale
//   bsums[g] = the sum of the 16 values of group g (16 groups)
// (an all-zero block gets d = 0 and zeros; a NaN value quantizes to 0, as there).
// Each output of a product is then, over the 256-value blocks b in order:
//   Q4_K:  acc  = fma(float(sum_j sc_j * dot(q4 of sub-block j, q8 of it)), dx_b * d_b, acc)
//          accm = fma(float(sum_j m_j * (bsums[2j] + bsums[2j+1])), dx_b * dmin_b, accm)
//          y = acc - accm
//   Q5_K:  as Q4_K, with the 5-bit values
//   Q6_K:  acc  = fma(float(sum_g sc_g * dot(q6 - 32 of group g, q8 of it)), dx_b * d_b, acc)
//          y = acc
// where sc_j, m_j are the weight block's 6-bit sub-block scales and mins, d_b and dmin_b
// its fp16 scales widened, and dx_b the activation block's d. The integer sums are exact
// and the float chain has one order, so every instruction set, tile, token count, row
// block and thread gives the same bits (the backend stays batch-invariant). The integer
// parts equal llama.cpp's; its float chain adds them in vector lanes, so the results agree
// to rounding, not bit for bit.
#pragma once

#include <cstdint>
#include <vector>

namespace kvactor {

constexpr int q8k_block_values = 256;
constexpr int q8k_group_values = 16;  // one bsums entry per this many values

// Token rows are also packed in groups of this many (one lane per token), for the kernels
// that multiply many tokens at once.
constexpr int q8k_group_tokens = 8;

// Pointers into quantized token rows (what the per-ISA kernels read: plain data).
//   values:       [tokens][cols]               the int8 values
//   scales:       [tokens][blocks]             d per block
//   bsums:        [tokens][blocks][16]         the sums of the 16-value groups
//   packed:       [groups][blocks][8][8][32]   group g, block b, chunk c, token j: values
//                                              32c..32c+31 of token 8g+j's block b
//   group_bsums:  [groups][blocks][8][16]      the bsums of the group's 8 tokens
//   group_scales: [groups][blocks][8]          the d of the group's 8 tokens
// Groups: ceil(tokens / 8) from token 0; the last one's lanes past the last token hold
// zeros.
struct q8k_rows_view {
  int tokens;
  int64_t cols;
  int64_t blocks;
  const int8_t* values;
  const float* scales;
  const int16_t* bsums;
  const int8_t* packed;
  const int16_t* group_bsums;
  const float* group_scales;
};

// Owns the quantized rows of one product's input; reused from step to step.
class q8k_activations {
 public:
  // Sizes the buffers for `tokens` rows of `cols` values (a multiple of 256).
  void resize(int tokens, int64_t cols);
  // Quantizes token rows [t0, t1) of x ([tokens][cols]) and packs the groups that start
  // in [t0, t1) and end in it (or with the last token). Calls on disjoint ranges may run
  // on different threads; splitting at multiples of q8k_group_tokens packs every group.
  void quantize(const float* x, int t0, int t1);
  q8k_rows_view view() const;
  int tokens() const { return tokens_; }
  int64_t cols() const { return cols_; }

 private:
  int tokens_ = 0;
  int64_t cols_ = 0, blocks_ = 0;
  std::vector<int8_t> values_, packed_;
  std::vector<float> scales_, group_scales_;
  std::vector<int16_t> bsums_, group_bsums_;
};

// One block of 256 values, exactly as above: q[256], *d, bsums[16].
void quantize_q8k_block(const float* x, int8_t* q, float* d, int16_t* bsums);

}  // namespace kvactor
