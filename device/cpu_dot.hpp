// The dot product of attention scores and RMS norms. Its summation order depends
// only on the length n, never on the caller, the batch or the thread. The
// implementation (AVX2+FMA or portable) follows the process-wide ISA choice
// (cpu_isa.hpp) and never changes afterwards. Matrix products have their own
// tiled kernel (cpu_matmul.hpp).
#pragma once

#include <cstdint>

namespace kvactor {

// sum_i a[i] * b[i], i in [0, n), in the process-wide fixed order.
float dot(const float* a, const float* b, int n);

// out[i] = out[i] + a * v[i] for i in [0, n): a multiply then an add per element (no
// fused multiply-add), so every implementation gives the same bits.
void add_scaled(float* out, float a, const float* v, int n);

// Attention over the keys of one page, with the bits of the one-row calls above:
//   scores[j] = dot(q, k + j * stride, n) / divisor                 for j in [0, count)
//   add_scaled(out, weights[j] / divisor, v + j * stride, n)        for j = 0, 1, ... in order
// One call per page instead of one per key: q and the output row stay in registers.
void dot_rows(const float* q, const float* k, int64_t stride, int count, int n, float divisor, float* scores);
void add_scaled_rows(float* out, const float* weights, float divisor, const float* v, int64_t stride, int count, int n);

}  // namespace kvactor
