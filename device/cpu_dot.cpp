#include "device/cpu_dot.hpp"

#include <immintrin.h>

namespace kvactor {

namespace {

// Eight independent lanes, combined pairwise at the end. Written lane by lane so the
// compiler may vectorise without reassociating anything (no -ffast-math needed).
float dot_portable(const float* a, const float* b, int n) {
  float lane[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int i = 0;
  for (; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; ++j) lane[j] += a[i + j] * b[i + j];
  float tail = 0.0f;
  for (; i < n; ++i) tail += a[i] * b[i];
  const float s0 = (lane[0] + lane[4]) + (lane[2] + lane[6]);
  const float s1 = (lane[1] + lane[5]) + (lane[3] + lane[7]);
  return (s0 + s1) + tail;
}

// Four 8-wide accumulators over 32-element blocks, then 8-element blocks into the
// first, then a scalar tail; reduced in a fixed tree.
__attribute__((target("avx2,fma"))) float dot_avx2(const float* a, const float* b, int n) {
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  __m256 acc2 = _mm256_setzero_ps(), acc3 = _mm256_setzero_ps();
  int i = 0;
  for (; i + 32 <= n; i += 32) {
    acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
    acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), acc1);
    acc2 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(b + i + 16), acc2);
    acc3 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(b + i + 24), acc3);
  }
  for (; i + 8 <= n; i += 8)
    acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
  const __m256 sum = _mm256_add_ps(_mm256_add_ps(acc0, acc1), _mm256_add_ps(acc2, acc3));
  const __m128 half = _mm_add_ps(_mm256_castps256_ps128(sum), _mm256_extractf128_ps(sum, 1));
  const __m128 quarter = _mm_add_ps(half, _mm_movehl_ps(half, half));
  const __m128 one = _mm_add_ss(quarter, _mm_shuffle_ps(quarter, quarter, 1));
  float total = _mm_cvtss_f32(one);
  float tail = 0.0f;
  for (; i < n; ++i) tail = __builtin_fmaf(a[i], b[i], tail);
  return total + tail;
}

using dot_fn = float (*)(const float*, const float*, int);

bool cpu_has_avx2_fma() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

// Decided once, before main's first step: every dot in the process takes one path.
const bool use_avx2 = cpu_has_avx2_fma();

}  // namespace

float dot(const float* a, const float* b, int n) {
  return use_avx2 ? dot_avx2(a, b, n) : dot_portable(a, b, n);
}

const char* dot_implementation() { return use_avx2 ? "avx2-fma" : "portable"; }

}  // namespace kvactor
