// Entry points of the per-ISA matmul translation units. Each unit is compiled with
// its own -m flags, so this header (which they include) holds plain declarations
// only: no inline code that a unit built for AVX-512 could emit for everyone.
#pragma once

#include <cstdint>

namespace kvactor {

// A Q8_0 block (ggml's block_q8_0): an fp16 scale, then 32 int8 values.
constexpr int q8_block_values = 32;
constexpr int q8_block_size = 2 + q8_block_values;

// The weight types the kernels read in place (ggml block layouts, model/ggml_blocks.hpp).
enum class weight_encoding { f32, f16, bf16, q8_0, q4_0, q4_1, q5_0, q5_1, iq4_nl, q2_k, q3_k, q4_k, q5_k, q6_k };

// A weight matrix as raw rows: `row_bytes` apart, `cols` values each.
struct raw_weight_rows {
  weight_encoding encoding;
  const uint8_t* data;
  int64_t cols;
  int64_t row_bytes;
  // True for a matrix far larger than the caches (the classifier): with few tokens its
  // rows are then streamed one at a time (see f32_source::few_tokens).
  bool streamed;
};

// y[t * y_stride + r] = dot(row r, x[t * cols ...]) for r in [r0, r1), t in [0, tokens).
void matmul_rows_portable(const raw_weight_rows& w, int64_t r0, int64_t r1, const float* x, int tokens, float* y,
                          int64_t y_stride);
void matmul_rows_avx2(const raw_weight_rows& w, int64_t r0, int64_t r1, const float* x, int tokens, float* y,
                      int64_t y_stride);
void matmul_rows_avx512(const raw_weight_rows& w, int64_t r0, int64_t r1, const float* x, int tokens, float* y,
                        int64_t y_stride);

// Q8_0 rows times quantized token rows (device/cpu_q8_activations.hpp has the arithmetic):
// y[(t - t0) * y_stride + r] for r in [r0, r1), t in [t0, t0 + tokens). Every unit gives
// the same bits. vnni: AVX-512 VNNI + VL on 256-bit vectors.
struct q8_rows_view;
void matmul_q8_portable(const raw_weight_rows& w, int64_t r0, int64_t r1, const q8_rows_view& x, int t0, int tokens,
                        float* y, int64_t y_stride);
void matmul_q8_avx2(const raw_weight_rows& w, int64_t r0, int64_t r1, const q8_rows_view& x, int t0, int tokens,
                    float* y, int64_t y_stride);
void matmul_q8_vnni(const raw_weight_rows& w, int64_t r0, int64_t r1, const q8_rows_view& x, int t0, int tokens,
                    float* y, int64_t y_stride);
// Q4_K, Q5_K or Q6_K rows times Q8_K token rows (device/cpu_q8k_activations.hpp has the
// arithmetic): y[(t - t0) * y_stride + r] for r in [r0, r1), t in [t0, t0 + tokens). Every
// unit gives the same bits.
struct q8k_rows_view;
void matmul_kquant_portable(const raw_weight_rows& w, int64_t r0, int64_t r1, const q8k_rows_view& x, int t0,
                            int tokens, float* y, int64_t y_stride);
void matmul_kquant_avx2(const raw_weight_rows& w, int64_t r0, int64_t r1, const q8k_rows_view& x, int t0, int tokens,
                        float* y, int64_t y_stride);
// `blocks` blocks of 32 floats -> int8 values and block scales, exactly as the
// header above says (the same bits from both).
void quantize_q8_blocks_portable(const float* x, int64_t blocks, int8_t* q, float* scales);
void quantize_q8_blocks_avx2(const float* x, int64_t blocks, int8_t* q, float* scales);

}  // namespace kvactor
