// Element-wise steps of the block: SwiGLU and the residual add. Included by
// dense_launchers.hip.
#pragma once

#include "device/hip/gpu_math.hpp"

namespace kvactor::hip {

// gate = silu(gate) * up, as the CPU backend computes it.
__global__ void swiglu_kernel(float* gate,      // [count]: w1 output, overwritten with the product
                              const float* up,  // [count]: w3 output
                              int64_t count) {
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < count;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    float g = gate[i];
    g *= 1.0f / (1.0f + expf(-g));
    gate[i] = g * up[i];
  }
}

__global__ void residual_add_kernel(float* x,            // [count]: residual stream, updated in place
                                    const float* delta,  // [count]
                                    int64_t count) {
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < count;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x)
    x[i] += delta[i];
}

}  // namespace kvactor::hip
