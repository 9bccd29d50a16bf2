// Greedy token choice on the device: one block per row of logits. Same rule as
// device/sampling.cpp: NaN never wins, the highest value wins, the lowest id wins
// ties. The result is exact, so the reduction order cannot change it.
#pragma once

#include <climits>

#include "device/hip/gpu_math.hpp"

namespace kvactor::hip {

__device__ inline bool ranks_higher(float v, int i, float best_v, int best_i) {
  return v > best_v || (v == best_v && i < best_i);
}

__global__ void argmax_kernel(const float* logits,  // [n_rows, vocab]
                              int vocab,
                              int32_t* out) {  // [n_rows]
  __shared__ float values[1024];
  __shared__ int ids[1024];
  const float* row = logits + static_cast<int64_t>(blockIdx.x) * vocab;
  const int tid = static_cast<int>(threadIdx.x);
  float best_v = -INFINITY;
  int best_i = INT_MAX;
  for (int i = tid; i < vocab; i += static_cast<int>(blockDim.x)) {
    const float v = isnan(row[i]) ? -INFINITY : row[i];
    if (best_i == INT_MAX || v > best_v) {  // first seen, or strictly higher (ids rise)
      best_v = v;
      best_i = i;
    }
  }
  values[tid] = best_v;
  ids[tid] = best_i;
  __syncthreads();
  for (int stride = static_cast<int>(blockDim.x) / 2; stride > 0; stride /= 2) {
    if (tid < stride && ranks_higher(values[tid + stride], ids[tid + stride], values[tid], ids[tid])) {
      values[tid] = values[tid + stride];
      ids[tid] = ids[tid + stride];
    }
    __syncthreads();
  }
  if (tid == 0) out[blockIdx.x] = ids[0];
}

}  // namespace kvactor::hip
