// Helpers shared by the CPU kernel tests (cpu_matmul_test, cpu_matmul_q8_test).
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include <doctest/doctest.h>

#include "device/cpu_isa.hpp"
#include "tests/device/random_weights.hpp"

namespace kvactor::testing {

// Every instruction set this CPU can run, portable first.
inline std::vector<cpu_isa> supported_isas() {
  std::vector<cpu_isa> isas;
  for (cpu_isa isa : {cpu_isa::portable, cpu_isa::avx2, cpu_isa::avx512})
    if (cpu_supports(isa)) isas.push_back(isa);
  return isas;
}

inline std::vector<float> random_values(weight_rng& rng, std::size_t n, float scale) {
  std::vector<float> v(n);
  for (float& x : v) x = rng.next() * scale;
  return v;
}

inline bool same_bits(const float* a, const float* b, std::size_t n) {
  return std::memcmp(a, b, n * sizeof(float)) == 0;
}

// An integer product's outputs got[t * rows + r] against the exact products of the decoded
// weights (decoded[r * k + i]) and the quantized activations (values[t * k + i] times the
// scale of their block of `block` values, scales[t * (k / block) + i / block]): only the
// float chain may round (relative `tolerance`). And against the product with the unquantized
// activations x: each activation may move by `step_fraction` of its block's scale.
inline void check_quantized_product(const std::vector<float>& got, const std::vector<float>& decoded,
                                    const std::vector<float>& x, const int8_t* values, const float* scales, int tokens,
                                    int rows, int k, int block, double step_fraction, double tolerance) {
  for (int t = 0; t < tokens; ++t)
    for (int r = 0; r < rows; ++r) {
      double exact = 0, plain = 0, magnitude = 0, rounding = 0;
      for (int i = 0; i < k; ++i) {
        const double wi = decoded[static_cast<std::size_t>(r) * k + i];
        const double dx = scales[t * (k / block) + i / block];
        exact += wi * values[t * k + i] * dx;
        plain += wi * x[static_cast<std::size_t>(t) * k + i];
        magnitude += std::fabs(wi * values[t * k + i] * dx);
        rounding += std::fabs(wi) * std::fabs(dx) * step_fraction;
      }
      const double y = got[static_cast<std::size_t>(t) * rows + r];
      CHECK(std::fabs(y - exact) <= tolerance * magnitude + 1e-30);
      CHECK(std::fabs(y - plain) <= rounding + tolerance * magnitude + 1e-30);
    }
}

}  // namespace kvactor::testing
