// The one dot product every CPU reduction goes through (matmuls and attention
// scores alike). Its summation order depends only on the length n, never on the
// caller, the batch or the thread, which is what makes the CPU backend
// batch-invariant. The implementation (AVX2+FMA or portable) is chosen once per
// process from the CPU's features and never changes afterwards.
#pragma once

namespace kvactor {

// sum_i a[i] * b[i], i in [0, n), in the process-wide fixed order.
float dot(const float* a, const float* b, int n);

// "avx2-fma" or "portable": which implementation this process uses.
const char* dot_implementation();

}  // namespace kvactor
