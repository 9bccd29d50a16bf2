// The one dot product every CPU reduction goes through (matmuls and attention
// scores alike). Its summation order depends only on the length n, never on the
// caller, the batch or the thread, which is what makes the CPU backend
// batch-invariant. The implementation (AVX2+FMA or portable) is chosen once per
// process from the CPU's features (or KVACTOR_DOT=portable) and never changes
// afterwards.
#pragma once

#include <cstdint>

namespace kvactor {

// sum_i a[i] * b[i], i in [0, n), in the process-wide fixed order.
float dot(const float* a, const float* b, int n);

// Two dots sharing `a`: *out0 == dot(a, b0, n) and *out1 == dot(a, b1, n), bit for
// bit (the same operations per output, interleaved so `a` is loaded once).
void dot2(const float* a, const float* b0, const float* b1, int n, float* out0, float* out1);

// dot(dequantised row, b, n) for one Q8_0 row (n % 32 == 0), bit for bit, without
// expanding the row first: for steps with few tokens the expansion costs as much
// as the dot itself.
float dot_q8_0(const uint8_t* row, const float* b, int n);

// dot(row converted from fp16, b, n), bit for bit (fp16 -> fp32 is exact). Only
// when fused_f16_available(): it needs F16C besides AVX2; otherwise callers expand
// the row and use dot.
bool fused_f16_available();
float dot_f16(const uint16_t* row, const float* b, int n);

// "avx2-fma" or "portable": which implementation this process uses.
const char* dot_implementation();

}  // namespace kvactor
