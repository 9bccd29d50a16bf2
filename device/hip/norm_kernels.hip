// RMSNorm and rotary embedding, per token row. Included by dense_launchers.hip.
#pragma once

#include "device/hip/gpu_math.hpp"

namespace kvactor::hip {

// llama2.c's rmsnorm: out = weight * (x / sqrt(mean(x^2) + eps)), one block per
// output row. The sum of squares runs in a fixed order (thread-strided partial
// sums, then block_sum), so a row's result never depends on the batch.
__global__ void rmsnorm_kernel(const float* x,            // [*, dim]: input rows
                               const int32_t* row_index,  // [n_rows]: input row of each output row, or null = identity
                               int dim,
                               const float* weight,  // [dim]
                               float eps,
                               float* out) {  // [n_rows, dim]
  __shared__ float shared[1024 / 32 + 1];
  const int64_t row = blockIdx.x;
  const float* in = x + static_cast<int64_t>(row_index ? row_index[row] : row) * dim;
  float partial = 0.0f;
  for (int i = static_cast<int>(threadIdx.x); i < dim; i += static_cast<int>(blockDim.x))
    partial = fmaf(in[i], in[i], partial);
  float ss = block_sum(partial, shared);
  ss /= static_cast<float>(dim);
  ss += eps;
  ss = 1.0f / sqrtf(ss);
  for (int i = static_cast<int>(threadIdx.x); i < dim; i += static_cast<int>(blockDim.x))
    out[row * dim + i] = weight[i] * (ss * in[i]);
}

// Rotates adjacent pairs (x[2j], x[2j+1]) of every head, as llama2.c does, with
// the cos/sin table the host computed exactly as the CPU backend does. One thread
// per (row, head, pair).
__global__ void rope_kernel(float* vec,                // [n_rows, n_heads, head_dim], rotated in place
                            const int32_t* positions,  // [n_rows]
                            int64_t n_pairs_total,     // n_rows * n_heads * head_dim / 2
                            int n_heads, int head_dim,
                            const float* table) {  // [max_seq_len, head_dim / 2, 2]: cos, sin
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= n_pairs_total) return;
  const int pairs = head_dim / 2;
  const int64_t row = i / (static_cast<int64_t>(n_heads) * pairs);
  const int j = static_cast<int>(i % pairs);
  const float* cs = table + (static_cast<int64_t>(positions[row]) * pairs + j) * 2;
  const float c = cs[0], s = cs[1];
  float* p = vec + 2 * i;  // pairs are contiguous across heads and rows
  const float v0 = p[0], v1 = p[1];
  p[0] = v0 * c - v1 * s;
  p[1] = v0 * s + v1 * c;
}

}  // namespace kvactor::hip
