// Writes each token row's K and V (after RoPE) into its slot of the paged store.
// One layer of the store, page-major:
//   [num_pages][k|v][n_kv_heads][page_size][head_dim]
// Included by attention_launchers.hip.
#pragma once

#include "device/hip/gpu_math.hpp"

namespace kvactor::hip {

__global__ void kv_write_kernel(float* kv,                // [num_pages, 2, n_kv_heads, page_size, head_dim]: one layer
                                const float* k,           // [n_rows, n_kv_heads * head_dim]
                                const float* v,           // [n_rows, n_kv_heads * head_dim]
                                const int32_t* row_page,  // [n_rows]: physical page of the row's position
                                const int32_t* row_slot,  // [n_rows]: slot in that page (position % page_size)
                                int n_kv_heads, int page_size, int head_dim) {
  const int64_t row = blockIdx.x;
  const int kv_dim = n_kv_heads * head_dim;
  const int64_t head_block = static_cast<int64_t>(page_size) * head_dim;
  float* page = kv + static_cast<int64_t>(row_page[row]) * 2 * n_kv_heads * head_block;
  const int64_t slot_offset = static_cast<int64_t>(row_slot[row]) * head_dim;
  for (int i = static_cast<int>(threadIdx.x); i < kv_dim; i += static_cast<int>(blockDim.x)) {
    const int head = i / head_dim, d = i % head_dim;
    page[head * head_block + slot_offset + d] = k[row * kv_dim + i];
    page[(n_kv_heads + head) * head_block + slot_offset + d] = v[row * kv_dim + i];
  }
}

}  // namespace kvactor::hip
