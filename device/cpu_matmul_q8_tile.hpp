// The integer Q8_0 product (cpu_q8_activations.hpp has the arithmetic) on 256-bit
// integer vectors, written once over an `Ops` struct that supplies how 8-bit values
// are multiplied and summed into 32-bit lanes:
//   block_dot(w32, x32) -> __m256i   8 lanes whose sum is the exact dot product of
//                                    one weight block's and one token block's 32 values
//   weights4(p) -> W                 4 weight values, broadcast to every lane
//   start(offsets8) -> __m256i       a block's starting lanes for dot4 (its correction)
//   dot4(acc, W, x) -> __m256i       acc + each lane's 4 weight x 4 token products
//   half(uint16_t) -> float
// Two kernels, one result:
//  - token lanes (groups of 8 tokens, at least 3 of them in the range): lane j of a vector
//    is token j of the group, so the block's integer sum and then the float chain run
//    lane by lane;
//  - block lanes (the tokens of a group with fewer, e.g. decode at batch 1): one token's
//    block in a vector; 8 rows' block sums reduced together, the float chain with the rows
//    in the lanes (or one row at a time for the last rows of a block).
// Both give every output acc = fma(float(isum_b), dw_b * dx_b, acc) over b in order.
// Internal linkage: each unit compiles its own copy for its own ISA.
#pragma once

#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "device/cpu_matmul_kernels.hpp"
#include "device/cpu_q8_activations.hpp"

namespace kvactor {
namespace {

inline uint16_t q8_scale_bits(const uint8_t* block) {
  uint16_t h;
  std::memcpy(&h, block, 2);
  return h;
}

// out[i] = the sum of v[i]'s 8 lanes (exact integers, so any order).
inline void sum_lanes8(const __m256i v[8], int32_t out[8]) {
  const __m256i a = _mm256_hadd_epi32(_mm256_hadd_epi32(v[0], v[1]), _mm256_hadd_epi32(v[2], v[3]));
  const __m256i b = _mm256_hadd_epi32(_mm256_hadd_epi32(v[4], v[5]), _mm256_hadd_epi32(v[6], v[7]));
  const __m256i sums = _mm256_add_epi32(_mm256_permute2x128_si256(a, b, 0x20), _mm256_permute2x128_si256(a, b, 0x31));
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(out), sums);
}

// Tokens [t_first, t_end) of x against weight row r, one block vector at a time.
template <class Ops>
void q8_block_lanes(const raw_weight_rows& w, int64_t r, const q8_rows_view& x, int t_first, int t_end, float* y,
                    int64_t y_stride, int t0) {
  const uint8_t* row = w.data + r * w.row_bytes;
  const int64_t nb = x.blocks;
  for (int t = t_first; t < t_end; ++t) {
    const int8_t* xv = x.values + static_cast<int64_t>(t) * x.cols;
    const float* dx = x.scales + static_cast<int64_t>(t) * nb;
    float acc = 0.0f;
    for (int64_t b0 = 0; b0 < nb; b0 += 8) {
      const int n = nb - b0 < 8 ? static_cast<int>(nb - b0) : 8;
      __m256i lanes[8];
      for (int i = 0; i < 8; ++i)
        lanes[i] = i < n ? Ops::block_dot(reinterpret_cast<const int8_t*>(row + (b0 + i) * q8_block_size + 2),
                                          xv + (b0 + i) * q8_block_values)
                         : _mm256_setzero_si256();
      alignas(32) int32_t sums[8];
      sum_lanes8(lanes, sums);
      for (int i = 0; i < n; ++i)
        acc = __builtin_fmaf(static_cast<float>(sums[i]),
                             Ops::half(q8_scale_bits(row + (b0 + i) * q8_block_size)) * dx[b0 + i], acc);
    }
    y[static_cast<int64_t>(t - t0) * y_stride + r] = acc;
  }
}

// Tokens [t_first, t_end) against the 8 weight rows from r0, the rows in the lanes of
// the float chain: per block, the 8 rows' block vectors are summed together (one lane
// per row), and the rows' 8 scales gathered in one load.
template <class Ops>
void q8_block_lanes8(const raw_weight_rows& w, int64_t r0, const q8_rows_view& x, int t_first, int t_end, float* y,
                     int64_t y_stride, int t0) {
  const uint8_t* base = w.data + r0 * w.row_bytes;
  const int64_t nb = x.blocks;
  const __m256i row_offsets = _mm256_mullo_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
                                                 _mm256_set1_epi32(static_cast<int32_t>(w.row_bytes)));
  for (int t = t_first; t < t_end; ++t) {
    const int8_t* xv = x.values + static_cast<int64_t>(t) * x.cols;
    const float* dx = x.scales + static_cast<int64_t>(t) * nb;
    __m256 acc = _mm256_setzero_ps();
    for (int64_t b = 0; b < nb; ++b) {
      const uint8_t* block = base + b * q8_block_size;
      __m256i lanes[8];
#pragma GCC unroll 8
      for (int r = 0; r < 8; ++r)
        lanes[r] =
            Ops::block_dot(reinterpret_cast<const int8_t*>(block + r * w.row_bytes + 2), xv + b * q8_block_values);
      alignas(32) int32_t sums[8];
      sum_lanes8(lanes, sums);
      // Each row's fp16 scale: the low half of the 4 bytes gathered at its block.
      const __m256i bits = _mm256_and_si256(_mm256_i32gather_epi32(reinterpret_cast<const int*>(block), row_offsets, 1),
                                            _mm256_set1_epi32(0xffff));
      const __m256i packed = _mm256_permute4x64_epi64(_mm256_packus_epi32(bits, bits), 0x08);
      const __m256 dw = _mm256_cvtph_ps(_mm256_castsi256_si128(packed));
      acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_load_si256(reinterpret_cast<const __m256i*>(sums))),
                            _mm256_mul_ps(dw, _mm256_set1_ps(dx[b])), acc);
    }
    _mm256_storeu_ps(y + static_cast<int64_t>(t - t0) * y_stride + r0, acc);
  }
}

// R weight rows from r0 times the G token groups from g0.
// Only the tokens in [t0, t1) are stored (a group may reach past either end).
template <class Ops, int R, int G>
inline void q8_group_tile(const raw_weight_rows& w, int64_t r0, const q8_rows_view& x, int g0, float* y,
                          int64_t y_stride, int t0, int t1) {
  const int64_t nb = x.blocks;
  __m256 acc[R][G];
#pragma GCC unroll 16
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 16
    for (int g = 0; g < G; ++g) acc[r][g] = _mm256_setzero_ps();
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* wb[R];
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r) wb[r] = w.data + (r0 + r) * w.row_bytes + b * q8_block_size;
    __m256i lanes[R][G];
#pragma GCC unroll 16
    for (int g = 0; g < G; ++g) {
      const __m256i start = Ops::start(x.group_offsets + ((g0 + g) * nb + b) * q8_group_tokens);
#pragma GCC unroll 16
      for (int r = 0; r < R; ++r) lanes[r][g] = start;
    }
#pragma GCC unroll 8
    for (int s = 0; s < q8_block_values / 4; ++s) {
      __m256i xv[G];
#pragma GCC unroll 16
      for (int g = 0; g < G; ++g)
        xv[g] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(
            x.packed + ((g0 + g) * nb + b) * (q8_block_values * q8_group_tokens) + 32 * s));
#pragma GCC unroll 16
      for (int r = 0; r < R; ++r) {
        const auto wv = Ops::weights4(wb[r] + 2 + 4 * s);
#pragma GCC unroll 16
        for (int g = 0; g < G; ++g) lanes[r][g] = Ops::dot4(lanes[r][g], wv, xv[g]);
      }
    }
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r) {
      const __m256 dw = _mm256_set1_ps(Ops::half(q8_scale_bits(wb[r])));
#pragma GCC unroll 16
      for (int g = 0; g < G; ++g) {
        const __m256 dx = _mm256_loadu_ps(x.group_scales + ((g0 + g) * nb + b) * q8_group_tokens);
        acc[r][g] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(lanes[r][g]), _mm256_mul_ps(dw, dx), acc[r][g]);
      }
    }
  }
  for (int r = 0; r < R; ++r)
    for (int g = 0; g < G; ++g) {
      alignas(32) float out[q8_group_tokens];
      _mm256_store_ps(out, acc[r][g]);
      for (int j = 0; j < q8_group_tokens; ++j) {
        const int t = (g0 + g) * q8_group_tokens + j;
        if (t >= t0 && t < t1) y[static_cast<int64_t>(t - t0) * y_stride + r0 + r] = out[j];
      }
    }
}

// R rows from r0 over groups [g0, g1): tiles of G groups, the remainder with G - 1, ...
template <class Ops, int R, int G>
void q8_group_rows(const raw_weight_rows& w, int64_t r0, const q8_rows_view& x, int g0, int g1, float* y,
                   int64_t y_stride, int t0, int t1) {
  int g = g0;
  for (; g + G <= g1; g += G) q8_group_tile<Ops, R, G>(w, r0, x, g, y, y_stride, t0, t1);
  if constexpr (G > 1)
    if (g < g1) q8_group_rows<Ops, R, G - 1>(w, r0, x, g, g1, y, y_stride, t0, t1);
}

// Tokens [ta, tb) on block lanes: 8 rows at a time, then row by row; weights that come
// from DRAM (w.streamed: a model larger than the caches) row by row throughout. One
// sequential stream keeps the hardware prefetcher ahead, 8 interleaved rows do not
// (quant_bench, a 70 MB Q8_0 matrix at 1 token, one thread: 19.9 GB/s row by row, 13.0
// with 8 rows; prefetching 8-32 blocks ahead did not help; TinyLlama-shape Q8_0 decode,
// `kvactor generate`, 2 threads: 21-23 -> 30-32 tok/s). Weights in the caches are faster
// 8 rows at a time (a 12 MB matrix read again and again: 32.6 against 23.4 GB/s).
template <class Ops>
void q8_block_lane_rows(const raw_weight_rows& w, int64_t r0, int64_t r1, const q8_rows_view& x, int ta, int tb,
                        float* y, int64_t y_stride, int t0) {
  if (ta >= tb) return;
  int64_t r = r0;
  if (!w.streamed)
    for (; r + 8 <= r1; r += 8) q8_block_lanes8<Ops>(w, r, x, ta, tb, y, y_stride, t0);
  for (; r < r1; ++r) q8_block_lanes<Ops>(w, r, x, ta, tb, y, y_stride, t0);
}

// A group with fewer tokens than this in the range runs them on block lanes: token lanes
// then compute mostly unused lanes. quant_bench, 2048 x 2048, one thread, VNNI: block
// lanes ~0.125 ms per token, token lanes ~0.315 ms per group of up to 8 tokens (2 tokens:
// 0.25 vs 0.31 ms, 3: 0.37 vs 0.32 ms).
constexpr int q8_min_group_tokens = 3;

template <class Ops>
void matmul_q8_with(const raw_weight_rows& w, int64_t r0, int64_t r1, const q8_rows_view& x, int t0, int tokens,
                    float* y, int64_t y_stride) {
  const int t1 = t0 + tokens;
  constexpr int n = q8_group_tokens;
  int ga = t0 / n, gb = (t1 + n - 1) / n;  // the groups the range touches
  const auto in_range = [&](int g) { return (t1 < n * g + n ? t1 : n * g + n) - (t0 > n * g ? t0 : n * g); };
  if (ga < gb && in_range(ga) < q8_min_group_tokens) {
    q8_block_lane_rows<Ops>(w, r0, r1, x, t0, t1 < n * ga + n ? t1 : n * ga + n, y, y_stride, t0);
    ++ga;
  }
  if (ga < gb && in_range(gb - 1) < q8_min_group_tokens) {
    q8_block_lane_rows<Ops>(w, r0, r1, x, t0 > n * (gb - 1) ? t0 : n * (gb - 1), t1, y, y_stride, t0);
    --gb;
  }
  if (ga >= gb) return;
  int64_t r = r0;
  for (; r + Ops::rows_multi <= r1; r += Ops::rows_multi)
    q8_group_rows<Ops, Ops::rows_multi, Ops::groups_multi>(w, r, x, ga, gb, y, y_stride, t0, t1);
  for (; r < r1; ++r) q8_group_rows<Ops, 1, Ops::groups_multi>(w, r, x, ga, gb, y, y_stride, t0, t1);
}

}  // namespace
}  // namespace kvactor
