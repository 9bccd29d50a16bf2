// Weight-times-activations for the projections and the classifier:
//   y[t][r] = sum_c W[r][c] * x[t][c]
// One warp per `Rows` consecutive weight rows (several rows then share each
// activation load; matmul() uses Rows = 1, the fastest measured); a block holds
// matmul_threads / warp_size warps; blockIdx.x picks a tile of `Tile` token rows (fastest-varying, so blocks
// that share weight rows run close together and reuse them from L2).
//
// Batch invariance: lane l accumulates columns 4g..4g+3 for g = l, l + warp_size,
// ... with explicit fmaf in column order, then warp_sum combines the lanes. That
// order depends on the row length only, never on the tile size, the rows per
// warp, the token count or which tile a token falls in. Rows past the token count in the last tile
// re-read the last valid row and are discarded.
#pragma once

#include "device/hip/gpu_math.hpp"

namespace kvactor::hip {

template <weight_kind K, int Tile, int Rows>
__global__ void matmul_kernel(const uint8_t* w,  // [rows, cols] in layout K
                              int64_t rows, int64_t cols,
                              const float* x,  // [n_tokens, cols]
                              int n_tokens,
                              float* y) {  // [n_tokens, rows]
  const int lane = static_cast<int>(threadIdx.x) % warp_size;
  const int64_t r0 = (static_cast<int64_t>(blockIdx.y) * (blockDim.x / warp_size) + threadIdx.x / warp_size) * Rows;
  if (r0 >= rows) return;  // whole warps leave together
  const int t0 = static_cast<int>(blockIdx.x) * Tile;
  const int64_t row_bytes = weight_row_bytes<K>(cols);
  const uint8_t* row[Rows];  // rows past the end re-read the last one; their sums are discarded
#pragma unroll
  for (int i = 0; i < Rows; ++i) row[i] = w + min(r0 + i, rows - 1) * row_bytes;
  const float4* xs[Tile];
#pragma unroll
  for (int t = 0; t < Tile; ++t)
    xs[t] = reinterpret_cast<const float4*>(x + static_cast<int64_t>(min(t0 + t, n_tokens - 1)) * cols);
  float acc[Rows][Tile];
#pragma unroll
  for (int i = 0; i < Rows; ++i)
#pragma unroll
    for (int t = 0; t < Tile; ++t) acc[i][t] = 0.0f;
  const int64_t groups = cols / 4;
  // One activation load serves every row of the warp.
  auto accumulate = [&](const float4(&wv)[Rows], int64_t g) {
#pragma unroll
    for (int t = 0; t < Tile; ++t) {
      const float4 xv = xs[t][g];
#pragma unroll
      for (int i = 0; i < Rows; ++i) {
        float a = acc[i][t];
        a = fmaf(wv[i].x, xv.x, a);
        a = fmaf(wv[i].y, xv.y, a);
        a = fmaf(wv[i].z, xv.z, a);
        a = fmaf(wv[i].w, xv.w, a);
        acc[i][t] = a;
      }
    }
  };
  // Small tiles (decode) wait on the weight loads: issue `ahead` column groups of
  // them before the first is used. The columns are still summed in the same order.
  constexpr int ahead = Tile <= 4 ? 4 : 1;
  int64_t g = lane;
  for (; g + (ahead - 1) * warp_size < groups; g += ahead * warp_size) {
    float4 wv[ahead][Rows];
#pragma unroll
    for (int u = 0; u < ahead; ++u)
#pragma unroll
      for (int i = 0; i < Rows; ++i) wv[u][i] = load_weight4<K>(row[i], g + u * warp_size);
#pragma unroll
    for (int u = 0; u < ahead; ++u) accumulate(wv[u], g + u * warp_size);
  }
  for (; g < groups; g += warp_size) {
    float4 wv[Rows];
#pragma unroll
    for (int i = 0; i < Rows; ++i) wv[i] = load_weight4<K>(row[i], g);
    accumulate(wv, g);
  }
#pragma unroll
  for (int i = 0; i < Rows; ++i)
#pragma unroll
    for (int t = 0; t < Tile; ++t) {
      const float total = warp_sum(acc[i][t]);
      if (lane == 0 && t0 + t < n_tokens && r0 + i < rows) y[static_cast<int64_t>(t0 + t) * rows + r0 + i] = total;
    }
}

}  // namespace kvactor::hip
