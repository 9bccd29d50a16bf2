#include "device/cpu_dot.hpp"

#include "device/cpu_isa.hpp"

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

// The four accumulators reduced in one fixed tree.
__attribute__((target("avx2,fma"))) inline float horizontal_sum(__m256 acc0, __m256 acc1, __m256 acc2, __m256 acc3) {
  const __m256 sum = _mm256_add_ps(_mm256_add_ps(acc0, acc1), _mm256_add_ps(acc2, acc3));
  const __m128 half = _mm_add_ps(_mm256_castps256_ps128(sum), _mm256_extractf128_ps(sum, 1));
  const __m128 quarter = _mm_add_ps(half, _mm_movehl_ps(half, half));
  const __m128 one = _mm_add_ss(quarter, _mm_shuffle_ps(quarter, quarter, 1));
  return _mm_cvtss_f32(one);
}

// Four 8-wide accumulators over 32-element blocks, then 8-element blocks into the
// first, then a scalar tail; reduced in a fixed tree.
__attribute__((target("avx2,fma"), always_inline)) inline float dot_avx2_inline(const float* a, const float* b, int n) {
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  __m256 acc2 = _mm256_setzero_ps(), acc3 = _mm256_setzero_ps();
  int i = 0;
  for (; i + 32 <= n; i += 32) {
    acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
    acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), acc1);
    acc2 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(b + i + 16), acc2);
    acc3 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(b + i + 24), acc3);
  }
  for (; i + 8 <= n; i += 8) acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
  const float total = horizontal_sum(acc0, acc1, acc2, acc3);
  float tail = 0.0f;
  for (; i < n; ++i) tail = __builtin_fmaf(a[i], b[i], tail);
  return total + tail;
}

__attribute__((target("avx2,fma"))) float dot_avx2(const float* a, const float* b, int n) {
  return dot_avx2_inline(a, b, n);
}

__attribute__((target("avx2,fma"))) void dot_rows_avx2(const float* q, const float* k, int64_t stride, int count, int n,
                                                       float divisor, float* __restrict scores) {
  for (int j = 0; j < count; ++j) scores[j] = dot_avx2_inline(q, k + j * stride, n) / divisor;
}

// V vectors of the output row in registers while every key's row is added, key by key:
// per element the same multiply then add, in the same key order, as add_scaled per key.
template <int V>
__attribute__((target("avx2"), always_inline)) inline void add_scaled_rows_avx2_chunk(float* out, const float* weights,
                                                                                      float divisor, const float* v,
                                                                                      int64_t stride, int count) {
  __m256 acc[V];
  for (int c = 0; c < V; ++c) acc[c] = _mm256_loadu_ps(out + 8 * c);
  for (int j = 0; j < count; ++j) {
    const __m256 scale = _mm256_set1_ps(weights[j] / divisor);
    const float* row = v + j * stride;
    for (int c = 0; c < V; ++c) acc[c] = _mm256_add_ps(acc[c], _mm256_mul_ps(scale, _mm256_loadu_ps(row + 8 * c)));
  }
  for (int c = 0; c < V; ++c) _mm256_storeu_ps(out + 8 * c, acc[c]);
}

__attribute__((target("avx2"))) void add_scaled_rows_avx2(float* out, const float* weights, float divisor,
                                                          const float* v, int64_t stride, int count, int n) {
  int i = 0;
  for (; i + 64 <= n; i += 64) add_scaled_rows_avx2_chunk<8>(out + i, weights, divisor, v + i, stride, count);
  switch ((n - i) / 8) {
    case 7: add_scaled_rows_avx2_chunk<7>(out + i, weights, divisor, v + i, stride, count); break;
    case 6: add_scaled_rows_avx2_chunk<6>(out + i, weights, divisor, v + i, stride, count); break;
    case 5: add_scaled_rows_avx2_chunk<5>(out + i, weights, divisor, v + i, stride, count); break;
    case 4: add_scaled_rows_avx2_chunk<4>(out + i, weights, divisor, v + i, stride, count); break;
    case 3: add_scaled_rows_avx2_chunk<3>(out + i, weights, divisor, v + i, stride, count); break;
    case 2: add_scaled_rows_avx2_chunk<2>(out + i, weights, divisor, v + i, stride, count); break;
    case 1: add_scaled_rows_avx2_chunk<1>(out + i, weights, divisor, v + i, stride, count); break;
    default: break;
  }
  i += (n - i) / 8 * 8;
  for (; i < n; ++i)
    for (int j = 0; j < count; ++j) out[i] += weights[j] / divisor * v[j * stride + i];
}

__attribute__((target("avx2"))) void add_scaled_avx2(float* out, float a, const float* v, int n) {
  const __m256 scale = _mm256_set1_ps(a);
  int i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(out + i, _mm256_add_ps(_mm256_loadu_ps(out + i), _mm256_mul_ps(scale, _mm256_loadu_ps(v + i))));
  for (; i < n; ++i) out[i] += a * v[i];
}

// Decided once per process, with the matmul's ISA (cpu_isa.hpp): AVX-512 machines
// use the AVX2 dot too (attention rows are short).
bool dot_uses_avx2() {
  static const bool avx2 = cpu_isa_in_use() != cpu_isa::portable;
  return avx2;
}

}  // namespace

float dot(const float* a, const float* b, int n) { return dot_uses_avx2() ? dot_avx2(a, b, n) : dot_portable(a, b, n); }

void add_scaled(float* out, float a, const float* v, int n) {
  if (dot_uses_avx2()) {
    add_scaled_avx2(out, a, v, n);
    return;
  }
  for (int i = 0; i < n; ++i) out[i] += a * v[i];
}

void dot_rows(const float* q, const float* k, int64_t stride, int count, int n, float divisor, float* scores) {
  if (dot_uses_avx2()) return dot_rows_avx2(q, k, stride, count, n, divisor, scores);
  for (int j = 0; j < count; ++j) scores[j] = dot_portable(q, k + j * stride, n) / divisor;
}

void add_scaled_rows(float* out, const float* weights, float divisor, const float* v, int64_t stride, int count,
                     int n) {
  if (dot_uses_avx2()) return add_scaled_rows_avx2(out, weights, divisor, v, stride, count, n);
  for (int j = 0; j < count; ++j) add_scaled(out, weights[j] / divisor, v + j * stride, n);
}

}  // namespace kvactor
