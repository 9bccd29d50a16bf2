#include "device/cpu_dot.hpp"

#include "device/half_float.hpp"
#include "model/model.hpp"

#include <immintrin.h>

#include <cstdlib>
#include <cstring>

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

void dot2_portable(const float* a, const float* b0, const float* b1, int n, float* out0, float* out1) {
  float lane0[8] = {0, 0, 0, 0, 0, 0, 0, 0}, lane1[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int i = 0;
  for (; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; ++j) {
      lane0[j] += a[i + j] * b0[i + j];
      lane1[j] += a[i + j] * b1[i + j];
    }
  float tail0 = 0.0f, tail1 = 0.0f;
  for (; i < n; ++i) {
    tail0 += a[i] * b0[i];
    tail1 += a[i] * b1[i];
  }
  *out0 = (((lane0[0] + lane0[4]) + (lane0[2] + lane0[6])) + ((lane0[1] + lane0[5]) + (lane0[3] + lane0[7]))) + tail0;
  *out1 = (((lane1[0] + lane1[4]) + (lane1[2] + lane1[6])) + ((lane1[1] + lane1[5]) + (lane1[3] + lane1[7]))) + tail1;
}

// dot_portable with the row expanded on the fly (value = scale * q, exact in fp32).
float dot_q8_0_portable(const uint8_t* row, const float* b, int n) {
  float lane[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  for (int block = 0; block < n / q8_0_block; ++block) {
    const uint8_t* bytes = row + block * q8_0_block_bytes;
    uint16_t h;
    std::memcpy(&h, bytes, 2);
    const float scale = half_to_float(h);
    const auto* q = reinterpret_cast<const int8_t*>(bytes + 2);
    const float* x = b + block * q8_0_block;
    for (int i = 0; i < q8_0_block; i += 8)
      for (int j = 0; j < 8; ++j) lane[j] += (scale * static_cast<float>(q[i + j])) * x[i + j];
  }
  const float tail = 0.0f;  // n % 32 == 0: dot_portable's tail is empty
  const float s0 = (lane[0] + lane[4]) + (lane[2] + lane[6]);
  const float s1 = (lane[1] + lane[5]) + (lane[3] + lane[7]);
  return (s0 + s1) + tail;
}

// The four accumulators reduced in one fixed tree; every AVX2 dot ends with it, so
// f32, f16 and q8_0 rows of the same values give the same bits.
__attribute__((target("avx2,fma"))) inline float horizontal_sum(__m256 acc0, __m256 acc1, __m256 acc2,
                                                                __m256 acc3) {
  const __m256 sum = _mm256_add_ps(_mm256_add_ps(acc0, acc1), _mm256_add_ps(acc2, acc3));
  const __m128 half = _mm_add_ps(_mm256_castps256_ps128(sum), _mm256_extractf128_ps(sum, 1));
  const __m128 quarter = _mm_add_ps(half, _mm_movehl_ps(half, half));
  const __m128 one = _mm_add_ss(quarter, _mm_shuffle_ps(quarter, quarter, 1));
  return _mm_cvtss_f32(one);
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
  const float total = horizontal_sum(acc0, acc1, acc2, acc3);
  float tail = 0.0f;
  for (; i < n; ++i) tail = __builtin_fmaf(a[i], b[i], tail);
  return total + tail;
}

// dot_avx2 for two right-hand sides at once: the same operations per output.
__attribute__((target("avx2,fma"))) void dot2_avx2(const float* a, const float* b0, const float* b1, int n,
                                                   float* out0, float* out1) {
  __m256 p0 = _mm256_setzero_ps(), p1 = _mm256_setzero_ps(), p2 = _mm256_setzero_ps(), p3 = _mm256_setzero_ps();
  __m256 q0 = _mm256_setzero_ps(), q1 = _mm256_setzero_ps(), q2 = _mm256_setzero_ps(), q3 = _mm256_setzero_ps();
  int i = 0;
  for (; i + 32 <= n; i += 32) {
    const __m256 a0 = _mm256_loadu_ps(a + i), a1 = _mm256_loadu_ps(a + i + 8);
    const __m256 a2 = _mm256_loadu_ps(a + i + 16), a3 = _mm256_loadu_ps(a + i + 24);
    p0 = _mm256_fmadd_ps(a0, _mm256_loadu_ps(b0 + i), p0);
    q0 = _mm256_fmadd_ps(a0, _mm256_loadu_ps(b1 + i), q0);
    p1 = _mm256_fmadd_ps(a1, _mm256_loadu_ps(b0 + i + 8), p1);
    q1 = _mm256_fmadd_ps(a1, _mm256_loadu_ps(b1 + i + 8), q1);
    p2 = _mm256_fmadd_ps(a2, _mm256_loadu_ps(b0 + i + 16), p2);
    q2 = _mm256_fmadd_ps(a2, _mm256_loadu_ps(b1 + i + 16), q2);
    p3 = _mm256_fmadd_ps(a3, _mm256_loadu_ps(b0 + i + 24), p3);
    q3 = _mm256_fmadd_ps(a3, _mm256_loadu_ps(b1 + i + 24), q3);
  }
  for (; i + 8 <= n; i += 8) {
    const __m256 a0 = _mm256_loadu_ps(a + i);
    p0 = _mm256_fmadd_ps(a0, _mm256_loadu_ps(b0 + i), p0);
    q0 = _mm256_fmadd_ps(a0, _mm256_loadu_ps(b1 + i), q0);
  }
  const float total0 = horizontal_sum(p0, p1, p2, p3), total1 = horizontal_sum(q0, q1, q2, q3);
  float tail0 = 0.0f, tail1 = 0.0f;
  for (; i < n; ++i) {
    tail0 = __builtin_fmaf(a[i], b0[i], tail0);
    tail1 = __builtin_fmaf(a[i], b1[i], tail1);
  }
  *out0 = total0 + tail0;
  *out1 = total1 + tail1;
}

// Eight int8 values times the block scale, as eight floats.
__attribute__((target("avx2,fma"))) inline __m256 expand_q8(const uint8_t* q, __m256 scale) {
  const __m128i bytes = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(q));
  return _mm256_mul_ps(scale, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(bytes)));
}

// dot_avx2 with the Q8_0 row expanded in registers: one 32-value block is exactly
// one iteration of dot_avx2's main loop, so the accumulators see the same values.
__attribute__((target("avx2,fma"))) float dot_q8_0_avx2(const uint8_t* row, const float* b, int n) {
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  __m256 acc2 = _mm256_setzero_ps(), acc3 = _mm256_setzero_ps();
  for (int block = 0; block < n / q8_0_block; ++block) {
    const uint8_t* bytes = row + block * q8_0_block_bytes;
    uint16_t h;
    std::memcpy(&h, bytes, 2);
    const __m256 scale = _mm256_set1_ps(half_to_float(h));
    const float* x = b + block * q8_0_block;
    acc0 = _mm256_fmadd_ps(expand_q8(bytes + 2, scale), _mm256_loadu_ps(x), acc0);
    acc1 = _mm256_fmadd_ps(expand_q8(bytes + 10, scale), _mm256_loadu_ps(x + 8), acc1);
    acc2 = _mm256_fmadd_ps(expand_q8(bytes + 18, scale), _mm256_loadu_ps(x + 16), acc2);
    acc3 = _mm256_fmadd_ps(expand_q8(bytes + 26, scale), _mm256_loadu_ps(x + 24), acc3);
  }
  const float tail = 0.0f;  // n % 32 == 0: dot_avx2's tail is empty
  return horizontal_sum(acc0, acc1, acc2, acc3) + tail;
}

__attribute__((target("avx2,fma,f16c"))) inline __m256 load_f16(const uint16_t* p) {
  return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}

// dot_avx2 reading the row as fp16 (F16C converts exactly, as half_to_float does).
__attribute__((target("avx2,fma,f16c"))) float dot_f16_avx2(const uint16_t* a, const float* b, int n) {
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  __m256 acc2 = _mm256_setzero_ps(), acc3 = _mm256_setzero_ps();
  int i = 0;
  for (; i + 32 <= n; i += 32) {
    acc0 = _mm256_fmadd_ps(load_f16(a + i), _mm256_loadu_ps(b + i), acc0);
    acc1 = _mm256_fmadd_ps(load_f16(a + i + 8), _mm256_loadu_ps(b + i + 8), acc1);
    acc2 = _mm256_fmadd_ps(load_f16(a + i + 16), _mm256_loadu_ps(b + i + 16), acc2);
    acc3 = _mm256_fmadd_ps(load_f16(a + i + 24), _mm256_loadu_ps(b + i + 24), acc3);
  }
  for (; i + 8 <= n; i += 8) acc0 = _mm256_fmadd_ps(load_f16(a + i), _mm256_loadu_ps(b + i), acc0);
  const float total = horizontal_sum(acc0, acc1, acc2, acc3);
  float tail = 0.0f;
  for (; i < n; ++i) tail = __builtin_fmaf(half_to_float(a[i]), b[i], tail);
  return total + tail;
}

using dot_fn = float (*)(const float*, const float*, int);

bool cpu_has_avx2_fma() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

// Decided once, before main's first step: every dot in the process takes one path.
// KVACTOR_DOT=portable forces the portable path (to test it on AVX2 machines).
bool choose_avx2() {
  const char* forced = std::getenv("KVACTOR_DOT");
  if (forced && std::strcmp(forced, "portable") == 0) return false;
  return cpu_has_avx2_fma();
}
const bool use_avx2 = choose_avx2();
const bool use_f16c = use_avx2 && __builtin_cpu_supports("f16c");

}  // namespace

float dot(const float* a, const float* b, int n) {
  return use_avx2 ? dot_avx2(a, b, n) : dot_portable(a, b, n);
}

void dot2(const float* a, const float* b0, const float* b1, int n, float* out0, float* out1) {
  if (use_avx2) dot2_avx2(a, b0, b1, n, out0, out1);
  else dot2_portable(a, b0, b1, n, out0, out1);
}

float dot_q8_0(const uint8_t* row, const float* b, int n) {
  return use_avx2 ? dot_q8_0_avx2(row, b, n) : dot_q8_0_portable(row, b, n);
}

bool fused_f16_available() { return use_f16c; }

float dot_f16(const uint16_t* row, const float* b, int n) { return dot_f16_avx2(row, b, n); }

const char* dot_implementation() { return use_avx2 ? "avx2-fma" : "portable"; }

}  // namespace kvactor
