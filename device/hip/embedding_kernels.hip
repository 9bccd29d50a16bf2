// Embedding gather: one block per token row copies (and dequantises) its row of
// the embedding table. Included by dense_launchers.hip, not compiled alone.
#pragma once

#include "device/hip/gpu_math.hpp"

namespace kvactor::hip {

template <weight_kind K>
__global__ void embedding_gather_kernel(const uint8_t* table,   // [vocab, dim] in layout K
                                        const int32_t* tokens,  // [n_rows]
                                        int dim,
                                        float* out) {  // [n_rows, dim]
  const int64_t row = blockIdx.x;
  const uint8_t* src = table + static_cast<int64_t>(tokens[row]) * weight_row_bytes<K>(dim);
  for (int c = static_cast<int>(threadIdx.x); c < dim; c += static_cast<int>(blockDim.x))
    out[row * dim + c] = load_weight1<K>(src, c);
}

}  // namespace kvactor::hip
