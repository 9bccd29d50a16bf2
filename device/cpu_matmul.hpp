// The CPU backend's matrix product: y = W x for a block of weight rows and a block
// of token rows, with each weight row loaded once per register tile and multiplied
// against several token rows.
//
// Batch invariance: every output y[t][r] is one dot product reduced in the same
// order whatever the tile, the token count, the row block or the thread: one
// SIMD accumulator of the ISA's width over the full vectors of k, a fixed lane
// tree at the end, then a scalar tail for k % width. The order depends only on k
// and the ISA in use (cpu_isa.hpp). F16 and Q8_0 rows are converted exactly in
// registers, so they give the bits an F32 matrix of the same values gives.
#pragma once

#include <cstdint>

#include "device/cpu_isa.hpp"
#include "device/cpu_q8_activations.hpp"
#include "device/cpu_q8k_activations.hpp"
#include "model/model.hpp"

namespace kvactor {

// y[t * y_stride + r] = sum_k row r of w [k] * x[t * w.cols + k]
// for r in [r0, r1) and t in [0, tokens), using the process-wide ISA.
//   x: [tokens, w.cols]   y: [tokens, y_stride], y_stride >= r1
void matmul_rows(const weight_matrix& w, int64_t r0, int64_t r1, const float* x, int tokens, float* y,
                 int64_t y_stride);

// The same with an explicit ISA (which the CPU must support): tests compare paths.
void matmul_rows(cpu_isa isa, const weight_matrix& w, int64_t r0, int64_t r1, const float* x, int tokens, float* y,
                 int64_t y_stride);

// Q8_0 rows times quantized token rows, llama.cpp's integer arithmetic
// (cpu_q8_activations.hpp): y[(t - t0) * y_stride + r] for r in [r0, r1) and the token
// rows t in [t0, t0 + tokens) of x, which holds the whole product's input. The same bits
// on every instruction set (tests compare them).
// from_dram: the weights are read from memory, not the caches (a model larger than them),
// which picks how one or two tokens walk the rows (never the result).
void matmul_rows_q8(const weight_matrix& w, int64_t r0, int64_t r1, const q8_activations& x, int t0, int tokens,
                    float* y, int64_t y_stride, bool from_dram = false);
void matmul_rows_q8(cpu_isa isa, const weight_matrix& w, int64_t r0, int64_t r1, const q8_activations& x, int t0,
                    int tokens, float* y, int64_t y_stride, bool from_dram = false);

// Q4_K, Q5_K or Q6_K rows times Q8_K-quantized token rows, llama.cpp's integer arithmetic
// (cpu_q8k_activations.hpp): y[(t - t0) * y_stride + r] for r in [r0, r1) and the token
// rows t in [t0, t0 + tokens) of x, which holds the whole product's input. The same bits
// on every instruction set (tests compare them).
void matmul_rows_kquant(const weight_matrix& w, int64_t r0, int64_t r1, const q8k_activations& x, int t0, int tokens,
                        float* y, int64_t y_stride);
void matmul_rows_kquant(cpu_isa isa, const weight_matrix& w, int64_t r0, int64_t r1, const q8k_activations& x, int t0,
                        int tokens, float* y, int64_t y_stride);

// True for the weight types matmul_rows_kquant multiplies (Q4_K, Q5_K and Q6_K).
bool kquant_integer_type(dtype t);

// True when the CPU has AVX-512 VNNI with 256-bit vectors (the fastest Q8_0 kernel, run
// when the process's ISA is avx512; the AVX2 kernel runs otherwise, to the same bits).
bool cpu_has_vnni();

}  // namespace kvactor
