#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <limits>

#include "model/quantization.hpp"

using namespace kvactor;

TEST_CASE("fp16 encoding: known values, rounding to nearest even, overflow, subnormals") {
  CHECK(fp32_to_fp16(1.0f) == 0x3C00);
  CHECK(fp32_to_fp16(-2.0f) == 0xC000);
  CHECK(fp32_to_fp16(0.1f) == 0x2E66);
  CHECK(fp32_to_fp16(65504.0f) == 0x7BFF);
  CHECK(fp32_to_fp16(65519.0f) == 0x7BFF);
  CHECK(fp32_to_fp16(65520.0f) == 0x7C00);  // rounds up to infinity
  CHECK(fp32_to_fp16(std::numeric_limits<float>::infinity()) == 0x7C00);
  CHECK((fp32_to_fp16(std::nanf("")) & 0x7C00) == 0x7C00);
  CHECK((fp32_to_fp16(std::nanf("")) & 0x03FF) != 0);
  CHECK(fp32_to_fp16(1.0f + std::ldexp(1.0f, -11)) == 0x3C00);      // tie -> even mantissa
  CHECK(fp32_to_fp16(1.0f + 3 * std::ldexp(1.0f, -11)) == 0x3C02);  // tie -> even mantissa (up)
  CHECK(fp32_to_fp16(std::ldexp(1.0f, -24)) == 0x0001);             // smallest subnormal
  CHECK(fp32_to_fp16(std::ldexp(1.0f, -25)) == 0x0000);             // tie -> even (zero)
  CHECK(fp32_to_fp16(3 * std::ldexp(1.0f, -25)) == 0x0002);         // tie -> even (two units)
  CHECK(fp32_to_fp16(-0.0f) == 0x8000);
}

TEST_CASE("fp16 decode then encode is the identity for every non-NaN half") {
  int checked = 0;
  for (uint32_t h = 0; h < 0x10000; ++h) {
    const bool nan = (h & 0x7C00) == 0x7C00 && (h & 0x3FF) != 0;
    if (nan) continue;
    REQUIRE(fp32_to_fp16(fp16_to_fp32(static_cast<uint16_t>(h))) == h);
    ++checked;
  }
  CHECK(checked == 65536 - 2 * 1023);
  CHECK(fp16_to_fp32(0x3C00) == 1.0f);
  CHECK(fp16_to_fp32(0x0001) == std::ldexp(1.0f, -24));
}

TEST_CASE("Q8_0 follows ggml: d = amax/127 as fp16, q = round(x/d)") {
  float x[64];
  for (int j = 0; j < 32; ++j) x[j] = static_cast<float>(j - 16) * 0.5f;  // amax 8 at j = 0
  for (int j = 32; j < 64; ++j) x[j] = 0.0f;                              // an all-zero block
  uint8_t q[2 * q8_0_block_bytes];
  quantize_row(dtype::q8_0, x, q, 64);
  uint16_t dh;
  std::memcpy(&dh, q, 2);
  CHECK(dh == fp32_to_fp16(8.0f / 127.0f));
  CHECK(static_cast<int8_t>(q[2]) == -127);      // x = -8
  CHECK(static_cast<int8_t>(q[2 + 16]) == 0);    // x = 0
  CHECK(static_cast<int8_t>(q[2 + 17]) == 8);    // round(0.5 * 127/8) = round(7.94)
  CHECK(static_cast<int8_t>(q[2 + 31]) == 119);  // round(7.5 * 127/8) = round(119.06)
  std::memcpy(&dh, q + q8_0_block_bytes, 2);
  CHECK(dh == 0);
  float back[64];
  dequantize_row(dtype::q8_0, q, back, 64);
  const float d = fp16_to_fp32(fp32_to_fp16(8.0f / 127.0f));
  for (int j = 0; j < 32; ++j) CHECK(std::fabs(back[j] - x[j]) <= d * 0.5f + 1e-3f);
  for (int j = 32; j < 64; ++j) CHECK(back[j] == 0.0f);
}

TEST_CASE("convert: f32 -> f16 -> f32 and q8_0 row-length check") {
  weight_matrix m;
  m.rows = 2;
  m.cols = 3;
  const float v[6] = {1.0f, -0.5f, 0.25f, 3.0f, 1e-3f, -7.0f};
  m.data.resize(sizeof v);
  std::memcpy(m.data.data(), v, sizeof v);
  const auto h = convert(m, dtype::f16);
  CHECK(h.type == dtype::f16);
  CHECK(h.data.size() == 12);
  const auto back = dequantize(h);
  for (int i = 0; i < 6; ++i) CHECK(back[static_cast<std::size_t>(i)] == doctest::Approx(v[i]).epsilon(1e-3));
  CHECK_THROWS_WITH_AS(convert(m, dtype::q8_0), doctest::Contains("multiple of 32"), model_error);
  CHECK(std::string(dtype_name(dtype::q8_0)) == "q8_0");
  CHECK(row_bytes(dtype::q8_0, 64) == 68);
  CHECK(row_bytes(dtype::f16, 5) == 10);
}
