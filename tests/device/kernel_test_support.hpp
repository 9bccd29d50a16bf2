// Helpers shared by the CPU kernel tests (cpu_matmul_test, cpu_matmul_q8_test).
#pragma once

#include <cstring>
#include <vector>

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

}  // namespace kvactor::testing
