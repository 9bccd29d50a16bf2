// Exact reconstruction of one block of each ggml weight type as f32, following ggml's
// dequantize_row_* operation for operation (same products, same order), so a row
// decoded here has the bits llama.cpp's own dequantisation gives.
//
// Everything here has internal linkage: the per-ISA matmul units (device/cpu_matmul_*.cpp)
// include this header and each gets its own copy compiled for its own instruction set,
// which no other unit can end up calling.
#pragma once

#include <cstdint>
#include <cstring>

#include "model/ggml_blocks.hpp"

namespace kvactor::ggml {
namespace {

// IEEE half (as bits) to float, in integer code (no dependence on F16C).
inline float fp16_value(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
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
    int shift = 0;
    while ((mantissa & 0x400u) == 0) {
      mantissa <<= 1;
      ++shift;
    }
    mantissa &= 0x3ffu;
    bits = sign | ((113u - static_cast<uint32_t>(shift)) << 23) | (mantissa << 13);
  }
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

inline float bf16_value(uint16_t h) {
  const uint32_t bits = static_cast<uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

template <class Block>
inline const Block& block_at(const uint8_t* p) {
  return *reinterpret_cast<const Block*>(p);
}

inline void dequantize_block_q4_0(const uint8_t* p, float* y) {
  const auto& b = block_at<block_q4_0>(p);
  const float d = fp16_value(b.d);
  for (int j = 0; j < qk_legacy / 2; ++j) {
    const int x0 = (b.qs[j] & 0x0f) - 8;
    const int x1 = (b.qs[j] >> 4) - 8;
    y[j] = static_cast<float>(x0) * d;
    y[j + qk_legacy / 2] = static_cast<float>(x1) * d;
  }
}

inline void dequantize_block_q4_1(const uint8_t* p, float* y) {
  const auto& b = block_at<block_q4_1>(p);
  const float d = fp16_value(b.d);
  const float m = fp16_value(b.m);
  for (int j = 0; j < qk_legacy / 2; ++j) {
    const int x0 = b.qs[j] & 0x0f;
    const int x1 = b.qs[j] >> 4;
    y[j] = static_cast<float>(x0) * d + m;
    y[j + qk_legacy / 2] = static_cast<float>(x1) * d + m;
  }
}

inline void dequantize_block_q5_0(const uint8_t* p, float* y) {
  const auto& b = block_at<block_q5_0>(p);
  const float d = fp16_value(b.d);
  uint32_t qh;
  std::memcpy(&qh, b.qh, sizeof qh);
  for (int j = 0; j < qk_legacy / 2; ++j) {
    const uint8_t xh0 = static_cast<uint8_t>(((qh >> j) << 4) & 0x10);
    const uint8_t xh1 = static_cast<uint8_t>((qh >> (j + 12)) & 0x10);
    const int x0 = ((b.qs[j] & 0x0f) | xh0) - 16;
    const int x1 = ((b.qs[j] >> 4) | xh1) - 16;
    y[j] = static_cast<float>(x0) * d;
    y[j + qk_legacy / 2] = static_cast<float>(x1) * d;
  }
}

inline void dequantize_block_q5_1(const uint8_t* p, float* y) {
  const auto& b = block_at<block_q5_1>(p);
  const float d = fp16_value(b.d);
  const float m = fp16_value(b.m);
  uint32_t qh;
  std::memcpy(&qh, b.qh, sizeof qh);
  for (int j = 0; j < qk_legacy / 2; ++j) {
    const uint8_t xh0 = static_cast<uint8_t>(((qh >> j) << 4) & 0x10);
    const uint8_t xh1 = static_cast<uint8_t>((qh >> (j + 12)) & 0x10);
    const int x0 = (b.qs[j] & 0x0f) | xh0;
    const int x1 = (b.qs[j] >> 4) | xh1;
    y[j] = static_cast<float>(x0) * d + m;
    y[j + qk_legacy / 2] = static_cast<float>(x1) * d + m;
  }
}

inline void dequantize_block_q8_0(const uint8_t* p, float* y) {
  const auto& b = block_at<block_q8_0>(p);
  const float d = fp16_value(b.d);
  for (int j = 0; j < qk_legacy; ++j) y[j] = static_cast<float>(b.qs[j]) * d;
}

inline void dequantize_block_iq4_nl(const uint8_t* p, float* y) {
  const auto& b = block_at<block_iq4_nl>(p);
  const float d = fp16_value(b.d);
  for (int j = 0; j < qk_legacy / 2; ++j) {
    y[j] = d * static_cast<float>(kvalues_iq4nl[b.qs[j] & 0x0f]);
    y[j + qk_legacy / 2] = d * static_cast<float>(kvalues_iq4nl[b.qs[j] >> 4]);
  }
}

inline void dequantize_block_q2_K(const uint8_t* p, float* y) {
  const auto& b = block_at<block_q2_K>(p);
  const float d = fp16_value(b.d);
  const float min = fp16_value(b.dmin);
  const uint8_t* q = b.qs;
  int is = 0;
  for (int n = 0; n < qk_k; n += 128) {
    int shift = 0;
    for (int j = 0; j < 4; ++j) {
      for (int half = 0; half < 2; ++half) {
        const uint8_t sc = b.scales[is++];
        const float dl = d * static_cast<float>(sc & 0x0f);
        const float ml = min * static_cast<float>(sc >> 4);
        for (int l = 0; l < 16; ++l) *y++ = dl * static_cast<float>((q[l + 16 * half] >> shift) & 3) - ml;
      }
      shift += 2;
    }
    q += 32;
  }
}

// The 16 signed 6-bit scales of a Q3_K block, unpacked from their 12 bytes as ggml does.
inline void q3_K_scales(const uint8_t* packed, int8_t* scales) {
  constexpr uint32_t kmask1 = 0x03030303u;
  constexpr uint32_t kmask2 = 0x0f0f0f0fu;
  uint32_t aux[4];
  std::memcpy(aux, packed, 12);
  const uint32_t tmp = aux[2];
  aux[2] = ((aux[0] >> 4) & kmask2) | (((tmp >> 4) & kmask1) << 4);
  aux[3] = ((aux[1] >> 4) & kmask2) | (((tmp >> 6) & kmask1) << 4);
  aux[0] = (aux[0] & kmask2) | (((tmp >> 0) & kmask1) << 4);
  aux[1] = (aux[1] & kmask2) | (((tmp >> 2) & kmask1) << 4);
  std::memcpy(scales, aux, 16);
}

inline void dequantize_block_q3_K(const uint8_t* p, float* y) {
  const auto& b = block_at<block_q3_K>(p);
  const float d_all = fp16_value(b.d);
  int8_t scales[16];
  q3_K_scales(b.scales, scales);
  const uint8_t* q = b.qs;
  unsigned m = 1;
  int is = 0;
  for (int n = 0; n < qk_k; n += 128) {
    int shift = 0;
    for (int j = 0; j < 4; ++j) {
      for (int half = 0; half < 2; ++half) {
        const float dl = d_all * static_cast<float>(scales[is++] - 32);
        for (int l = 16 * half; l < 16 * half + 16; ++l) {
          const int v = ((q[l] >> shift) & 3) - ((b.hmask[l] & m) ? 0 : 4);
          *y++ = dl * static_cast<float>(v);
        }
      }
      shift += 2;
      m <<= 1;
    }
    q += 32;
  }
}

// Scale and min j (0..7) of a Q4_K / Q5_K block (ggml's get_scale_min_k4).
inline void scale_min_k4(int j, const uint8_t* q, uint8_t& d, uint8_t& m) {
  if (j < 4) {
    d = q[j] & 63;
    m = q[j + 4] & 63;
  } else {
    d = static_cast<uint8_t>((q[j + 4] & 0x0f) | ((q[j - 4] >> 6) << 4));
    m = static_cast<uint8_t>((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
  }
}

inline void dequantize_block_q4_K(const uint8_t* p, float* y) {
  const auto& b = block_at<block_q4_K>(p);
  const float d = fp16_value(b.d);
  const float min = fp16_value(b.dmin);
  const uint8_t* q = b.qs;
  for (int j = 0, is = 0; j < qk_k; j += 64, is += 2) {
    uint8_t sc, m;
    scale_min_k4(is, b.scales, sc, m);
    const float d1 = d * static_cast<float>(sc), m1 = min * static_cast<float>(m);
    scale_min_k4(is + 1, b.scales, sc, m);
    const float d2 = d * static_cast<float>(sc), m2 = min * static_cast<float>(m);
    for (int l = 0; l < 32; ++l) *y++ = d1 * static_cast<float>(q[l] & 0x0f) - m1;
    for (int l = 0; l < 32; ++l) *y++ = d2 * static_cast<float>(q[l] >> 4) - m2;
    q += 32;
  }
}

inline void dequantize_block_q5_K(const uint8_t* p, float* y) {
  const auto& b = block_at<block_q5_K>(p);
  const float d = fp16_value(b.d);
  const float min = fp16_value(b.dmin);
  const uint8_t* ql = b.qs;
  unsigned u1 = 1, u2 = 2;
  for (int j = 0, is = 0; j < qk_k; j += 64, is += 2) {
    uint8_t sc, m;
    scale_min_k4(is, b.scales, sc, m);
    const float d1 = d * static_cast<float>(sc), m1 = min * static_cast<float>(m);
    scale_min_k4(is + 1, b.scales, sc, m);
    const float d2 = d * static_cast<float>(sc), m2 = min * static_cast<float>(m);
    for (int l = 0; l < 32; ++l) *y++ = d1 * static_cast<float>((ql[l] & 0x0f) + ((b.qh[l] & u1) ? 16 : 0)) - m1;
    for (int l = 0; l < 32; ++l) *y++ = d2 * static_cast<float>((ql[l] >> 4) + ((b.qh[l] & u2) ? 16 : 0)) - m2;
    ql += 32;
    u1 <<= 2;
    u2 <<= 2;
  }
}

inline void dequantize_block_q6_K(const uint8_t* p, float* y) {
  const auto& b = block_at<block_q6_K>(p);
  const float d = fp16_value(b.d);
  const uint8_t* ql = b.ql;
  const uint8_t* qh = b.qh;
  const int8_t* sc = b.scales;
  for (int n = 0; n < qk_k; n += 128) {
    for (int l = 0; l < 32; ++l) {
      const int is = l / 16;
      const int q1 = ((ql[l] & 0x0f) | (((qh[l] >> 0) & 3) << 4)) - 32;
      const int q2 = ((ql[l + 32] & 0x0f) | (((qh[l] >> 2) & 3) << 4)) - 32;
      const int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
      const int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
      y[l] = d * static_cast<float>(sc[is]) * static_cast<float>(q1);
      y[l + 32] = d * static_cast<float>(sc[is + 2]) * static_cast<float>(q2);
      y[l + 64] = d * static_cast<float>(sc[is + 4]) * static_cast<float>(q3);
      y[l + 96] = d * static_cast<float>(sc[is + 6]) * static_cast<float>(q4);
    }
    y += 128;
    ql += 64;
    qh += 32;
    sc += 8;
  }
}

inline void dequantize_block_q8_K(const uint8_t* p, float* y) {
  const auto& b = block_at<block_q8_K>(p);
  for (int j = 0; j < qk_k; ++j) y[j] = b.d * static_cast<float>(b.qs[j]);
}

}  // namespace
}  // namespace kvactor::ggml
