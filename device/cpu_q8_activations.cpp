#include "device/cpu_q8_activations.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>

#include "device/backend.hpp"
#include "device/cpu_matmul_kernels.hpp"
#include "device/half_float.hpp"

namespace kvactor {

namespace {

constexpr int steps = q8_block_values / 4;  // 4 values per 32-bit lane

}  // namespace

void quantize_q8_blocks_portable(const float* x, int64_t blocks, int8_t* q, float* scales) {
  for (int64_t b = 0; b < blocks; ++b, x += q8_block_values, q += q8_block_values) {
    float amax = 0.0f;
    for (int i = 0; i < q8_block_values; ++i) amax = std::max(amax, std::fabs(x[i]));
    const float d = amax / 127.0f;
    const float id = amax != 0.0f ? 127.0f / amax : 0.0f;
    for (int i = 0; i < q8_block_values; ++i) {
      const float v = std::nearbyint(x[i] * id);
      // |x * id| <= 127 up to rounding; a NaN gives -128 as the vector conversion does.
      q[i] = v != v ? int8_t{-128} : static_cast<int8_t>(std::max(-128.0f, std::min(127.0f, v)));
    }
    scales[b] = half_to_float(float_to_half(d));
  }
}

void q8_activations::resize(int tokens, int64_t cols) {
  if (cols % q8_block_values != 0)
    throw backend_error("q8 activations: a row of " + std::to_string(cols) + " values is not whole 32-value blocks");
  tokens_ = tokens;
  cols_ = cols;
  blocks_ = cols / q8_block_values;
  const int64_t groups = (tokens + q8_group_tokens - 1) / q8_group_tokens;
  values_.resize(static_cast<std::size_t>(tokens * cols));
  scales_.resize(static_cast<std::size_t>(tokens * blocks_));
  packed_.resize(static_cast<std::size_t>(groups * cols * q8_group_tokens));
  group_scales_.resize(static_cast<std::size_t>(groups * blocks_ * q8_group_tokens));
  group_offsets_.resize(group_scales_.size());
}

void q8_activations::quantize(cpu_isa isa, const float* x, int t0, int t1) {
  for (int t = t0; t < t1; ++t) {
    const std::size_t row = static_cast<std::size_t>(t);
    const float* in = x + row * static_cast<std::size_t>(cols_);
    int8_t* q = values_.data() + row * static_cast<std::size_t>(cols_);
    float* s = scales_.data() + row * static_cast<std::size_t>(blocks_);
    if (isa == cpu_isa::portable)
      quantize_q8_blocks_portable(in, blocks_, q, s);
    else
      quantize_q8_blocks_avx2(in, blocks_, q, s);
  }
  // The groups that start in [t0, t1) and end in it or at the last token: each group is
  // packed by exactly one call when calls split at multiples of 8.
  const int g0 = (t0 + q8_group_tokens - 1) / q8_group_tokens;
  const int g1 = t1 == tokens_ ? (t1 + q8_group_tokens - 1) / q8_group_tokens : t1 / q8_group_tokens;
  for (int g = g0; g < g1; ++g)
    for (int64_t b = 0; b < blocks_; ++b) {
      const std::size_t at = static_cast<std::size_t>(g * blocks_ + b);
      int8_t* out = packed_.data() + at * q8_block_values * q8_group_tokens;
      for (int j = 0; j < q8_group_tokens; ++j) {
        const int t = g * q8_group_tokens + j;
        if (t >= tokens_) {  // past the last token: zeros, which no kernel stores
          for (int s = 0; s < steps; ++s) std::memset(out + (s * q8_group_tokens + j) * 4, 0, 4);
          group_scales_[at * q8_group_tokens + j] = 0.0f;
          group_offsets_[at * q8_group_tokens + j] = 0;
          continue;
        }
        const std::size_t row = static_cast<std::size_t>(t);
        const int8_t* v = values_.data() + row * static_cast<std::size_t>(cols_) + b * q8_block_values;
        int32_t sum = 0;
        for (int i = 0; i < q8_block_values; ++i) sum += v[i];
        for (int s = 0; s < steps; ++s) std::memcpy(out + (s * q8_group_tokens + j) * 4, v + 4 * s, 4);
        group_scales_[at * q8_group_tokens + j] = scales_[row * static_cast<std::size_t>(blocks_) + b];
        group_offsets_[at * q8_group_tokens + j] = -128 * sum;
      }
    }
}

q8_rows_view q8_activations::view() const {
  return {tokens_,
          cols_,
          blocks_,
          values_.data(),
          scales_.data(),
          packed_.data(),
          group_scales_.data(),
          group_offsets_.data()};
}

}  // namespace kvactor
