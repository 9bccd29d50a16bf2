// The dot product of attention scores and RMS norms. Its summation order depends
// only on the length n, never on the caller, the batch or the thread. The
// implementation (AVX2+FMA or portable) follows the process-wide ISA choice
// (cpu_isa.hpp) and never changes afterwards. Matrix products have their own
// tiled kernel (cpu_matmul.hpp).
#pragma once

namespace kvactor {

// sum_i a[i] * b[i], i in [0, n), in the process-wide fixed order.
float dot(const float* a, const float* b, int n);

}  // namespace kvactor
