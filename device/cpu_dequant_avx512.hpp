// AVX-512 block decoders for the most used K-quants (Q4_K, Q6_K): 16 lanes, so the
// buffer the 16-lane tile then reads is written in whole vectors. Exactly the values of
// the scalar decoders (model/ggml_dequant.hpp): the same scalar group scales, the same
// per-value product and subtraction, nothing fused (-ffp-contract=off). Internal linkage.
#pragma once

#include <immintrin.h>

#include <cstdint>

#include "model/ggml_dequant.hpp"

namespace kvactor {
namespace {

inline __m512i bytes16_u32(const uint8_t* p) {
  return _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}

inline void decode_q4_K_avx512(const uint8_t* p, float* y) {
  const auto& b = ggml::block_at<ggml::block_q4_K>(p);
  const float d = ggml::fp16_value(b.d);
  const float min = ggml::fp16_value(b.dmin);
  const uint8_t* q = b.qs;
  const __m512i low4 = _mm512_set1_epi32(0x0f);
  for (int j = 0, is = 0; j < ggml::qk_k; j += 64, is += 2) {
    uint8_t sc, m;
    ggml::scale_min_k4(is, b.scales, sc, m);
    const __m512 d1 = _mm512_set1_ps(d * static_cast<float>(sc)), m1 = _mm512_set1_ps(min * static_cast<float>(m));
    ggml::scale_min_k4(is + 1, b.scales, sc, m);
    const __m512 d2 = _mm512_set1_ps(d * static_cast<float>(sc)), m2 = _mm512_set1_ps(min * static_cast<float>(m));
    for (int l = 0; l < 32; l += 16) {
      const __m512i v = bytes16_u32(q + l);
      const __m512 lo = _mm512_cvtepi32_ps(_mm512_and_si512(v, low4));
      const __m512 hi = _mm512_cvtepi32_ps(_mm512_srli_epi32(v, 4));
      _mm512_storeu_ps(y + l, _mm512_sub_ps(_mm512_mul_ps(d1, lo), m1));
      _mm512_storeu_ps(y + 32 + l, _mm512_sub_ps(_mm512_mul_ps(d2, hi), m2));
    }
    y += 64;
    q += 32;
  }
}

inline void decode_q6_K_avx512(const uint8_t* p, float* y) {
  const auto& b = ggml::block_at<ggml::block_q6_K>(p);
  const float d = ggml::fp16_value(b.d);
  const uint8_t* ql = b.ql;
  const uint8_t* qh = b.qh;
  const int8_t* sc = b.scales;
  const __m512i low4 = _mm512_set1_epi32(0x0f), three = _mm512_set1_epi32(3), bias = _mm512_set1_epi32(32);
  for (int n = 0; n < ggml::qk_k; n += 128) {
    for (int l = 0; l < 32; l += 16) {  // values l..l+15 share one scale (is = l / 16)
      const int is = l / 16;
      const __m512i a = bytes16_u32(ql + l), c = bytes16_u32(ql + l + 32), h = bytes16_u32(qh + l);
      const __m512i q1 = _mm512_or_si512(_mm512_and_si512(a, low4), _mm512_slli_epi32(_mm512_and_si512(h, three), 4));
      const __m512i q2 = _mm512_or_si512(_mm512_and_si512(c, low4),
                                         _mm512_slli_epi32(_mm512_and_si512(_mm512_srli_epi32(h, 2), three), 4));
      const __m512i q3 = _mm512_or_si512(_mm512_srli_epi32(a, 4),
                                         _mm512_slli_epi32(_mm512_and_si512(_mm512_srli_epi32(h, 4), three), 4));
      const __m512i q4 = _mm512_or_si512(_mm512_srli_epi32(c, 4), _mm512_slli_epi32(_mm512_srli_epi32(h, 6), 4));
      const auto put = [&](float* out, __m512i q, int s) {
        const __m512 scale = _mm512_set1_ps(d * static_cast<float>(sc[s]));
        _mm512_storeu_ps(out, _mm512_mul_ps(scale, _mm512_cvtepi32_ps(_mm512_sub_epi32(q, bias))));
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

}  // namespace
}  // namespace kvactor
