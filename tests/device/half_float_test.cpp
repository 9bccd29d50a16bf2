// fp16 conversion used for F16 and Q8_0 weights.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>

#include "device/half_float.hpp"

using namespace kvactor;

TEST_CASE("every finite half survives half -> float -> half") {
  for (uint32_t h = 0; h < 0x10000u; ++h) {
    const auto half = static_cast<uint16_t>(h);
    if ((half & 0x7c00u) == 0x7c00u && (half & 0x3ffu) != 0) continue;  // NaN payloads
    const uint16_t back = float_to_half(half_to_float(half));
    if (back != half) {
      CAPTURE(h);
      FAIL("round trip changed the value");
    }
  }
}

TEST_CASE("known fp16 values and rounding") {
  CHECK(half_to_float(0x3c00) == 1.0f);
  CHECK(half_to_float(0xc000) == -2.0f);
  CHECK(half_to_float(0x7bff) == 65504.0f);
  CHECK(half_to_float(0x0001) == std::ldexp(1.0f, -24));
  CHECK(float_to_half(1.0f + std::ldexp(1.0f, -11)) == 0x3c00);  // tie rounds to even
  CHECK(float_to_half(1.0f + 3 * std::ldexp(1.0f, -11)) == 0x3c02);
  CHECK(float_to_half(1e6f) == 0x7c00);
  CHECK(float_to_half(-0.0f) == 0x8000);
  CHECK(std::isnan(half_to_float(float_to_half(NAN))));
}
