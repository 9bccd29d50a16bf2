// The matmul tile over AVX2 + FMA (+ F16C for fp16 rows): 8-lane accumulators.
// Built with -mavx2 -mfma -mf16c; runs only when cpu_supports(cpu_isa::avx2).
#include <immintrin.h>

#include "device/cpu_dequant_avx2.hpp"
#include "device/cpu_matmul_kquant.hpp"
#include "device/cpu_matmul_q8_tile.hpp"
#include "device/cpu_matmul_tile.hpp"

namespace kvactor {

namespace {

struct avx2_ops {
  using vec = __m256;
  static constexpr int width = 8;
  static constexpr int rows_multi = 3;  // 3 x 3 = 9 accumulators + 3 token vectors + 1 weight vector (16 registers)
  static constexpr int tokens_multi = 3;
  static constexpr int tokens_row_stream = 6;  // one weight row x this many tokens (few-token F32)
  static vec zero() { return _mm256_setzero_ps(); }
  static vec load(const float* p) { return _mm256_loadu_ps(p); }
  static vec fma(vec a, vec b, vec acc) { return _mm256_fmadd_ps(a, b, acc); }
  static vec load_f16(const uint16_t* p) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  }
  static vec load_q8(const int8_t* q, float scale) {
    const __m128i bytes = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(q));
    return _mm256_mul_ps(_mm256_set1_ps(scale), _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(bytes)));
  }
  // ((l0 + l4) + (l2 + l6)) + ((l1 + l5) + (l3 + l7))
  static float reduce(vec v) {
    const __m128 four = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    const __m128 two = _mm_add_ps(four, _mm_movehl_ps(four, four));
    return _mm_cvtss_f32(_mm_add_ss(two, _mm_shuffle_ps(two, two, 1)));
  }
  static float half(uint16_t h) { return _cvtsh_ss(h); }
  static float scalar_fma(float a, float b, float acc) { return __builtin_fmaf(a, b, acc); }
  static void decode_q4_0(const uint8_t* p, float* y) { decode_q4_0_avx2(p, y); }
  static void decode_iq4_nl(const uint8_t* p, float* y) { decode_iq4_nl_avx2(p, y); }
  static void decode_q4_1(const uint8_t* p, float* y) { decode_q4_1_avx2(p, y); }
  static void decode_q5_0(const uint8_t* p, float* y) { decode_q5_0_avx2(p, y); }
  static void decode_q5_1(const uint8_t* p, float* y) { decode_q5_1_avx2(p, y); }
  static void decode_q2_K(const uint8_t* p, float* y) { decode_q2_K_avx2(p, y); }
  static void decode_q3_K(const uint8_t* p, float* y) { decode_q3_K_avx2(p, y); }
  static void decode_q4_K(const uint8_t* p, float* y) { decode_q4_K_avx2(p, y); }
  static void decode_q5_K(const uint8_t* p, float* y) { decode_q5_K_avx2(p, y); }
  static void decode_q6_K(const uint8_t* p, float* y) { decode_q6_K_avx2(p, y); }
};

// Integer Q8_0 products with AVX2's 8-bit multiply: |w| times x carrying w's sign,
// pairs summed to 16 bits (|128 * 127| * 2 < 2^15: never saturates), then to 32.
struct avx2_q8_ops {
  static constexpr int rows_multi = 2;  // 2 x 2: 4 float + 4 integer accumulators (16 registers)
  static constexpr int groups_multi = 2;
  struct weights {
    __m256i magnitude, sign;
  };
  static __m256i pairs(__m256i magnitude, __m256i signed_x) {
    return _mm256_madd_epi16(_mm256_maddubs_epi16(magnitude, signed_x), _mm256_set1_epi16(1));
  }
  static __m256i block_dot(const int8_t* w, const int8_t* x) {
    const __m256i wv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w));
    const __m256i xv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x));
    return pairs(_mm256_abs_epi8(wv), _mm256_sign_epi8(xv, wv));
  }
  static weights weights4(const uint8_t* p) {
    int32_t v;
    std::memcpy(&v, p, 4);
    const __m256i b = _mm256_set1_epi32(v);
    return {_mm256_abs_epi8(b), b};
  }
  static __m256i start(const int32_t*) { return _mm256_setzero_si256(); }
  static __m256i dot4(__m256i acc, const weights& w, __m256i x) {
    return _mm256_add_epi32(acc, pairs(w.magnitude, _mm256_sign_epi8(x, w.sign)));
  }
  static float half(uint16_t h) { return _cvtsh_ss(h); }
};

// The K-quant blocks' integer sums with AVX2's 8-bit multiply: unsigned weight values
// (4 to 6 bits) times signed activations, pairs summed to 16 bits (2 * 63 * 128 < 2^15:
// never saturates), then times the int16 scales and pairs summed to 32 bits.
struct avx2_kquant_ops {
  static __m256i load(const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }
  // The two 128-bit halves added: 4 lanes with v's sum.
  static __m128i halves(__m256i v) { return _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1)); }
  // int16 lane pattern for _mm256_shuffle_epi8: every 16-bit lane takes int16 lane j of
  // its 128-bit half (j_low in the low half, j_high in the high one).
  static __m256i pick16(int j_low, int j_high) {
    return _mm256_set_m128i(_mm_set1_epi16(static_cast<short>(0x0100 + 0x0202 * j_high)),
                            _mm_set1_epi16(static_cast<short>(0x0100 + 0x0202 * j_low)));
  }
  // Q4_K / Q5_K's 12 bytes of 6-bit scales and mins (ggml's get_scale_min_k4 for j = 0..7,
  // four at a time): the 8 scales as int16 in both halves, the 8 mins as int16.
  static void scales_mins(const uint8_t* packed, __m256i& scales, __m128i& mins) {
    uint32_t q[3];
    std::memcpy(q, packed, 12);
    const uint32_t sc_lo = q[0] & 0x3f3f3f3f, mn_lo = q[1] & 0x3f3f3f3f;
    const uint32_t sc_hi = (q[2] & 0x0f0f0f0f) | ((q[0] >> 2) & 0x30303030);
    const uint32_t mn_hi = ((q[2] >> 4) & 0x0f0f0f0f) | ((q[1] >> 2) & 0x30303030);
    const __m128i bytes = _mm_setr_epi32(static_cast<int>(sc_lo), static_cast<int>(sc_hi), static_cast<int>(mn_lo),
                                         static_cast<int>(mn_hi));
    scales = _mm256_broadcastsi128_si256(_mm_cvtepu8_epi16(bytes));
    mins = _mm_cvtepu8_epi16(_mm_unpackhi_epi64(bytes, bytes));
  }
  // 4 lanes whose sum is sum_j mins[j] * (bsums[2j] + bsums[2j+1]).
  static __m128i mins_lanes(__m128i mins, const int16_t* bsums) {
    const __m256i bs = load(bsums);
    return _mm_madd_epi16(mins, _mm_hadd_epi16(_mm256_castsi256_si128(bs), _mm256_extracti128_si256(bs, 1)));
  }
  static int32_t sum_lanes4(__m128i v) {
    const __m128i two = _mm_add_epi32(v, _mm_unpackhi_epi64(v, v));
    return _mm_cvtsi128_si32(_mm_add_epi32(two, _mm_shuffle_epi32(two, 1)));
  }
  static int32_t sum_lanes(__m256i v) { return sum_lanes4(halves(v)); }
  // Values 64k..64k+63 of a Q4_K / Q5_K block (sub-blocks 2k and 2k+1) as unsigned bytes,
  // and their scales as int16 lanes. high: the block's 5th bits, shifted down 2 bits per
  // call (Q5_K only).
  template <bool five_bits>
  static void q4_or_q5_k_chunk(const uint8_t* qs, int k, const __m256i& scales, __m256i& high, __m256i& q_lo,
                               __m256i& q_hi, __m256i& s_lo, __m256i& s_hi) {
    const __m256i low4 = _mm256_set1_epi8(0x0f);
    const __m256i bits = load(qs + 32 * k);
    q_lo = _mm256_and_si256(bits, low4);
    q_hi = _mm256_and_si256(_mm256_srli_epi16(bits, 4), low4);
    if (five_bits) {
      q_lo = _mm256_or_si256(q_lo, _mm256_slli_epi16(_mm256_and_si256(high, _mm256_set1_epi8(1)), 4));
      q_hi = _mm256_or_si256(q_hi, _mm256_slli_epi16(_mm256_and_si256(high, _mm256_set1_epi8(2)), 3));
      high = _mm256_srli_epi16(high, 2);
    }
    s_lo = _mm256_shuffle_epi8(scales, pick16(2 * k, 2 * k));
    s_hi = _mm256_shuffle_epi8(scales, pick16(2 * k + 1, 2 * k + 1));
  }
  // Values 32i..32i+31 of one half of a Q6_K block (ql0, ql1: its 64 bytes of low 4 bits, qh:
  // its 32 bytes of high 2 bits) as unsigned bytes (0..63).
  static __m256i q6_k_chunk(__m256i ql0, __m256i ql1, __m256i qh, int i) {
    const __m256i low4 = _mm256_set1_epi8(0x0f);
    const __m256i ql = i % 2 ? ql1 : ql0;
    const __m256i low = i < 2 ? _mm256_and_si256(ql, low4) : _mm256_and_si256(_mm256_srli_epi16(ql, 4), low4);
    const __m256i high = _mm256_and_si256(qh, _mm256_set1_epi8(static_cast<char>(0x03 << (2 * i))));
    return _mm256_or_si256(low, i == 0   ? _mm256_slli_epi16(high, 4)
                                : i == 1 ? _mm256_slli_epi16(high, 2)
                                : i == 2 ? high
                                         : _mm256_srli_epi16(high, 2));
  }
  // A Q4_K / Q5_K block's sums as lanes: sumi over the 8 of `values`, summ over the 4 of `mins_part`.
  template <bool five_bits>
  static void q4_or_q5_k_lanes(const uint8_t* block, const int8_t* x, const int16_t* bsums, __m256i& values,
                               __m128i& mins_part) {
    __m256i scales;
    __m128i mins;
    scales_mins(block + 4, scales, mins);
    const uint8_t* qs = block + (five_bits ? 48 : 16);
    __m256i high = five_bits ? load(block + 16) : _mm256_setzero_si256();
    __m256i acc = _mm256_setzero_si256();
#pragma GCC unroll 4
    for (int k = 0; k < 4; ++k) {
      __m256i q_lo, q_hi, s_lo, s_hi;
      q4_or_q5_k_chunk<five_bits>(qs, k, scales, high, q_lo, q_hi, s_lo, s_hi);
      acc = _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(q_lo, load(x + 64 * k)), s_lo));
      acc = _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(q_hi, load(x + 64 * k + 32)), s_hi));
    }
    values = acc;
    mins_part = mins_lanes(mins, bsums);
  }
  template <bool five_bits>
  static void q4_or_q5_k(const uint8_t* block, const int8_t* x, const int16_t* bsums, int32_t& sumi, int32_t& summ) {
    __m256i values;
    __m128i mins_part;
    q4_or_q5_k_lanes<five_bits>(block, x, bsums, values, mins_part);
    sumi = sum_lanes(values);
    summ = sum_lanes4(mins_part);
  }
  static void q4_k(const uint8_t* block, const int8_t* x, const int16_t* bsums, int32_t& sumi, int32_t& summ) {
    q4_or_q5_k<false>(block, x, bsums, sumi, summ);
  }
  static void q5_k(const uint8_t* block, const int8_t* x, const int16_t* bsums, int32_t& sumi, int32_t& summ) {
    q4_or_q5_k<true>(block, x, bsums, sumi, summ);
  }
  // A Q6_K block's sum (the -32 included) as 8 lanes.
  static __m256i q6_k_lanes(const uint8_t* block, const int8_t* x, const int16_t* bsums) {
    const __m128i sc8 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(block + 192));
    // The -32 of every value: -32 * sc_g * bsums[g] in the starting lanes.
    __m256i acc = _mm256_madd_epi16(_mm256_mullo_epi16(_mm256_cvtepi8_epi16(sc8), _mm256_set1_epi16(-32)), load(bsums));
#pragma GCC unroll 2
    for (int half = 0; half < 2; ++half) {
      // The half's 8 group scales as int16 in both 128-bit halves; the 32 values of chunk
      // i are groups 2i (low half) and 2i + 1 (high half).
      const __m256i scales = _mm256_broadcastsi128_si256(_mm_cvtepi8_epi16(half ? _mm_unpackhi_epi64(sc8, sc8) : sc8));
      const __m256i ql0 = load(block + 64 * half), ql1 = load(block + 64 * half + 32);
      const __m256i qh = load(block + 128 + 32 * half);
      const int8_t* xs = x + 128 * half;
#pragma GCC unroll 4
      for (int i = 0; i < 4; ++i)
        acc = _mm256_add_epi32(acc,
                               _mm256_madd_epi16(_mm256_maddubs_epi16(q6_k_chunk(ql0, ql1, qh, i), load(xs + 32 * i)),
                                                 _mm256_shuffle_epi8(scales, pick16(2 * i, 2 * i + 1))));
    }
    return acc;
  }
  static int32_t q6_k(const uint8_t* block, const int8_t* x, const int16_t* bsums) {
    return sum_lanes(q6_k_lanes(block, x, bsums));
  }
  static float fma(float a, float b, float c) { return __builtin_fmaf(a, b, c); }
  static float half(uint16_t h) { return _cvtsh_ss(h); }
};

}  // namespace

namespace {

// Pins v to a register at this point: integer adds are associative, and GCC otherwise
// regroups a chain of them (sum + lo + hi as sum + (lo + hi)), keeping all 8 tokens' lo
// products live and spilling the 8 sums to the stack around them.
inline void in_register(__m256i& v) { __asm__("" : "+x"(v)); }

// Row r against token group g (tokens 8g..8g+7, packed: cpu_q8k_activations.hpp) on token
// lanes: per weight block, its values and scales are unpacked once for the 8 tokens, each
// token's integer sums reduced together (one lane per token), and the float chain
// (cpu_q8k_activations.hpp) runs lane by lane, to the bits the one-token path gives. Only
// the tokens in [t0, t1) are stored.
template <weight_encoding type>
void kquant_token_lanes(const raw_weight_rows& w, int64_t r, const q8k_rows_view& x, int g, float* y, int64_t y_stride,
                        int t0, int t1) {
  using ops = avx2_kquant_ops;
  constexpr bool q6 = type == weight_encoding::q6_k, five_bits = type == weight_encoding::q5_k;
  constexpr int64_t block_size = q6 ? q6_k_block_size : five_bits ? q5_k_block_size : q4_k_block_size;
  constexpr int n = q8k_group_tokens, groups = q8k_block_values / q8k_group_values;
  constexpr int64_t packed_block = n * q8k_block_values;  // bytes of one block of the group's tokens
  const int64_t nb = x.blocks;
  const uint8_t* row = w.data + r * w.row_bytes;
  // Chunk c (values 32c..32c+31) of token j of the current block: xb + (c * 8 + j) * 32.
  const int8_t* xb = x.packed + static_cast<int64_t>(g) * nb * packed_block;
  const int16_t* bsb = x.group_bsums + static_cast<int64_t>(g) * nb * n * groups;
  const float* dxb = x.group_scales + static_cast<int64_t>(g) * nb * n;
  __m256 acc = _mm256_setzero_ps(), accm = _mm256_setzero_ps();
  for (int64_t b = 0; b < nb; ++b, xb += packed_block, bsb += n * groups, dxb += n) {
    const uint8_t* block = row + b * block_size;
    __m256i sums[n];
    alignas(32) int32_t lanes[n];
    // sums[j] += the products of 32 weight values q (scales s) and chunk xc's token j.
    const auto add_products = [&sums](__m256i q, __m256i s, const int8_t* xc) {
#pragma GCC unroll 8
      for (int j = 0; j < n; ++j) {
        sums[j] = _mm256_add_epi32(sums[j], _mm256_madd_epi16(_mm256_maddubs_epi16(q, ops::load(xc + 32 * j)), s));
        in_register(sums[j]);
      }
    };
    const __m256 dx = _mm256_loadu_ps(dxb);
    if constexpr (q6) {
      const __m128i sc8 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(block + 192));
      // The -32 of every value, as -32 * sc_g * bsums[g] in each token's starting lanes.
      const __m256i minus32 = _mm256_mullo_epi16(_mm256_cvtepi8_epi16(sc8), _mm256_set1_epi16(-32));
#pragma GCC unroll 8
      for (int j = 0; j < n; ++j) sums[j] = _mm256_madd_epi16(minus32, ops::load(bsb + j * groups));
#pragma GCC unroll 2
      for (int half = 0; half < 2; ++half) {
        const __m256i scales =
            _mm256_broadcastsi128_si256(_mm_cvtepi8_epi16(half ? _mm_unpackhi_epi64(sc8, sc8) : sc8));
        const __m256i ql0 = ops::load(block + 64 * half), ql1 = ops::load(block + 64 * half + 32);
        const __m256i qh = ops::load(block + 128 + 32 * half);
#pragma GCC unroll 4
        for (int i = 0; i < 4; ++i) {
          const __m256i q = ops::q6_k_chunk(ql0, ql1, qh, i);
          const __m256i scale = _mm256_shuffle_epi8(scales, ops::pick16(2 * i, 2 * i + 1));
          add_products(q, scale, xb + (4 * half + i) * n * 32);
        }
      }
      sum_lanes8(sums, lanes);
      const __m256 d = _mm256_set1_ps(ops::half(kquant_half_bits(block + 208)));
      acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_load_si256(reinterpret_cast<const __m256i*>(lanes))),
                            _mm256_mul_ps(dx, d), acc);
    } else {
      __m256i scales;
      __m128i mins;
      ops::scales_mins(block + 4, scales, mins);
      const uint8_t* qs = block + (five_bits ? 48 : 16);
      __m256i fifth = five_bits ? ops::load(block + 16) : _mm256_setzero_si256();
#pragma GCC unroll 8
      for (int j = 0; j < n; ++j) sums[j] = _mm256_setzero_si256();
#pragma GCC unroll 4
      for (int k = 0; k < 4; ++k) {
        __m256i q_lo, q_hi, s_lo, s_hi;
        ops::q4_or_q5_k_chunk<five_bits>(qs, k, scales, fifth, q_lo, q_hi, s_lo, s_hi);
        add_products(q_lo, s_lo, xb + (2 * k) * n * 32);
        add_products(q_hi, s_hi, xb + (2 * k + 1) * n * 32);
      }
      sum_lanes8(sums, lanes);
      const __m256 sumi = _mm256_cvtepi32_ps(_mm256_load_si256(reinterpret_cast<const __m256i*>(lanes)));
      // The mins against each token's group sums: every min twice (groups 2j and 2j + 1).
      const __m256i mins2 = _mm256_set_m128i(_mm_unpackhi_epi16(mins, mins), _mm_unpacklo_epi16(mins, mins));
#pragma GCC unroll 8
      for (int j = 0; j < n; ++j) sums[j] = _mm256_madd_epi16(mins2, ops::load(bsb + j * groups));
      sum_lanes8(sums, lanes);
      const __m256 summ = _mm256_cvtepi32_ps(_mm256_load_si256(reinterpret_cast<const __m256i*>(lanes)));
      acc = _mm256_fmadd_ps(sumi, _mm256_mul_ps(dx, _mm256_set1_ps(ops::half(kquant_half_bits(block)))), acc);
      accm = _mm256_fmadd_ps(summ, _mm256_mul_ps(dx, _mm256_set1_ps(ops::half(kquant_half_bits(block + 2)))), accm);
    }
  }
  alignas(32) float out[n];
  _mm256_store_ps(out, q6 ? acc : _mm256_sub_ps(acc, accm));
  for (int j = 0; j < n; ++j) {
    const int t = g * n + j;
    if (t >= t0 && t < t1) y[static_cast<int64_t>(t - t0) * y_stride + r] = out[j];
  }
}

// One token (a decode step) against rows r and r2 at once: the two rows' lane sums
// reduced together and their float chains (cpu_q8k_activations.hpp) run in the lanes of
// one vector, [acc r, acc r2, accm r, accm r2], to the bits the one-row path gives.
template <weight_encoding type>
void kquant_two_rows(const raw_weight_rows& w, int64_t r, int64_t r2, const q8k_rows_view& x, int t, float* y) {
  using ops = avx2_kquant_ops;
  constexpr bool q6 = type == weight_encoding::q6_k, five_bits = type == weight_encoding::q5_k;
  constexpr int64_t block_size = q6 ? q6_k_block_size : five_bits ? q5_k_block_size : q4_k_block_size;
  constexpr int groups = q8k_block_values / q8k_group_values;
  const int64_t nb = x.blocks, tb = static_cast<int64_t>(t) * nb;
  const uint8_t* row_a = w.data + r * w.row_bytes;
  const uint8_t* row_b = w.data + r2 * w.row_bytes;
  __m128 acc = _mm_setzero_ps();
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* block_a = row_a + b * block_size;
    const uint8_t* block_b = row_b + b * block_size;
    const int8_t* xv = x.values + (tb + b) * q8k_block_values;
    const int16_t* bs = x.bsums + (tb + b) * groups;
    const __m128 dx = _mm_set1_ps(x.scales[tb + b]);
    if constexpr (q6) {
      const __m128i pair =
          _mm_hadd_epi32(ops::halves(ops::q6_k_lanes(block_a, xv, bs)), ops::halves(ops::q6_k_lanes(block_b, xv, bs)));
      const __m128i sums = _mm_hadd_epi32(pair, pair);  // [sumi a, sumi b, sumi a, sumi b]
      uint16_t h[2];
      std::memcpy(&h[0], block_a + 208, 2);
      std::memcpy(&h[1], block_b + 208, 2);
      int32_t both;
      std::memcpy(&both, h, 4);
      const __m128 d = _mm_cvtph_ps(_mm_cvtsi32_si128(both));  // [d a, d b, 0, 0]
      acc = _mm_fmadd_ps(_mm_cvtepi32_ps(sums), _mm_mul_ps(d, dx), acc);
    } else {
      __m256i values_a, values_b;
      __m128i mins_a, mins_b;
      ops::q4_or_q5_k_lanes<five_bits>(block_a, xv, bs, values_a, mins_a);
      ops::q4_or_q5_k_lanes<five_bits>(block_b, xv, bs, values_b, mins_b);
      // [sumi a, sumi b, summ a, summ b]
      const __m128i sums =
          _mm_hadd_epi32(_mm_hadd_epi32(ops::halves(values_a), ops::halves(values_b)), _mm_hadd_epi32(mins_a, mins_b));
      int32_t header[2];
      std::memcpy(&header[0], block_a, 4);  // d, dmin
      std::memcpy(&header[1], block_b, 4);
      const __m128 d =
          _mm_cvtph_ps(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(header)));  // [d a, dmin a, d b, dmin b]
      acc = _mm_fmadd_ps(_mm_cvtepi32_ps(sums), _mm_mul_ps(_mm_shuffle_ps(d, d, _MM_SHUFFLE(3, 1, 2, 0)), dx), acc);
    }
  }
  alignas(16) float out[4];
  _mm_store_ps(out, acc);
  y[r] = q6 ? out[0] : out[0] - out[2];
  y[r2] = q6 ? out[1] : out[1] - out[3];
}

// A group with fewer tokens than this in the range runs them one at a time (kquant_with):
// token lanes would compute mostly unused lanes.
constexpr int kquant_min_lane_tokens = 3;

template <weight_encoding type>
void kquant_lane_rows(const raw_weight_rows& w, int64_t r0, int64_t r1, const q8k_rows_view& x, int t0, int tokens,
                      float* y, int64_t y_stride) {
  const int t1 = t0 + tokens;
  if (tokens == 1) {
    // Rows i and i + half together: two streams that each only move forward (adjacent
    // rows read alternately back and forth, which the hardware prefetcher does not follow:
    // a 37 MB Q4_K matrix from DRAM at 6 GB/s that way).
    const int64_t half = (r1 - r0) / 2;
    for (int64_t r = r0; r < r0 + half; ++r) kquant_two_rows<type>(w, r, r + half, x, t0, y);
    if ((r1 - r0) % 2) matmul_kquant_with<avx2_kquant_ops>(w, r1 - 1, r1, x, t0, 1, y, y_stride);
    return;
  }
  constexpr int n = q8k_group_tokens;
  const auto one_by_one = [&](int ta, int tb) {
    matmul_kquant_with<avx2_kquant_ops>(w, r0, r1, x, ta, tb - ta, y + static_cast<int64_t>(ta - t0) * y_stride,
                                        y_stride);
  };
  int ga = t0 / n, gb = (t1 + n - 1) / n;                                   // the groups the range touches
  const auto first = [&](int g) { return t0 > n * g ? t0 : n * g; };        // of group g's tokens in range
  const auto end = [&](int g) { return t1 < n * g + n ? t1 : n * g + n; };  // (no <algorithm> in an ISA unit)
  if (ga < gb && end(ga) - first(ga) < kquant_min_lane_tokens) {
    one_by_one(t0, end(ga));
    ++ga;
  }
  if (ga < gb && end(gb - 1) - first(gb - 1) < kquant_min_lane_tokens) {
    one_by_one(first(gb - 1), t1);
    --gb;
  }
  for (int g = ga; g < gb; ++g)
    for (int64_t r = r0; r < r1; ++r) kquant_token_lanes<type>(w, r, x, g, y, y_stride, t0, t1);
}

}  // namespace

void matmul_kquant_avx2(const raw_weight_rows& w, int64_t r0, int64_t r1, const q8k_rows_view& x, int t0, int tokens,
                        float* y, int64_t y_stride) {
  switch (w.encoding) {
    case weight_encoding::q4_k: return kquant_lane_rows<weight_encoding::q4_k>(w, r0, r1, x, t0, tokens, y, y_stride);
    case weight_encoding::q5_k: return kquant_lane_rows<weight_encoding::q5_k>(w, r0, r1, x, t0, tokens, y, y_stride);
    default: return kquant_lane_rows<weight_encoding::q6_k>(w, r0, r1, x, t0, tokens, y, y_stride);
  }
}

void matmul_q8_avx2(const raw_weight_rows& w, int64_t r0, int64_t r1, const q8_rows_view& x, int t0, int tokens,
                    float* y, int64_t y_stride) {
  matmul_q8_with<avx2_q8_ops>(w, r0, r1, x, t0, tokens, y, y_stride);
}

// cpu_q8_activations.hpp's quantization: the block's largest magnitude (max is exact, so
// any order), the same scalar scale as the portable code, x * id rounded to nearest even
// by the conversion (the default rounding mode), the scale through F16C (round to nearest
// even, as float_to_half).
void quantize_q8_blocks_avx2(const float* x, int64_t blocks, int8_t* q, float* scales) {
  const __m256 sign = _mm256_set1_ps(-0.0f);
  for (int64_t b = 0; b < blocks; ++b, x += 32, q += 32) {
    __m256 v[4];
    for (int i = 0; i < 4; ++i) v[i] = _mm256_loadu_ps(x + 8 * i);
    const __m256 m8 = _mm256_max_ps(_mm256_max_ps(_mm256_andnot_ps(sign, v[0]), _mm256_andnot_ps(sign, v[1])),
                                    _mm256_max_ps(_mm256_andnot_ps(sign, v[2]), _mm256_andnot_ps(sign, v[3])));
    __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(m8), _mm256_extractf128_ps(m8, 1));
    m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
    const float amax = _mm_cvtss_f32(_mm_max_ss(m4, _mm_shuffle_ps(m4, m4, 1)));
    const float d = amax / 127.0f;
    const float id = amax != 0.0f ? 127.0f / amax : 0.0f;
    const __m256 mul = _mm256_set1_ps(id);
    __m256i n[4];
    for (int i = 0; i < 4; ++i) n[i] = _mm256_cvtps_epi32(_mm256_mul_ps(v[i], mul));
    const __m256i bytes = _mm256_packs_epi16(_mm256_packs_epi32(n[0], n[1]), _mm256_packs_epi32(n[2], n[3]));
    const __m256i ordered = _mm256_permutevar8x32_epi32(bytes, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(q), ordered);
    scales[b] = _cvtsh_ss(_cvtss_sh(d, 0));
  }
}

void matmul_rows_avx2(const raw_weight_rows& w, int64_t r0, int64_t r1, const float* x, int tokens, float* y,
                      int64_t y_stride) {
  matmul_rows_with<avx2_ops>(w, r0, r1, x, tokens, y, y_stride);
}

}  // namespace kvactor
