// Weight-times-activations for the projections and the classifier:
//   y[t][r] = sum_c W[r][c] * x[t][c]
// One warp per weight row r; a block holds rows_per_block warps; blockIdx.x picks
// a tile of `Tile` token rows (fastest-varying, so blocks that share weight rows
// run close together and reuse them from L2).
//
// Batch invariance: lane l accumulates columns 4g..4g+3 for g = l, l + warp_size,
// ... with explicit fmaf in column order, then warp_sum combines the lanes. That
// order depends on the row length only, never on the tile size, the token count
// or which tile a token falls in. Rows past the token count in the last tile
// re-read the last valid row and are discarded.
#pragma once

#include "device/hip/gpu_math.hpp"

namespace kvactor::hip {

template <weight_kind K, int Tile>
__global__ void matmul_kernel(const uint8_t* w,  // [rows, cols] in layout K
                              int64_t rows, int64_t cols,
                              const float* x,    // [n_tokens, cols]
                              int n_tokens,
                              float* y) {        // [n_tokens, rows]
  const int lane = static_cast<int>(threadIdx.x) % warp_size;
  const int64_t r = static_cast<int64_t>(blockIdx.y) * (blockDim.x / warp_size) + threadIdx.x / warp_size;
  if (r >= rows) return;  // whole warps leave together
  const int t0 = static_cast<int>(blockIdx.x) * Tile;
  const uint8_t* row = w + r * weight_row_bytes<K>(cols);
  const float4* xs[Tile];
  for (int t = 0; t < Tile; ++t)
    xs[t] = reinterpret_cast<const float4*>(x + static_cast<int64_t>(min(t0 + t, n_tokens - 1)) * cols);
  float acc[Tile];
  for (int t = 0; t < Tile; ++t) acc[t] = 0.0f;
  const int64_t groups = cols / 4;
  auto accumulate = [&](const float4 wv, int64_t g) {
#pragma unroll
    for (int t = 0; t < Tile; ++t) {
      const float4 xv = xs[t][g];
      float a = acc[t];
      a = fmaf(wv.x, xv.x, a);
      a = fmaf(wv.y, xv.y, a);
      a = fmaf(wv.z, xv.z, a);
      a = fmaf(wv.w, xv.w, a);
      acc[t] = a;
    }
  };
  // Small tiles (decode) wait on the weight loads: issue `ahead` of them before
  // the first is used. The columns are still summed in the same order.
  constexpr int ahead = Tile <= 4 ? 4 : 1;
  int64_t g = lane;
  for (; g + (ahead - 1) * warp_size < groups; g += ahead * warp_size) {
    float4 wv[ahead];
#pragma unroll
    for (int u = 0; u < ahead; ++u) wv[u] = load_weight4<K>(row, g + u * warp_size);
#pragma unroll
    for (int u = 0; u < ahead; ++u) accumulate(wv[u], g + u * warp_size);
  }
  for (; g < groups; g += warp_size) accumulate(load_weight4<K>(row, g), g);
#pragma unroll
  for (int t = 0; t < Tile; ++t) {
    const float total = warp_sum(acc[t]);
    if (lane == 0 && t0 + t < n_tokens) y[static_cast<int64_t>(t0 + t) * rows + r] = total;
  }
}

}  // namespace kvactor::hip
