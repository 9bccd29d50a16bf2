// AVX2 block decoders for the hot weight types, for the AVX2 and AVX-512 matmul units
// (both are built with -mavx2). Each gives exactly the floats of its scalar twin in
// model/ggml_dequant.hpp: the same scalar sub-block scales, then the same per-value
// product (and subtraction) in 8 lanes; the units are built with -ffp-contract=off, so
// nothing is fused. Internal linkage: each unit compiles its own copy.
#pragma once

#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "model/ggml_dequant.hpp"

namespace kvactor {
namespace {

// 8 bytes from p widened to 8 int32 lanes.
inline __m256i bytes8_u32(const uint8_t* p) {
  return _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p)));
}

inline void decode_q4_K_avx2(const uint8_t* p, float* y) {
  const auto& b = ggml::block_at<ggml::block_q4_K>(p);
  const float d = ggml::fp16_value(b.d);
  const float min = ggml::fp16_value(b.dmin);
  const uint8_t* q = b.qs;
  const __m256i low4 = _mm256_set1_epi32(0x0f);
  for (int j = 0, is = 0; j < ggml::qk_k; j += 64, is += 2) {
    uint8_t sc, m;
    ggml::scale_min_k4(is, b.scales, sc, m);
    const __m256 d1 = _mm256_set1_ps(d * static_cast<float>(sc)), m1 = _mm256_set1_ps(min * static_cast<float>(m));
    ggml::scale_min_k4(is + 1, b.scales, sc, m);
    const __m256 d2 = _mm256_set1_ps(d * static_cast<float>(sc)), m2 = _mm256_set1_ps(min * static_cast<float>(m));
    for (int l = 0; l < 32; l += 8) {
      const __m256i v = bytes8_u32(q + l);
      const __m256 lo = _mm256_cvtepi32_ps(_mm256_and_si256(v, low4));
      const __m256 hi = _mm256_cvtepi32_ps(_mm256_srli_epi32(v, 4));
      _mm256_storeu_ps(y + l, _mm256_sub_ps(_mm256_mul_ps(d1, lo), m1));
      _mm256_storeu_ps(y + 32 + l, _mm256_sub_ps(_mm256_mul_ps(d2, hi), m2));
    }
    y += 64;
    q += 32;
  }
}

inline void decode_q5_K_avx2(const uint8_t* p, float* y) {
  const auto& b = ggml::block_at<ggml::block_q5_K>(p);
  const float d = ggml::fp16_value(b.d);
  const float min = ggml::fp16_value(b.dmin);
  const uint8_t* ql = b.qs;
  const __m256i low4 = _mm256_set1_epi32(0x0f);
  for (int j = 0, is = 0, shift = 0; j < ggml::qk_k; j += 64, is += 2, shift += 2) {
    uint8_t sc, m;
    ggml::scale_min_k4(is, b.scales, sc, m);
    const __m256 d1 = _mm256_set1_ps(d * static_cast<float>(sc)), m1 = _mm256_set1_ps(min * static_cast<float>(m));
    ggml::scale_min_k4(is + 1, b.scales, sc, m);
    const __m256 d2 = _mm256_set1_ps(d * static_cast<float>(sc)), m2 = _mm256_set1_ps(min * static_cast<float>(m));
    const __m128i sh1 = _mm_cvtsi32_si128(shift), sh2 = _mm_cvtsi32_si128(shift + 1);
    const __m256i one = _mm256_set1_epi32(1);
    for (int l = 0; l < 32; l += 8) {
      const __m256i v = bytes8_u32(ql + l);
      const __m256i h = bytes8_u32(b.qh + l);
      const __m256i h1 = _mm256_slli_epi32(_mm256_and_si256(_mm256_srl_epi32(h, sh1), one), 4);
      const __m256i h2 = _mm256_slli_epi32(_mm256_and_si256(_mm256_srl_epi32(h, sh2), one), 4);
      const __m256 lo = _mm256_cvtepi32_ps(_mm256_add_epi32(_mm256_and_si256(v, low4), h1));
      const __m256 hi = _mm256_cvtepi32_ps(_mm256_add_epi32(_mm256_srli_epi32(v, 4), h2));
      _mm256_storeu_ps(y + l, _mm256_sub_ps(_mm256_mul_ps(d1, lo), m1));
      _mm256_storeu_ps(y + 32 + l, _mm256_sub_ps(_mm256_mul_ps(d2, hi), m2));
    }
    y += 64;
    ql += 32;
  }
}

inline void decode_q6_K_avx2(const uint8_t* p, float* y) {
  const auto& b = ggml::block_at<ggml::block_q6_K>(p);
  const float d = ggml::fp16_value(b.d);
  const uint8_t* ql = b.ql;
  const uint8_t* qh = b.qh;
  const int8_t* sc = b.scales;
  const __m256i low4 = _mm256_set1_epi32(0x0f), two = _mm256_set1_epi32(3), bias = _mm256_set1_epi32(32);
  for (int n = 0; n < ggml::qk_k; n += 128) {
    for (int l = 0; l < 32; l += 8) {
      const int is = l / 16;
      const __m256i a = bytes8_u32(ql + l), c = bytes8_u32(ql + l + 32), h = bytes8_u32(qh + l);
      const __m256i q1 = _mm256_or_si256(_mm256_and_si256(a, low4), _mm256_slli_epi32(_mm256_and_si256(h, two), 4));
      const __m256i q2 = _mm256_or_si256(_mm256_and_si256(c, low4),
                                         _mm256_slli_epi32(_mm256_and_si256(_mm256_srli_epi32(h, 2), two), 4));
      const __m256i q3 = _mm256_or_si256(_mm256_srli_epi32(a, 4),
                                         _mm256_slli_epi32(_mm256_and_si256(_mm256_srli_epi32(h, 4), two), 4));
      const __m256i q4 = _mm256_or_si256(_mm256_srli_epi32(c, 4), _mm256_slli_epi32(_mm256_srli_epi32(h, 6), 4));
      const auto put = [&](float* out, __m256i q, int s) {
        const __m256 scale = _mm256_set1_ps(d * static_cast<float>(sc[s]));
        _mm256_storeu_ps(out, _mm256_mul_ps(scale, _mm256_cvtepi32_ps(_mm256_sub_epi32(q, bias))));
      };
      put(y + l, q1, is);
      put(y + l + 32, q2, is + 2);
      put(y + l + 64, q3, is + 4);
      put(y + l + 96, q4, is + 6);
    }
    y += 128;
    ql += 64;
    qh += 32;
    sc += 8;
  }
}

// Q4_0 and IQ4_NL: 16 bytes of nibbles, value j low, j + 16 high.
inline void decode_q4_0_avx2(const uint8_t* p, float* y) {
  const auto& b = ggml::block_at<ggml::block_q4_0>(p);
  const __m256 d = _mm256_set1_ps(ggml::fp16_value(b.d));
  const __m256i low4 = _mm256_set1_epi32(0x0f), eight = _mm256_set1_epi32(8);
  for (int l = 0; l < 16; l += 8) {
    const __m256i v = bytes8_u32(b.qs + l);
    const __m256 lo = _mm256_cvtepi32_ps(_mm256_sub_epi32(_mm256_and_si256(v, low4), eight));
    const __m256 hi = _mm256_cvtepi32_ps(_mm256_sub_epi32(_mm256_srli_epi32(v, 4), eight));
    _mm256_storeu_ps(y + l, _mm256_mul_ps(lo, d));
    _mm256_storeu_ps(y + 16 + l, _mm256_mul_ps(hi, d));
  }
}

inline void decode_iq4_nl_avx2(const uint8_t* p, float* y) {
  const auto& b = ggml::block_at<ggml::block_iq4_nl>(p);
  const __m256 d = _mm256_set1_ps(ggml::fp16_value(b.d));
  const __m128i table = _mm_loadu_si128(reinterpret_cast<const __m128i*>(ggml::kvalues_iq4nl));
  const __m128i qs = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b.qs));
  const __m128i low4 = _mm_set1_epi8(0x0f);
  const __m128i lo = _mm_shuffle_epi8(table, _mm_and_si128(qs, low4));
  const __m128i hi = _mm_shuffle_epi8(table, _mm_and_si128(_mm_srli_epi16(qs, 4), low4));
  const auto put = [&](float* out, __m128i levels) {
    _mm256_storeu_ps(out, _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(levels))));
    _mm256_storeu_ps(out + 8, _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(levels, 8)))));
  };
  put(y, lo);
  put(y + 16, hi);
}

// Q4_1: d * q + m.
inline void decode_q4_1_avx2(const uint8_t* p, float* y) {
  const auto& b = ggml::block_at<ggml::block_q4_1>(p);
  const __m256 d = _mm256_set1_ps(ggml::fp16_value(b.d)), m = _mm256_set1_ps(ggml::fp16_value(b.m));
  const __m256i low4 = _mm256_set1_epi32(0x0f);
  for (int l = 0; l < 16; l += 8) {
    const __m256i v = bytes8_u32(b.qs + l);
    const __m256 lo = _mm256_cvtepi32_ps(_mm256_and_si256(v, low4));
    const __m256 hi = _mm256_cvtepi32_ps(_mm256_srli_epi32(v, 4));
    _mm256_storeu_ps(y + l, _mm256_add_ps(_mm256_mul_ps(lo, d), m));
    _mm256_storeu_ps(y + 16 + l, _mm256_add_ps(_mm256_mul_ps(hi, d), m));
  }
}

// Q5_0 / Q5_1: the 5th bit of value j is bit j of qh, of value j + 16 bit j + 16.
// Offset is 16 for Q5_0 (then m is unused), 0 for Q5_1 (then m is added).
template <bool WithMin>
inline void decode_q5_avx2(uint16_t d_bits, uint16_t m_bits, const uint8_t* qh_bytes, const uint8_t* qs, float* y) {
  const __m256 d = _mm256_set1_ps(ggml::fp16_value(d_bits));
  uint32_t qh;
  std::memcpy(&qh, qh_bytes, sizeof qh);
  const __m256i bits = _mm256_set1_epi32(static_cast<int>(qh));
  const __m256i low4 = _mm256_set1_epi32(0x0f), one = _mm256_set1_epi32(1);
  const __m256i offset = _mm256_set1_epi32(WithMin ? 0 : 16);
  const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  for (int l = 0; l < 16; l += 8) {
    const __m256i v = bytes8_u32(qs + l);
    const __m256i j = _mm256_add_epi32(lane, _mm256_set1_epi32(l));
    const __m256i h0 = _mm256_slli_epi32(_mm256_and_si256(_mm256_srlv_epi32(bits, j), one), 4);
    const __m256i h1 = _mm256_slli_epi32(
        _mm256_and_si256(_mm256_srlv_epi32(bits, _mm256_add_epi32(j, _mm256_set1_epi32(16))), one), 4);
    const __m256 x0 = _mm256_cvtepi32_ps(_mm256_sub_epi32(_mm256_or_si256(_mm256_and_si256(v, low4), h0), offset));
    const __m256 x1 = _mm256_cvtepi32_ps(_mm256_sub_epi32(_mm256_or_si256(_mm256_srli_epi32(v, 4), h1), offset));
    if constexpr (WithMin) {
      const __m256 m = _mm256_set1_ps(ggml::fp16_value(m_bits));
      _mm256_storeu_ps(y + l, _mm256_add_ps(_mm256_mul_ps(x0, d), m));
      _mm256_storeu_ps(y + 16 + l, _mm256_add_ps(_mm256_mul_ps(x1, d), m));
    } else {
      _mm256_storeu_ps(y + l, _mm256_mul_ps(x0, d));
      _mm256_storeu_ps(y + 16 + l, _mm256_mul_ps(x1, d));
    }
  }
}

inline void decode_q5_0_avx2(const uint8_t* p, float* y) {
  const auto& b = ggml::block_at<ggml::block_q5_0>(p);
  decode_q5_avx2<false>(b.d, 0, b.qh, b.qs, y);
}

inline void decode_q5_1_avx2(const uint8_t* p, float* y) {
  const auto& b = ggml::block_at<ggml::block_q5_1>(p);
  decode_q5_avx2<true>(b.d, b.m, b.qh, b.qs, y);
}

inline void decode_q2_K_avx2(const uint8_t* p, float* y) {
  const auto& b = ggml::block_at<ggml::block_q2_K>(p);
  const float d = ggml::fp16_value(b.d);
  const float min = ggml::fp16_value(b.dmin);
  const uint8_t* q = b.qs;
  const __m256i three = _mm256_set1_epi32(3);
  int is = 0;
  for (int n = 0; n < ggml::qk_k; n += 128, q += 32)
    for (int shift = 0; shift < 8; shift += 2)
      for (int half = 0; half < 2; ++half, y += 16) {
        const uint8_t sc = b.scales[is++];
        const __m256 dl = _mm256_set1_ps(d * static_cast<float>(sc & 0x0f));
        const __m256 ml = _mm256_set1_ps(min * static_cast<float>(sc >> 4));
        const __m128i sh = _mm_cvtsi32_si128(shift);
        for (int l = 0; l < 16; l += 8) {
          const __m256i v = _mm256_and_si256(_mm256_srl_epi32(bytes8_u32(q + 16 * half + l), sh), three);
          _mm256_storeu_ps(y + l, _mm256_sub_ps(_mm256_mul_ps(dl, _mm256_cvtepi32_ps(v)), ml));
        }
      }
}

inline void decode_q3_K_avx2(const uint8_t* p, float* y) {
  const auto& b = ggml::block_at<ggml::block_q3_K>(p);
  const float d_all = ggml::fp16_value(b.d);
  int8_t scales[16];
  ggml::q3_K_scales(b.scales, scales);
  const uint8_t* q = b.qs;
  const __m256i three = _mm256_set1_epi32(3), four = _mm256_set1_epi32(4), zero = _mm256_setzero_si256();
  int is = 0, bit = 0;
  for (int n = 0; n < ggml::qk_k; n += 128, q += 32)
    for (int shift = 0; shift < 8; shift += 2, ++bit) {
      const __m128i sh = _mm_cvtsi32_si128(shift);
      const __m256i m = _mm256_set1_epi32(1 << bit);
      for (int half = 0; half < 2; ++half, y += 16) {
        const __m256 dl = _mm256_set1_ps(d_all * static_cast<float>(scales[is++] - 32));
        for (int l = 16 * half; l < 16 * half + 16; l += 8) {
          const __m256i low = _mm256_and_si256(_mm256_srl_epi32(bytes8_u32(q + l), sh), three);
          const __m256i high_clear = _mm256_cmpeq_epi32(_mm256_and_si256(bytes8_u32(b.hmask + l), m), zero);
          const __m256i v = _mm256_sub_epi32(low, _mm256_and_si256(high_clear, four));
          _mm256_storeu_ps(y + l - 16 * half, _mm256_mul_ps(dl, _mm256_cvtepi32_ps(v)));
        }
      }
    }
}

}  // namespace
}  // namespace kvactor
