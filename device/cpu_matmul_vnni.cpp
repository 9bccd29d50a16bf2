// The integer Q8_0 product with AVX-512 VNNI on 256-bit vectors (vpdpbusd: unsigned x
// signed bytes, 4 products summed into each 32-bit lane). Built with -mavx512f
// -mavx512vl -mavx512vnni -mavx2 -mfma -mf16c; runs only when the CPU has them
// (cpu_matmul.cpp). Same bits as the AVX2 and portable units (exact integer sums).
#include <immintrin.h>

#include "device/cpu_matmul_q8_tile.hpp"

namespace kvactor {

namespace {

struct vnni_q8_ops {
  // 4 rows x 3 groups: 12 float + 12 integer accumulators, 3 token vectors, 1 weight
  // vector (32 registers with AVX-512VL).
  static constexpr int rows_multi = 4;
  static constexpr int groups_multi = 3;
  using weights = __m256i;
  // One block: |w| (unsigned) times x carrying w's sign.
  static __m256i block_dot(const int8_t* w, const int8_t* x) {
    const __m256i wv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w));
    const __m256i xv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x));
    return _mm256_dpbusd_epi32(_mm256_setzero_si256(), _mm256_abs_epi8(wv), _mm256_sign_epi8(xv, wv));
  }
  // Token lanes: w + 128 (unsigned) times x, so each lane gains 128 * (its x values);
  // the block starts from -128 * the sum of its values (q8_rows_view::group_offsets).
  static weights weights4(const uint8_t* p) {
    int32_t v;
    std::memcpy(&v, p, 4);
    return _mm256_xor_si256(_mm256_set1_epi32(v), _mm256_set1_epi8(static_cast<char>(0x80)));
  }
  static __m256i start(const int32_t* offsets) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(offsets)); }
  static __m256i dot4(__m256i acc, weights w, __m256i x) { return _mm256_dpbusd_epi32(acc, w, x); }
  static float half(uint16_t h) { return _cvtsh_ss(h); }
};

}  // namespace

void matmul_q8_vnni(const raw_weight_rows& w, int64_t r0, int64_t r1, const q8_rows_view& x, int t0, int tokens,
                    float* y, int64_t y_stride) {
  matmul_q8_with<vnni_q8_ops>(w, r0, r1, x, t0, tokens, y, y_stride);
}

}  // namespace kvactor
