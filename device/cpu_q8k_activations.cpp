#include "device/cpu_q8k_activations.hpp"

#include <cmath>
#include <cstring>
#include <string>

#include "device/backend.hpp"

namespace kvactor {

void quantize_q8k_block(const float* x, int8_t* q, float* d, int16_t* bsums) {
  float max = 0.0f, amax = 0.0f;
  for (int i = 0; i < q8k_block_values; ++i) {
    const float ax = std::fabs(x[i]);
    if (ax > amax) {
      amax = ax;
      max = x[i];
    }
  }
  if (amax == 0.0f) {
    *d = 0.0f;
    std::memset(q, 0, q8k_block_values);
    std::memset(bsums, 0, sizeof(int16_t) * (q8k_block_values / q8k_group_values));
    return;
  }
  const float iscale = -127.0f / max;
  for (int i = 0; i < q8k_block_values; ++i) {
    // |iscale * x| <= 127 up to rounding (|x| <= |max|). Adding 1.5 * 2^23 rounds it to an
    // integer, half to even (the default rounding mode), in the low mantissa bits: ggml's
    // nearest_int, without a libm call. A NaN (or an infinity's 0 * inf) gives 0, as there.
    const float v = iscale * x[i];
    uint32_t bits;
    const float shifted = v + 12582912.0f;
    std::memcpy(&bits, &shifted, 4);
    const int n = v != v ? 0 : static_cast<int>(bits & 0x007fffff) - 0x00400000;
    q[i] = static_cast<int8_t>(n > 127 ? 127 : n);
  }
  for (int g = 0; g < q8k_block_values / q8k_group_values; ++g) {
    int sum = 0;
    for (int i = 0; i < q8k_group_values; ++i) sum += q[g * q8k_group_values + i];
    bsums[g] = static_cast<int16_t>(sum);
  }
  *d = 1.0f / iscale;
}

void q8k_activations::resize(int tokens, int64_t cols) {
  if (cols % q8k_block_values != 0)
    throw backend_error("q8_K activations: a row of " + std::to_string(cols) + " values is not whole 256-value blocks");
  tokens_ = tokens;
  cols_ = cols;
  blocks_ = cols / q8k_block_values;
  const int64_t groups = (tokens + q8k_group_tokens - 1) / q8k_group_tokens;
  values_.resize(static_cast<std::size_t>(tokens * cols));
  scales_.resize(static_cast<std::size_t>(tokens * blocks_));
  bsums_.resize(scales_.size() * (q8k_block_values / q8k_group_values));
  packed_.resize(static_cast<std::size_t>(groups * q8k_group_tokens * cols));
  group_scales_.resize(static_cast<std::size_t>(groups * q8k_group_tokens * blocks_));
  group_bsums_.resize(group_scales_.size() * (q8k_block_values / q8k_group_values));
}

void q8k_activations::quantize(const float* x, int t0, int t1) {
  constexpr int groups = q8k_block_values / q8k_group_values;
  constexpr int chunk = 32, chunks = q8k_block_values / chunk, n = q8k_group_tokens;
  for (int t = t0; t < t1; ++t)
    for (int64_t b = 0; b < blocks_; ++b) {
      const std::size_t block = static_cast<std::size_t>(t * blocks_ + b);
      quantize_q8k_block(x + block * q8k_block_values, values_.data() + block * q8k_block_values,
                         scales_.data() + block, bsums_.data() + block * groups);
    }
  // The groups that start in [t0, t1) and end in it or at the last token: each group is
  // packed by exactly one call when calls split at multiples of 8.
  const int g0 = (t0 + n - 1) / n;
  const int g1 = t1 == tokens_ ? (t1 + n - 1) / n : t1 / n;
  for (int g = g0; g < g1; ++g)
    for (int64_t b = 0; b < blocks_; ++b) {
      const std::size_t at = static_cast<std::size_t>(g * blocks_ + b);
      int8_t* out = packed_.data() + at * n * q8k_block_values;
      for (int j = 0; j < n; ++j) {
        const int t = g * n + j;
        int16_t* gb = group_bsums_.data() + (at * n + static_cast<std::size_t>(j)) * groups;
        if (t >= tokens_) {  // past the last token: zeros, which no kernel stores
          for (int c = 0; c < chunks; ++c) std::memset(out + (c * n + j) * chunk, 0, chunk);
          std::memset(gb, 0, sizeof(int16_t) * groups);
          group_scales_[at * n + static_cast<std::size_t>(j)] = 0.0f;
          continue;
        }
        const std::size_t block = static_cast<std::size_t>(t * blocks_ + b);
        const int8_t* v = values_.data() + block * q8k_block_values;
        for (int c = 0; c < chunks; ++c) std::memcpy(out + (c * n + j) * chunk, v + c * chunk, chunk);
        std::memcpy(gb, bsums_.data() + block * groups, sizeof(int16_t) * groups);
        group_scales_[at * n + static_cast<std::size_t>(j)] = scales_[block];
      }
    }
}

q8k_rows_view q8k_activations::view() const {
  return {tokens_,
          cols_,
          blocks_,
          values_.data(),
          scales_.data(),
          bsums_.data(),
          packed_.data(),
          group_bsums_.data(),
          group_scales_.data()};
}

}  // namespace kvactor
