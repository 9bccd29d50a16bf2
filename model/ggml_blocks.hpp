// ggml's block formats, byte for byte (ggml-common.h): one struct per weight type,
// its size checked at compile time. A row of a block-quantised matrix is its blocks
// back to back; "d" / "dmin" are IEEE half floats stored as their bits.
//
// Legacy formats cover 32 values per block, K-quants 256 (a "super-block" of 8 or 16
// sub-blocks with their own 4/6/8-bit scales). Values are reconstructed as in ggml's
// dequantize_row_* (model/ggml_dequant.hpp).
#pragma once

#include <cstdint>

namespace kvactor::ggml {

inline constexpr int qk_legacy = 32;  // values per Q4_0 / Q4_1 / Q5_0 / Q5_1 / Q8_0 / IQ4_NL block
inline constexpr int qk_k = 256;      // values per K-quant super-block
inline constexpr int k_scale_size = 12;

// value = d * (q - 8), q in 0..15; qs[j] holds value j (low nibble) and j + 16 (high).
struct block_q4_0 {
  uint16_t d;
  uint8_t qs[qk_legacy / 2];
};
static_assert(sizeof(block_q4_0) == 18, "block_q4_0 is 18 bytes");

// value = d * q + m, q in 0..15.
struct block_q4_1 {
  uint16_t d;
  uint16_t m;
  uint8_t qs[qk_legacy / 2];
};
static_assert(sizeof(block_q4_1) == 20, "block_q4_1 is 20 bytes");

// value = d * (q - 16), q in 0..31: the 5th bit of value j is bit j of qh (little endian).
struct block_q5_0 {
  uint16_t d;
  uint8_t qh[4];
  uint8_t qs[qk_legacy / 2];
};
static_assert(sizeof(block_q5_0) == 22, "block_q5_0 is 22 bytes");

// value = d * q + m, q in 0..31.
struct block_q5_1 {
  uint16_t d;
  uint16_t m;
  uint8_t qh[4];
  uint8_t qs[qk_legacy / 2];
};
static_assert(sizeof(block_q5_1) == 24, "block_q5_1 is 24 bytes");

// value = d * q, q int8.
struct block_q8_0 {
  uint16_t d;
  int8_t qs[qk_legacy];
};
static_assert(sizeof(block_q8_0) == 34, "block_q8_0 is 34 bytes");

// value = d * kvalues_iq4nl[q], q in 0..15, nibbles packed as in Q4_0.
struct block_iq4_nl {
  uint16_t d;
  uint8_t qs[qk_legacy / 2];
};
static_assert(sizeof(block_iq4_nl) == 18, "block_iq4_nl is 18 bytes");

// The 16 non-linear levels of IQ4_NL (ggml's kvalues_iq4nl).
inline constexpr int8_t kvalues_iq4nl[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};

// 16 sub-blocks of 16: value = d * (scales[s] & 15) * q - dmin * (scales[s] >> 4), q in 0..3.
// Note the order: the scales come first and the two halves last.
struct block_q2_K {
  uint8_t scales[qk_k / 16];
  uint8_t qs[qk_k / 4];
  uint16_t d;
  uint16_t dmin;
};
static_assert(sizeof(block_q2_K) == 84, "block_q2_K is 84 bytes");

// 16 sub-blocks of 16: value = d * (scale - 32) * (q - 4 * !high bit), 6-bit scales packed in 12 bytes.
struct block_q3_K {
  uint8_t hmask[qk_k / 8];
  uint8_t qs[qk_k / 4];
  uint8_t scales[12];
  uint16_t d;
};
static_assert(sizeof(block_q3_K) == 110, "block_q3_K is 110 bytes");

// 8 sub-blocks of 32: value = d * scale * q - dmin * min, 6-bit scale and min packed in 12 bytes.
struct block_q4_K {
  uint16_t d;
  uint16_t dmin;
  uint8_t scales[k_scale_size];
  uint8_t qs[qk_k / 2];
};
static_assert(sizeof(block_q4_K) == 144, "block_q4_K is 144 bytes");

// Q4_K with a 5th bit per value in qh.
struct block_q5_K {
  uint16_t d;
  uint16_t dmin;
  uint8_t scales[k_scale_size];
  uint8_t qh[qk_k / 8];
  uint8_t qs[qk_k / 2];
};
static_assert(sizeof(block_q5_K) == 176, "block_q5_K is 176 bytes");

// 16 sub-blocks of 16: value = d * scales[s] * (q - 32), q 6 bits (4 in ql, 2 in qh).
struct block_q6_K {
  uint8_t ql[qk_k / 2];
  uint8_t qh[qk_k / 4];
  int8_t scales[qk_k / 16];
  uint16_t d;
};
static_assert(sizeof(block_q6_K) == 210, "block_q6_K is 210 bytes");

// ggml's activation type for K-quant dot products: value = d * q (d a float).
struct block_q8_K {
  float d;
  int8_t qs[qk_k];
  int16_t bsums[qk_k / 16];
};
static_assert(sizeof(block_q8_K) == 292, "block_q8_K is 292 bytes");

}  // namespace kvactor::ggml
