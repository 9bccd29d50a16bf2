#include "model/ggml_quantize.hpp"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstring>

#include "model/ggml_blocks.hpp"
#include "model/ggml_dequant.hpp"
#include "model/quantization.hpp"

namespace kvactor::ggml {
namespace {

// Round half to even, as ggml's nearest_int.
int nearest_int(float v) { return static_cast<int>(std::nearbyint(v)); }

float stored_half(float v, uint16_t& bits) {
  bits = fp32_to_fp16(v);
  return fp16_value(bits);
}

// The value of largest magnitude, with its sign (ggml's "max" of the symmetric quantisers).
float signed_absmax(const float* x, int n, float& amax) {
  float max = 0.0f;
  amax = 0.0f;
  for (int j = 0; j < n; ++j)
    if (amax < std::fabs(x[j])) {
      amax = std::fabs(x[j]);
      max = x[j];
    }
  return max;
}

// x ≈ scale * L + min with L in [0, nmax] and min <= 0, weighted least squares over a
// small search of scales (ggml's make_qkx2_quants). Returns scale; the_min = -min.
float fit_scale_min(int n, int nmax, const float* x, const float* w, uint8_t* L, float& the_min, float rmin,
                    float rdelta, int nstep, bool use_mad) {
  float min = x[0], max = x[0], sum_w = w[0], sum_x = w[0] * x[0];
  for (int i = 1; i < n; ++i) {
    min = std::min(min, x[i]);
    max = std::max(max, x[i]);
    sum_w += w[i];
    sum_x += w[i] * x[i];
  }
  if (min > 0) min = 0;
  if (max == min) {
    std::fill(L, L + n, 0);
    the_min = -min;
    return 0.0f;
  }
  const auto error_of = [&](float diff) { return use_mad ? std::fabs(diff) : diff * diff; };
  float iscale = static_cast<float>(nmax) / (max - min);
  float scale = 1.0f / iscale;
  float best_error = 0.0f;
  for (int i = 0; i < n; ++i) {
    L[i] = static_cast<uint8_t>(std::clamp(nearest_int(iscale * (x[i] - min)), 0, nmax));
    best_error += w[i] * error_of(scale * L[i] + min - x[i]);
  }
  uint8_t aux[32];
  for (int is = 0; is <= nstep; ++is) {
    iscale = (rmin + rdelta * static_cast<float>(is) + static_cast<float>(nmax)) / (max - min);
    float sum_l = 0, sum_l2 = 0, sum_xl = 0;
    for (int i = 0; i < n; ++i) {
      const int l = std::clamp(nearest_int(iscale * (x[i] - min)), 0, nmax);
      aux[i] = static_cast<uint8_t>(l);
      sum_l += w[i] * static_cast<float>(l);
      sum_l2 += w[i] * static_cast<float>(l * l);
      sum_xl += w[i] * static_cast<float>(l) * x[i];
    }
    const float D = sum_w * sum_l2 - sum_l * sum_l;
    if (D <= 0) continue;
    float this_scale = (sum_w * sum_xl - sum_x * sum_l) / D;
    float this_min = (sum_l2 * sum_x - sum_l * sum_xl) / D;
    if (this_min > 0) {
      this_min = 0;
      this_scale = sum_xl / sum_l2;
    }
    float error = 0;
    for (int i = 0; i < n; ++i) error += w[i] * error_of(this_scale * aux[i] + this_min - x[i]);
    if (error < best_error) {
      std::copy(aux, aux + n, L);
      best_error = error;
      scale = this_scale;
      min = this_min;
    }
  }
  the_min = -min;
  return scale;
}

// x ≈ scale * L with L in [-nmax, nmax - 1], weights x^2, searching the scale around
// -nmax / max (ggml's make_qx_quants). Returns the scale (0 for an all-zero group).
float fit_symmetric(int n, int nmax, const float* x, int8_t* L) {
  float amax;
  const float max = signed_absmax(x, n, amax);
  if (amax < 1e-30f) {
    std::fill(L, L + n, 0);
    return 0.0f;
  }
  float best_metric = -1.0f, best_scale = 0.0f;
  int8_t aux[32];
  for (int is = -9; is <= 9; ++is) {
    const float iscale = -(static_cast<float>(nmax) + 0.1f * static_cast<float>(is)) / max;
    float sum_lx = 0, sum_l2 = 0;
    for (int i = 0; i < n; ++i) {
      const int l = std::clamp(nearest_int(iscale * x[i]), -nmax, nmax - 1);
      aux[i] = static_cast<int8_t>(l);
      const float w = x[i] * x[i];
      sum_lx += w * x[i] * static_cast<float>(l);
      sum_l2 += w * static_cast<float>(l * l);
    }
    if (sum_l2 > 0 && sum_lx * sum_lx > best_metric * sum_l2) {
      best_metric = sum_lx * sum_lx / sum_l2;
      best_scale = sum_lx / sum_l2;
      std::copy(aux, aux + n, L);
    }
  }
  return best_scale;
}

// Weights for the K-quant fits with a minimum (ggml: av_x + |x|).
void rms_weights(const float* x, int n, float* w) {
  float sum_x2 = 0;
  for (int l = 0; l < n; ++l) sum_x2 += x[l] * x[l];
  const float av_x = std::sqrt(sum_x2 / static_cast<float>(n));
  for (int l = 0; l < n; ++l) w[l] = av_x + std::fabs(x[l]);
}

// Q4_K / Q5_K: 8 sub-blocks of 32 with 6-bit scales and mins; levels 0..nmax.
void quantize_k_scale_min(const float* x, int nmax, float rmin, int nstep, uint16_t& d_bits, uint16_t& dmin_bits,
                          uint8_t* packed_scales, uint8_t* L) {
  float scales[8], mins[8], w[32];
  float max_scale = 0, max_min = 0;
  for (int j = 0; j < 8; ++j) {
    rms_weights(x + 32 * j, 32, w);
    scales[j] = fit_scale_min(32, nmax, x + 32 * j, w, L + 32 * j, mins[j], rmin, 0.1f, nstep, false);
    max_scale = std::max(max_scale, scales[j]);
    max_min = std::max(max_min, mins[j]);
  }
  const float inv_scale = max_scale > 0 ? 63.0f / max_scale : 0.0f;
  const float inv_min = max_min > 0 ? 63.0f / max_min : 0.0f;
  std::memset(packed_scales, 0, k_scale_size);
  for (int j = 0; j < 8; ++j) {
    const auto ls = static_cast<uint8_t>(std::min(63, nearest_int(inv_scale * scales[j])));
    const auto lm = static_cast<uint8_t>(std::min(63, nearest_int(inv_min * mins[j])));
    if (j < 4) {
      packed_scales[j] = ls;
      packed_scales[j + 4] = lm;
    } else {
      packed_scales[j + 4] = static_cast<uint8_t>((ls & 0x0f) | ((lm & 0x0f) << 4));
      packed_scales[j - 4] = static_cast<uint8_t>(packed_scales[j - 4] | ((ls >> 4) << 6));
      packed_scales[j] = static_cast<uint8_t>(packed_scales[j] | ((lm >> 4) << 6));
    }
  }
  const float d = stored_half(max_scale / 63.0f, d_bits);
  const float dmin = stored_half(max_min / 63.0f, dmin_bits);
  for (int j = 0; j < 8; ++j) {
    uint8_t sc, m;
    scale_min_k4(j, packed_scales, sc, m);
    const float dl = d * static_cast<float>(sc);
    if (dl == 0.0f) continue;
    const float dm = dmin * static_cast<float>(m);
    for (int i = 0; i < 32; ++i)
      L[32 * j + i] = static_cast<uint8_t>(std::clamp(nearest_int((x[32 * j + i] + dm) / dl), 0, nmax));
  }
}

template <class Block>
Block* blocks_of(uint8_t* out) {
  return reinterpret_cast<Block*>(out);
}

}  // namespace

void quantize_row_q4_0(const float* x, uint8_t* out, int64_t n) {
  auto* y = blocks_of<block_q4_0>(out);
  for (int64_t i = 0; i < n / qk_legacy; ++i, x += qk_legacy) {
    float amax;
    const float max = signed_absmax(x, qk_legacy, amax);
    const float d = max / -8.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[i].d = fp32_to_fp16(d);
    for (int j = 0; j < qk_legacy / 2; ++j) {
      const int x0 = std::min(15, static_cast<int>(static_cast<int8_t>(x[j] * id + 8.5f)));
      const int x1 = std::min(15, static_cast<int>(static_cast<int8_t>(x[j + 16] * id + 8.5f)));
      y[i].qs[j] = static_cast<uint8_t>(x0 | (x1 << 4));
    }
  }
}

void quantize_row_q4_1(const float* x, uint8_t* out, int64_t n) {
  auto* y = blocks_of<block_q4_1>(out);
  for (int64_t i = 0; i < n / qk_legacy; ++i, x += qk_legacy) {
    const auto [lo, hi] = std::minmax_element(x, x + qk_legacy);
    const float min = *lo, d = (*hi - min) / 15.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[i].d = fp32_to_fp16(d);
    y[i].m = fp32_to_fp16(min);
    for (int j = 0; j < qk_legacy / 2; ++j) {
      const int x0 = std::min(15, static_cast<int>(static_cast<int8_t>((x[j] - min) * id + 0.5f)));
      const int x1 = std::min(15, static_cast<int>(static_cast<int8_t>((x[j + 16] - min) * id + 0.5f)));
      y[i].qs[j] = static_cast<uint8_t>(x0 | (x1 << 4));
    }
  }
}

namespace {
template <class Block>
void pack_q5(Block& b, int j, int x0, int x1, uint32_t& qh) {
  b.qs[j] = static_cast<uint8_t>((x0 & 0x0f) | ((x1 & 0x0f) << 4));
  qh |= static_cast<uint32_t>((x0 & 0x10) >> 4) << j;
  qh |= static_cast<uint32_t>((x1 & 0x10) >> 4) << (j + 16);
}
}  // namespace

void quantize_row_q5_0(const float* x, uint8_t* out, int64_t n) {
  auto* y = blocks_of<block_q5_0>(out);
  for (int64_t i = 0; i < n / qk_legacy; ++i, x += qk_legacy) {
    float amax;
    const float max = signed_absmax(x, qk_legacy, amax);
    const float d = max / -16.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[i].d = fp32_to_fp16(d);
    uint32_t qh = 0;
    for (int j = 0; j < qk_legacy / 2; ++j)
      pack_q5(y[i], j, std::min(31, static_cast<int>(static_cast<int8_t>(x[j] * id + 16.5f))),
              std::min(31, static_cast<int>(static_cast<int8_t>(x[j + 16] * id + 16.5f))), qh);
    std::memcpy(y[i].qh, &qh, sizeof qh);
  }
}

void quantize_row_q5_1(const float* x, uint8_t* out, int64_t n) {
  auto* y = blocks_of<block_q5_1>(out);
  for (int64_t i = 0; i < n / qk_legacy; ++i, x += qk_legacy) {
    const auto [lo, hi] = std::minmax_element(x, x + qk_legacy);
    const float min = *lo, d = (*hi - min) / 31.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[i].d = fp32_to_fp16(d);
    y[i].m = fp32_to_fp16(min);
    uint32_t qh = 0;
    for (int j = 0; j < qk_legacy / 2; ++j)
      pack_q5(y[i], j, std::min(31, static_cast<int>(static_cast<int8_t>((x[j] - min) * id + 0.5f))),
              std::min(31, static_cast<int>(static_cast<int8_t>((x[j + 16] - min) * id + 0.5f))), qh);
    std::memcpy(y[i].qh, &qh, sizeof qh);
  }
}

void quantize_row_q8_0(const float* x, uint8_t* out, int64_t n) {
  auto* y = blocks_of<block_q8_0>(out);
  for (int64_t i = 0; i < n / qk_legacy; ++i, x += qk_legacy) {
    float amax = 0.0f;
    for (int j = 0; j < qk_legacy; ++j) amax = std::max(amax, std::fabs(x[j]));
    const float d = amax / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[i].d = fp32_to_fp16(d);
    for (int j = 0; j < qk_legacy; ++j) y[i].qs[j] = static_cast<int8_t>(std::round(x[j] * id));
  }
}

void quantize_row_iq4_nl(const float* x, uint8_t* out, int64_t n) {
  auto* y = blocks_of<block_iq4_nl>(out);
  const auto nearest_level = [](float v) {
    int best = 0;
    for (int k = 1; k < 16; ++k)
      if (std::fabs(v - kvalues_iq4nl[k]) < std::fabs(v - kvalues_iq4nl[best])) best = k;
    return best;
  };
  for (int64_t i = 0; i < n / qk_legacy; ++i, x += qk_legacy) {
    float amax;
    const float max = signed_absmax(x, qk_legacy, amax);
    uint8_t L[qk_legacy] = {};
    float d = 0.0f;
    if (amax >= 1e-30f) {
      // Search the inverse scale around -127 / max; keep the least-squares best (weights x^2).
      float best_metric = -1.0f;
      for (int itry = -7; itry <= 7; ++itry) {
        const float id = (static_cast<float>(itry) + kvalues_iq4nl[0]) / max;
        float sum_qx = 0, sum_q2 = 0;
        uint8_t aux[qk_legacy];
        for (int j = 0; j < qk_legacy; ++j) {
          aux[j] = static_cast<uint8_t>(nearest_level(id * x[j]));
          const float q = kvalues_iq4nl[aux[j]], w = x[j] * x[j];
          sum_qx += w * q * x[j];
          sum_q2 += w * q * q;
        }
        if (sum_q2 > 0 && sum_qx * sum_qx > best_metric * sum_q2) {
          best_metric = sum_qx * sum_qx / sum_q2;
          d = sum_qx / sum_q2;
          std::copy(aux, aux + qk_legacy, L);
        }
      }
    }
    const float stored = stored_half(d, y[i].d);
    if (stored != 0.0f)  // pick the levels again for the scale as stored
      for (int j = 0; j < qk_legacy; ++j) L[j] = static_cast<uint8_t>(nearest_level(x[j] / stored));
    for (int j = 0; j < qk_legacy / 2; ++j) y[i].qs[j] = static_cast<uint8_t>(L[j] | (L[j + 16] << 4));
  }
}

void quantize_row_q2_K(const float* x, uint8_t* out, int64_t n) {
  auto* y = blocks_of<block_q2_K>(out);
  for (int64_t i = 0; i < n / qk_k; ++i, x += qk_k) {
    uint8_t L[qk_k];
    float scales[16], mins[16], w[16];
    float max_scale = 0, max_min = 0;
    for (int j = 0; j < 16; ++j) {
      for (int l = 0; l < 16; ++l) w[l] = std::fabs(x[16 * j + l]);
      scales[j] = fit_scale_min(16, 3, x + 16 * j, w, L + 16 * j, mins[j], -0.5f, 0.1f, 15, true);
      max_scale = std::max(max_scale, scales[j]);
      max_min = std::max(max_min, mins[j]);
    }
    float d = 0.0f, dmin = 0.0f;
    y[i].d = y[i].dmin = 0;
    for (int j = 0; j < 16; ++j) y[i].scales[j] = 0;
    if (max_scale > 0) {
      const float iscale = 15.0f / max_scale;
      for (int j = 0; j < 16; ++j) y[i].scales[j] = static_cast<uint8_t>(std::min(15, nearest_int(iscale * scales[j])));
      d = stored_half(max_scale / 15.0f, y[i].d);
    }
    if (max_min > 0) {
      const float iscale = 15.0f / max_min;
      for (int j = 0; j < 16; ++j)
        y[i].scales[j] = static_cast<uint8_t>(y[i].scales[j] | (std::min(15, nearest_int(iscale * mins[j])) << 4));
      dmin = stored_half(max_min / 15.0f, y[i].dmin);
    }
    for (int j = 0; j < 16; ++j) {
      const float dl = d * static_cast<float>(y[i].scales[j] & 0x0f);
      if (dl == 0.0f) continue;
      const float dm = dmin * static_cast<float>(y[i].scales[j] >> 4);
      for (int l = 0; l < 16; ++l)
        L[16 * j + l] = static_cast<uint8_t>(std::clamp(nearest_int((x[16 * j + l] + dm) / dl), 0, 3));
    }
    for (int j = 0; j < qk_k; j += 128)
      for (int l = 0; l < 32; ++l)
        y[i].qs[j / 4 + l] =
            static_cast<uint8_t>(L[j + l] | (L[j + l + 32] << 2) | (L[j + l + 64] << 4) | (L[j + l + 96] << 6));
  }
}

void quantize_row_q3_K(const float* x, uint8_t* out, int64_t n) {
  auto* y = blocks_of<block_q3_K>(out);
  for (int64_t i = 0; i < n / qk_k; ++i, x += qk_k) {
    int8_t Ls[qk_k];
    float scales[16];
    float max_scale = 0, amax = 0;
    for (int j = 0; j < 16; ++j) {
      scales[j] = fit_symmetric(16, 4, x + 16 * j, Ls + 16 * j);
      if (std::fabs(scales[j]) > amax) {
        amax = std::fabs(scales[j]);
        max_scale = scales[j];
      }
    }
    std::memset(y[i].scales, 0, sizeof y[i].scales);
    float d = 0.0f;
    y[i].d = 0;
    if (max_scale != 0.0f) {
      const float iscale = -32.0f / max_scale;
      for (int j = 0; j < 16; ++j) {
        const int l = std::clamp(nearest_int(iscale * scales[j]), -32, 31) + 32;
        if (j < 8)
          y[i].scales[j] = static_cast<uint8_t>(l & 0x0f);
        else
          y[i].scales[j - 8] = static_cast<uint8_t>(y[i].scales[j - 8] | ((l & 0x0f) << 4));
        y[i].scales[j % 4 + 8] = static_cast<uint8_t>(y[i].scales[j % 4 + 8] | ((l >> 4) << (2 * (j / 4))));
      }
      d = stored_half(1.0f / iscale, y[i].d);
    }
    int8_t sc[16];
    q3_K_scales(y[i].scales, sc);
    uint8_t L[qk_k];
    for (int j = 0; j < 16; ++j) {
      const float dl = d * static_cast<float>(sc[j] - 32);
      for (int l = 0; l < 16; ++l)
        L[16 * j + l] =
            static_cast<uint8_t>(dl == 0.0f ? 4 : std::clamp(nearest_int(x[16 * j + l] / dl), -4, 3) + 4);
    }
    std::memset(y[i].hmask, 0, sizeof y[i].hmask);
    for (int j = 0; j < qk_k; ++j)
      if (L[j] > 3) {
        y[i].hmask[j % 32] = static_cast<uint8_t>(y[i].hmask[j % 32] | (1u << (j / 32)));
        L[j] = static_cast<uint8_t>(L[j] - 4);
      }
    for (int j = 0; j < qk_k; j += 128)
      for (int l = 0; l < 32; ++l)
        y[i].qs[j / 4 + l] =
            static_cast<uint8_t>(L[j + l] | (L[j + l + 32] << 2) | (L[j + l + 64] << 4) | (L[j + l + 96] << 6));
  }
}

void quantize_row_q4_K(const float* x, uint8_t* out, int64_t n) {
  auto* y = blocks_of<block_q4_K>(out);
  for (int64_t i = 0; i < n / qk_k; ++i, x += qk_k) {
    uint8_t L[qk_k];
    quantize_k_scale_min(x, 15, -1.0f, 20, y[i].d, y[i].dmin, y[i].scales, L);
    for (int j = 0; j < qk_k; j += 64)
      for (int l = 0; l < 32; ++l) y[i].qs[j / 2 + l] = static_cast<uint8_t>(L[j + l] | (L[j + l + 32] << 4));
  }
}

void quantize_row_q5_K(const float* x, uint8_t* out, int64_t n) {
  auto* y = blocks_of<block_q5_K>(out);
  for (int64_t i = 0; i < n / qk_k; ++i, x += qk_k) {
    uint8_t L[qk_k];
    quantize_k_scale_min(x, 31, -0.5f, 15, y[i].d, y[i].dmin, y[i].scales, L);
    std::memset(y[i].qh, 0, sizeof y[i].qh);
    unsigned m1 = 1, m2 = 2;
    for (int n0 = 0; n0 < qk_k; n0 += 64, m1 <<= 2, m2 <<= 2)
      for (int j = 0; j < 32; ++j) {
        int l1 = L[n0 + j], l2 = L[n0 + j + 32];
        if (l1 > 15) {
          l1 -= 16;
          y[i].qh[j] = static_cast<uint8_t>(y[i].qh[j] | m1);
        }
        if (l2 > 15) {
          l2 -= 16;
          y[i].qh[j] = static_cast<uint8_t>(y[i].qh[j] | m2);
        }
        y[i].qs[n0 / 2 + j] = static_cast<uint8_t>(l1 | (l2 << 4));
      }
  }
}

void quantize_row_q6_K(const float* x, uint8_t* out, int64_t n) {
  auto* y = blocks_of<block_q6_K>(out);
  for (int64_t i = 0; i < n / qk_k; ++i, x += qk_k) {
    int8_t Ls[qk_k];
    float scales[16];
    float max_scale = 0, amax = 0;
    for (int j = 0; j < 16; ++j) {
      scales[j] = fit_symmetric(16, 32, x + 16 * j, Ls + 16 * j);
      if (std::fabs(scales[j]) > amax) {
        amax = std::fabs(scales[j]);
        max_scale = scales[j];
      }
    }
    std::memset(y[i].scales, 0, sizeof y[i].scales);
    float d = 0.0f;
    y[i].d = 0;
    if (max_scale != 0.0f) {
      const float iscale = -128.0f / max_scale;
      for (int j = 0; j < 16; ++j) y[i].scales[j] = static_cast<int8_t>(std::min(127, nearest_int(iscale * scales[j])));
      d = stored_half(1.0f / iscale, y[i].d);
    }
    uint8_t L[qk_k];
    for (int j = 0; j < 16; ++j) {
      const float dl = d * static_cast<float>(y[i].scales[j]);
      for (int l = 0; l < 16; ++l)
        L[16 * j + l] =
            static_cast<uint8_t>(dl == 0.0f ? 32 : std::clamp(nearest_int(x[16 * j + l] / dl), -32, 31) + 32);
    }
    uint8_t* ql = y[i].ql;
    uint8_t* qh = y[i].qh;
    for (int j = 0; j < qk_k; j += 128, ql += 64, qh += 32)
      for (int l = 0; l < 32; ++l) {
        const int q1 = L[j + l], q2 = L[j + l + 32], q3 = L[j + l + 64], q4 = L[j + l + 96];
        ql[l] = static_cast<uint8_t>((q1 & 0x0f) | ((q3 & 0x0f) << 4));
        ql[l + 32] = static_cast<uint8_t>((q2 & 0x0f) | ((q4 & 0x0f) << 4));
        qh[l] = static_cast<uint8_t>((q1 >> 4) | ((q2 >> 4) << 2) | ((q3 >> 4) << 4) | ((q4 >> 4) << 6));
      }
  }
}

void quantize_row_q8_K(const float* x, uint8_t* out, int64_t n) {
  for (int64_t i = 0; i < n / qk_k; ++i, x += qk_k) {
    block_q8_K b{};
    float amax;
    const float max = signed_absmax(x, qk_k, amax);
    if (amax != 0.0f) {
      const float iscale = -127.0f / max;
      for (int j = 0; j < qk_k; ++j) b.qs[j] = static_cast<int8_t>(std::min(127, nearest_int(iscale * x[j])));
      for (int j = 0; j < qk_k / 16; ++j) {
        int sum = 0;
        for (int l = 0; l < 16; ++l) sum += b.qs[16 * j + l];
        b.bsums[j] = static_cast<int16_t>(sum);
      }
      b.d = 1.0f / iscale;
    }
    std::memcpy(out + i * static_cast<int64_t>(sizeof b), &b, sizeof b);
  }
}

}  // namespace kvactor::ggml
