// The matmul tile over AVX2 + FMA (+ F16C for fp16 rows): 8-lane accumulators.
// Built with -mavx2 -mfma -mf16c; runs only when cpu_supports(cpu_isa::avx2).
#include <immintrin.h>

#include "device/cpu_dequant_avx2.hpp"
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

}  // namespace

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
