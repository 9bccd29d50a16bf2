// The dot product of attention scores and RMS norms. Its summation order depends
// only on the length n, never on the caller, the batch or the thread. The
// implementation (AVX2+FMA or portable) follows the process-wide ISA choice
// (cpu_isa.hpp) and never changes afterwards. Matrix products have their own
// tiled kernel (cpu_matmul.hpp).
#pragma once

namespace kvactor {

// sum_i a[i] * b[i], i in [0, n), in the process-wide fixed order.
float dot(const float* a, const float* b, int n);

// out[i] = out[i] + a * v[i] for i in [0, n): a multiply then an add per element (no
// fused multiply-add), so every implementation gives the same bits.
void add_scaled(float* out, float a, const float* v, int n);

}  // namespace kvactor
