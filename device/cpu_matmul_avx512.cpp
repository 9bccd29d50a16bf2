// The matmul tile over AVX-512F: 16-lane accumulators. Built with -mavx512f -mfma
// -mf16c; runs only when cpu_supports(cpu_isa::avx512).
// GCC 12 warns that the AVX-512 intrinsics' own undefined pass-through operand
// (_mm512_undefined_*) is uninitialised: a false positive inside its header.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include "device/cpu_dequant_avx2.hpp"
#include "device/cpu_dequant_avx512.hpp"
#include "device/cpu_matmul_tile.hpp"

namespace kvactor {

namespace {

struct avx512_ops {
  using vec = __m512;
  static constexpr int width = 16;
  static constexpr int rows_multi = 4;  // 4 x 6 = 24 accumulators + 6 token vectors + 1 weight vector
  static constexpr int tokens_multi = 6;
  static constexpr int tokens_row_stream = 8;  // one weight row x this many tokens (few-token F32)
  static vec zero() { return _mm512_setzero_ps(); }
  static vec load(const float* p) { return _mm512_loadu_ps(p); }
  static vec fma(vec a, vec b, vec acc) { return _mm512_fmadd_ps(a, b, acc); }
  static vec load_f16(const uint16_t* p) {
    return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
  }
  static vec load_q8(const int8_t* q, float scale) {
    const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(q));
    return _mm512_mul_ps(_mm512_set1_ps(scale), _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(bytes)));
  }
  // Lanes i and i + 8 first, then the same tree as the 8-lane reduction.
  static float reduce(vec v) {
    const __m256 lo = _mm512_castps512_ps256(v);
    const __m256 hi = _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1));
    const __m256 eight = _mm256_add_ps(lo, hi);
    const __m128 four = _mm_add_ps(_mm256_castps256_ps128(eight), _mm256_extractf128_ps(eight, 1));
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
  static void decode_q4_K(const uint8_t* p, float* y) { decode_q4_K_avx512(p, y); }
  static void decode_q5_K(const uint8_t* p, float* y) { decode_q5_K_avx2(p, y); }
  static void decode_q6_K(const uint8_t* p, float* y) { decode_q6_K_avx512(p, y); }
};

}  // namespace

void matmul_rows_avx512(const raw_weight_rows& w, int64_t r0, int64_t r1, const float* x, int tokens, float* y,
                        int64_t y_stride) {
  matmul_rows_with<avx512_ops>(w, r0, r1, x, tokens, y, y_stride);
}

}  // namespace kvactor
