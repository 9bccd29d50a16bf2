// The integer Q4_K, Q5_K and Q6_K products (cpu_q8k_activations.hpp has the arithmetic),
// written once over an `Ops` struct that supplies one weight block's integer sums against
// one token's Q8_K block (x: its 256 values, bsums: its 16 group sums):
//   q4_k(block, x, bsums, sumi, summ)   sumi = sum_j sc_j * dot(4-bit values of sub-block j, x)
//                                       summ = sum_j m_j * (bsums[2j] + bsums[2j+1])
//   q5_k(block, x, bsums, sumi, summ)   the same with Q5_K's 5-bit values
//   q6_k(block, x, bsums) -> int32      sum_g sc_g * dot(6-bit values - 32 of group g, x)
//   fma(a, b, c) -> float               a * b + c rounded once
//   half(uint16_t) -> float
// One weight row at a time; per 256-value block, up to 16 tokens' float chains advance
// together. Every output's chain is the same whatever the tokens beside it. Internal
// linkage: each unit compiles its own copy for its own ISA.
#pragma once

#include <cstdint>
#include <cstring>

#include "device/cpu_matmul_kernels.hpp"
#include "device/cpu_q8k_activations.hpp"

namespace kvactor {
namespace {

constexpr int q4_k_block_size = 144;  // fp16 d, fp16 dmin, 12 bytes of scales, 128 of 4-bit values
constexpr int q5_k_block_size = 176;  // Q4_K's header, 32 bytes of 5th bits, 128 of 4-bit values
constexpr int q6_k_block_size = 210;  // 128 bytes low 4 bits, 64 high 2 bits, 16 int8 scales, fp16 d
constexpr int kquant_token_chunk = 16;

inline uint16_t kquant_half_bits(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return h;
}

// Q4_K (five_bits false) or Q5_K rows.
template <class Ops, bool five_bits>
void matmul_q4_k_with(const raw_weight_rows& w, int64_t r0, int64_t r1, const q8k_rows_view& x, int t0, int tokens,
                      float* y, int64_t y_stride) {
  constexpr int groups = q8k_block_values / q8k_group_values;
  constexpr int64_t block_size = five_bits ? q5_k_block_size : q4_k_block_size;
  const int64_t nb = x.blocks;
  const auto sums = [&](const uint8_t* block, int64_t tb, int32_t& sumi, int32_t& summ) {
    if constexpr (five_bits)
      Ops::q5_k(block, x.values + tb * q8k_block_values, x.bsums + tb * groups, sumi, summ);
    else
      Ops::q4_k(block, x.values + tb * q8k_block_values, x.bsums + tb * groups, sumi, summ);
  };
  if (tokens == 1) {  // a decode step: the same chain with the accumulators in registers
    for (int64_t r = r0; r < r1; ++r) {
      const uint8_t* row = w.data + r * w.row_bytes;
      float acc = 0.0f, accm = 0.0f;
      for (int64_t b = 0; b < nb; ++b) {
        const uint8_t* block = row + b * block_size;
        int32_t sumi, summ;
        sums(block, static_cast<int64_t>(t0) * nb + b, sumi, summ);
        const float dx = x.scales[static_cast<int64_t>(t0) * nb + b];
        acc = Ops::fma(static_cast<float>(sumi), dx * Ops::half(kquant_half_bits(block)), acc);
        accm = Ops::fma(static_cast<float>(summ), dx * Ops::half(kquant_half_bits(block + 2)), accm);
      }
      y[r] = acc - accm;
    }
    return;
  }
  for (int64_t r = r0; r < r1; ++r) {
    const uint8_t* row = w.data + r * w.row_bytes;
    for (int tc = t0; tc < t0 + tokens; tc += kquant_token_chunk) {
      const int n = t0 + tokens - tc < kquant_token_chunk ? t0 + tokens - tc : kquant_token_chunk;
      float acc[kquant_token_chunk] = {}, accm[kquant_token_chunk] = {};
      for (int64_t b = 0; b < nb; ++b) {
        const uint8_t* block = row + b * block_size;
        const float d = Ops::half(kquant_half_bits(block)), dmin = Ops::half(kquant_half_bits(block + 2));
        for (int i = 0; i < n; ++i) {
          const int64_t tb = static_cast<int64_t>(tc + i) * nb + b;
          int32_t sumi, summ;
          sums(block, tb, sumi, summ);
          const float dx = x.scales[tb];
          acc[i] = Ops::fma(static_cast<float>(sumi), dx * d, acc[i]);
          accm[i] = Ops::fma(static_cast<float>(summ), dx * dmin, accm[i]);
        }
      }
      for (int i = 0; i < n; ++i) y[static_cast<int64_t>(tc + i - t0) * y_stride + r] = acc[i] - accm[i];
    }
  }
}

template <class Ops>
void matmul_q6_k_with(const raw_weight_rows& w, int64_t r0, int64_t r1, const q8k_rows_view& x, int t0, int tokens,
                      float* y, int64_t y_stride) {
  constexpr int groups = q8k_block_values / q8k_group_values;
  const int64_t nb = x.blocks;
  if (tokens == 1) {  // a decode step: the same chain with the accumulator in a register
    const int64_t tb0 = static_cast<int64_t>(t0) * nb;
    for (int64_t r = r0; r < r1; ++r) {
      const uint8_t* row = w.data + r * w.row_bytes;
      float acc = 0.0f;
      for (int64_t b = 0; b < nb; ++b) {
        const uint8_t* block = row + b * q6_k_block_size;
        const int32_t sumi = Ops::q6_k(block, x.values + (tb0 + b) * q8k_block_values, x.bsums + (tb0 + b) * groups);
        acc = Ops::fma(static_cast<float>(sumi), x.scales[tb0 + b] * Ops::half(kquant_half_bits(block + 208)), acc);
      }
      y[r] = acc;
    }
    return;
  }
  for (int64_t r = r0; r < r1; ++r) {
    const uint8_t* row = w.data + r * w.row_bytes;
    for (int tc = t0; tc < t0 + tokens; tc += kquant_token_chunk) {
      const int n = t0 + tokens - tc < kquant_token_chunk ? t0 + tokens - tc : kquant_token_chunk;
      float acc[kquant_token_chunk] = {};
      for (int64_t b = 0; b < nb; ++b) {
        const uint8_t* block = row + b * q6_k_block_size;
        const float d = Ops::half(kquant_half_bits(block + 208));
        for (int i = 0; i < n; ++i) {
          const int64_t tb = static_cast<int64_t>(tc + i) * nb + b;
          const int32_t sumi = Ops::q6_k(block, x.values + tb * q8k_block_values, x.bsums + tb * groups);
          acc[i] = Ops::fma(static_cast<float>(sumi), x.scales[tb] * d, acc[i]);
        }
      }
      for (int i = 0; i < n; ++i) y[static_cast<int64_t>(tc + i - t0) * y_stride + r] = acc[i];
    }
  }
}

template <class Ops>
void matmul_kquant_with(const raw_weight_rows& w, int64_t r0, int64_t r1, const q8k_rows_view& x, int t0, int tokens,
                        float* y, int64_t y_stride) {
  if (w.encoding == weight_encoding::q4_k)
    matmul_q4_k_with<Ops, false>(w, r0, r1, x, t0, tokens, y, y_stride);
  else if (w.encoding == weight_encoding::q5_k)
    matmul_q4_k_with<Ops, true>(w, r0, r1, x, t0, tokens, y, y_stride);
  else
    matmul_q6_k_with<Ops>(w, r0, r1, x, t0, tokens, y, y_stride);
}

}  // namespace
}  // namespace kvactor
