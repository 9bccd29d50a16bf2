// The matmul tile in plain C++ (any CPU): eight lanes written out, no fused
// multiply-add (the build uses -ffp-contract=off), the AVX2 path's lane tree.
#include <cmath>

#include "device/cpu_matmul_kquant.hpp"
#include "device/cpu_matmul_tile.hpp"
#include "device/cpu_q8_activations.hpp"

namespace kvactor {

namespace {

struct portable_ops {
  struct vec {
    float lane[8];
  };
  static constexpr int width = 8;
  static constexpr int rows_multi = 2;
  static constexpr int tokens_multi = 2;
  static constexpr int tokens_row_stream = 2;  // one weight row x this many tokens (few-token F32)
  static vec zero() { return vec{{0, 0, 0, 0, 0, 0, 0, 0}}; }
  static vec load(const float* p) {
    vec v;
    for (int j = 0; j < 8; ++j) v.lane[j] = p[j];
    return v;
  }
  static vec fma(vec a, vec b, vec acc) {
    for (int j = 0; j < 8; ++j) acc.lane[j] += a.lane[j] * b.lane[j];
    return acc;
  }
  static vec load_f16(const uint16_t* p) {
    vec v;
    for (int j = 0; j < 8; ++j) v.lane[j] = ggml::fp16_value(p[j]);
    return v;
  }
  static vec load_q8(const int8_t* q, float scale) {
    vec v;
    for (int j = 0; j < 8; ++j) v.lane[j] = scale * static_cast<float>(q[j]);
    return v;
  }
  static float reduce(vec v) {
    const float* l = v.lane;
    return ((l[0] + l[4]) + (l[2] + l[6])) + ((l[1] + l[5]) + (l[3] + l[7]));
  }
  static float half(uint16_t h) { return ggml::fp16_value(h); }
  static float scalar_fma(float a, float b, float acc) { return acc + a * b; }
  static void decode_q4_0(const uint8_t* p, float* y) { ggml::dequantize_block_q4_0(p, y); }
  static void decode_iq4_nl(const uint8_t* p, float* y) { ggml::dequantize_block_iq4_nl(p, y); }
  static void decode_q4_1(const uint8_t* p, float* y) { ggml::dequantize_block_q4_1(p, y); }
  static void decode_q5_0(const uint8_t* p, float* y) { ggml::dequantize_block_q5_0(p, y); }
  static void decode_q5_1(const uint8_t* p, float* y) { ggml::dequantize_block_q5_1(p, y); }
  static void decode_q2_K(const uint8_t* p, float* y) { ggml::dequantize_block_q2_K(p, y); }
  static void decode_q3_K(const uint8_t* p, float* y) { ggml::dequantize_block_q3_K(p, y); }
  static void decode_q4_K(const uint8_t* p, float* y) { ggml::dequantize_block_q4_K(p, y); }
  static void decode_q5_K(const uint8_t* p, float* y) { ggml::dequantize_block_q5_K(p, y); }
  static void decode_q6_K(const uint8_t* p, float* y) { ggml::dequantize_block_q6_K(p, y); }
};

// The K-quant blocks' integer sums written out (cpu_matmul_kquant.hpp).
struct portable_kquant_ops {
  // Q4_K (qh null) or Q5_K: the sub-block sums, and the mins against the group sums.
  static void q4_or_q5_k(const uint8_t* block, const uint8_t* qh, const uint8_t* qs, const int8_t* x,
                         const int16_t* bsums, int32_t& sumi, int32_t& summ) {
    uint8_t sc[8], mn[8];
    for (int j = 0; j < 8; ++j) ggml::scale_min_k4(j, block + 4, sc[j], mn[j]);
    sumi = summ = 0;
    for (int k = 0; k < 4; ++k, qs += 32, x += 64) {
      int32_t lo = 0, hi = 0;
      for (int l = 0; l < 32; ++l) {
        const int fifth_lo = qh ? ((qh[l] >> (2 * k)) & 1) << 4 : 0;
        const int fifth_hi = qh ? ((qh[l] >> (2 * k + 1)) & 1) << 4 : 0;
        lo += ((qs[l] & 0x0f) | fifth_lo) * x[l];
        hi += ((qs[l] >> 4) | fifth_hi) * x[l + 32];
      }
      sumi += sc[2 * k] * lo + sc[2 * k + 1] * hi;
    }
    for (int j = 0; j < 8; ++j) summ += mn[j] * (bsums[2 * j] + bsums[2 * j + 1]);
  }
  static void q4_k(const uint8_t* block, const int8_t* x, const int16_t* bsums, int32_t& sumi, int32_t& summ) {
    q4_or_q5_k(block, nullptr, block + 16, x, bsums, sumi, summ);
  }
  static void q5_k(const uint8_t* block, const int8_t* x, const int16_t* bsums, int32_t& sumi, int32_t& summ) {
    q4_or_q5_k(block, block + 16, block + 48, x, bsums, sumi, summ);
  }
  static int32_t q6_k(const uint8_t* block, const int8_t* x, const int16_t* bsums) {
    const uint8_t* ql = block;
    const uint8_t* qh = block + 128;
    const int8_t* sc = reinterpret_cast<const int8_t*>(block + 192);
    int32_t total = 0, offset = 0;
    for (int g = 0; g < 16; ++g) offset += sc[g] * bsums[g];
    for (int half = 0; half < 2; ++half, ql += 64, qh += 32, x += 128, sc += 8) {
      int32_t sums[8] = {};  // the 8 groups of 16 values of this half
      for (int l = 0; l < 32; ++l) {
        const int g = l / 16;
        sums[g] += ((ql[l] & 0x0f) | ((qh[l] & 3) << 4)) * x[l];
        sums[g + 2] += ((ql[l + 32] & 0x0f) | (((qh[l] >> 2) & 3) << 4)) * x[l + 32];
        sums[g + 4] += ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) * x[l + 64];
        sums[g + 6] += ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) * x[l + 96];
      }
      for (int g = 0; g < 8; ++g) total += sc[g] * sums[g];
    }
    return total - 32 * offset;
  }
  static float fma(float a, float b, float c) { return std::fma(a, b, c); }
  static float half(uint16_t h) { return ggml::fp16_value(h); }
};

}  // namespace

void matmul_kquant_portable(const raw_weight_rows& w, int64_t r0, int64_t r1, const q8k_rows_view& x, int t0,
                            int tokens, float* y, int64_t y_stride) {
  matmul_kquant_with<portable_kquant_ops>(w, r0, r1, x, t0, tokens, y, y_stride);
}

void matmul_rows_portable(const raw_weight_rows& w, int64_t r0, int64_t r1, const float* x, int tokens, float* y,
                          int64_t y_stride) {
  matmul_rows_with<portable_ops>(w, r0, r1, x, tokens, y, y_stride);
}

// cpu_q8_activations.hpp's arithmetic written out: the reference the SIMD units equal.
void matmul_q8_portable(const raw_weight_rows& w, int64_t r0, int64_t r1, const q8_rows_view& x, int t0, int tokens,
                        float* y, int64_t y_stride) {
  for (int64_t r = r0; r < r1; ++r) {
    const uint8_t* row = w.data + r * w.row_bytes;
    for (int t = t0; t < t0 + tokens; ++t) {
      const int8_t* xv = x.values + static_cast<int64_t>(t) * x.cols;
      float acc = 0.0f;
      for (int64_t b = 0; b < x.blocks; ++b) {
        const uint8_t* block = row + b * q8_block_size;
        int32_t sum = 0;
        for (int i = 0; i < q8_block_values; ++i)
          sum += static_cast<int32_t>(static_cast<int8_t>(block[2 + i])) * xv[b * q8_block_values + i];
        uint16_t h;
        std::memcpy(&h, block, 2);
        acc = std::fma(static_cast<float>(sum), ggml::fp16_value(h) * x.scales[static_cast<int64_t>(t) * x.blocks + b],
                       acc);
      }
      y[static_cast<int64_t>(t - t0) * y_stride + r] = acc;
    }
  }
}

}  // namespace kvactor
