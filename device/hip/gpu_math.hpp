// Device-side building blocks shared by the kernels: fp16 decoding, weight loads
// per dtype and reductions in a fixed order. Every reduction here combines values
// in an order that depends only on the warp size and the block size, never on the
// batch, which is what keeps the GPU backend batch-invariant.
#pragma once

#include <cstdint>

#include "device/hip/hip_compat.hpp"

namespace kvactor::hip {

// IEEE half bits -> float, exactly (same results as device/half_float.hpp).
__device__ inline float half_bits_to_float(uint32_t h) {
  const uint32_t sign = (h & 0x8000u) << 16;
  uint32_t exponent = (h >> 10) & 0x1fu;
  uint32_t mantissa = h & 0x3ffu;
  uint32_t bits;
  if (exponent == 0x1f) {
    bits = sign | 0x7f800000u | (mantissa << 13);
  } else if (exponent != 0) {
    bits = sign | ((exponent + 112u) << 23) | (mantissa << 13);
  } else if (mantissa == 0) {
    bits = sign;
  } else {
    uint32_t shift = 0;
    while ((mantissa & 0x400u) == 0) {
      mantissa <<= 1;
      ++shift;
    }
    bits = sign | ((113u - shift) << 23) | ((mantissa & 0x3ffu) << 13);
  }
  return __uint_as_float(bits);
}

// Weight layouts, selected at compile time (values match kvactor::dtype).
enum class weight_kind : int { f32 = 0, f16 = 1, q8_0 = 8 };

inline constexpr int q8_block = 32;        // values per Q8_0 block
inline constexpr int q8_block_bytes = 34;  // fp16 scale + 32 int8

// Bytes of one row of `cols` values.
template <weight_kind K>
__device__ inline int64_t weight_row_bytes(int64_t cols) {
  if constexpr (K == weight_kind::f32)
    return cols * 4;
  else if constexpr (K == weight_kind::f16)
    return cols * 2;
  else
    return cols / q8_block * q8_block_bytes;
}

// Values 4g .. 4g+3 of a row, dequantised exactly (cols % 4 == 0).
template <weight_kind K>
__device__ inline float4 load_weight4(const uint8_t* row, int64_t g) {
  if constexpr (K == weight_kind::f32) {
    return reinterpret_cast<const float4*>(row)[g];
  } else if constexpr (K == weight_kind::f16) {
    const uint2 h = reinterpret_cast<const uint2*>(row)[g];
    return make_float4(half_bits_to_float(h.x & 0xffffu), half_bits_to_float(h.x >> 16),
                       half_bits_to_float(h.y & 0xffffu), half_bits_to_float(h.y >> 16));
  } else {
    const int64_t first = 4 * g;
    const uint8_t* block = row + (first / q8_block) * q8_block_bytes;
    const float scale = half_bits_to_float(static_cast<uint32_t>(block[0]) | (static_cast<uint32_t>(block[1]) << 8));
    const auto* q = reinterpret_cast<const int8_t*>(block + 2 + first % q8_block);
    return make_float4(scale * static_cast<float>(q[0]), scale * static_cast<float>(q[1]),
                       scale * static_cast<float>(q[2]), scale * static_cast<float>(q[3]));
  }
}

// One value of a row (for gathers, where rows are read once).
template <weight_kind K>
__device__ inline float load_weight1(const uint8_t* row, int64_t c) {
  if constexpr (K == weight_kind::f32) {
    return reinterpret_cast<const float*>(row)[c];
  } else if constexpr (K == weight_kind::f16) {
    return half_bits_to_float(reinterpret_cast<const uint16_t*>(row)[c]);
  } else {
    const uint8_t* block = row + (c / q8_block) * q8_block_bytes;
    const float scale = half_bits_to_float(static_cast<uint32_t>(block[0]) | (static_cast<uint32_t>(block[1]) << 8));
    return scale * static_cast<float>(reinterpret_cast<const int8_t*>(block + 2)[c % q8_block]);
  }
}

// Sum over `width` consecutive lanes (a power of two <= warp_size), butterfly
// order: every lane of the group ends with the same bits.
__device__ inline float group_sum(float v, int width) {
  for (int offset = width / 2; offset > 0; offset /= 2) v += shfl_xor(v, offset);
  return v;
}

__device__ inline float warp_sum(float v) { return group_sum(v, warp_size); }

__device__ inline float warp_max(float v) {
  for (int offset = warp_size / 2; offset > 0; offset /= 2) v = fmaxf(v, shfl_xor(v, offset));
  return v;
}

// Sum over the whole block: warps first, then warp totals in warp order by one
// thread. `shared` holds at least blockDim.x / warp_size floats + 1. Every thread
// gets the total.
__device__ inline float block_sum(float v, float* shared) {
  const int lane = static_cast<int>(threadIdx.x) % warp_size;
  const int warp = static_cast<int>(threadIdx.x) / warp_size;
  const int warps = static_cast<int>(blockDim.x) / warp_size;
  v = warp_sum(v);
  if (lane == 0) shared[warp] = v;
  __syncthreads();
  if (threadIdx.x == 0) {
    float total = 0.0f;
    for (int w = 0; w < warps; ++w) total += shared[w];
    shared[warps] = total;
  }
  __syncthreads();
  const float total = shared[warps];
  __syncthreads();  // `shared` may be reused right after
  return total;
}

}  // namespace kvactor::hip
