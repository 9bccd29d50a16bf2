// The matmul tile over AVX2 + FMA (+ F16C for fp16 rows): 8-lane accumulators.
// Built with -mavx2 -mfma -mf16c; runs only when cpu_supports(cpu_isa::avx2).
#include <immintrin.h>

#include "device/cpu_dequant_avx2.hpp"
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

}  // namespace

void matmul_rows_avx2(const raw_weight_rows& w, int64_t r0, int64_t r1, const float* x, int tokens, float* y,
                      int64_t y_stride) {
  matmul_rows_with<avx2_ops>(w, r0, r1, x, tokens, y, y_stride);
}

}  // namespace kvactor
