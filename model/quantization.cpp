#include "model/quantization.hpp"

#include "model/ggml_dequant.hpp"
#include "model/weight_types.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>

namespace kvactor {

uint16_t fp32_to_fp16(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  const uint32_t sign = (x >> 16) & 0x8000u;
  const uint32_t abs = x & 0x7fffffffu;
  if (abs >= 0x7f800000u)  // inf stays inf; NaN stays a (quiet) NaN
    return static_cast<uint16_t>(sign | 0x7c00u | (abs > 0x7f800000u ? 0x200u | ((abs >> 13) & 0x3ffu) : 0u));
  if (abs >= 0x477ff000u) return static_cast<uint16_t>(sign | 0x7c00u);  // >= 65520 rounds to inf
  if (abs < 0x38800000u) {  // below 2^-14: a half subnormal, in units of 2^-24
    float a;
    std::memcpy(&a, &abs, 4);
    const auto units = static_cast<uint32_t>(std::nearbyint(a * 16777216.0f));  // exact product, RNE
    return static_cast<uint16_t>(sign | units);
  }
  const uint32_t mant = abs & 0x7fffffu;
  const uint32_t exp = (abs >> 23) - 127 + 15;
  uint32_t h = (exp << 10) | (mant >> 13);
  const uint32_t rest = mant & 0x1fffu;
  if (rest > 0x1000u || (rest == 0x1000u && (h & 1u))) ++h;  // a carry into the exponent is correct
  return static_cast<uint16_t>(sign | h);
}

float fp16_to_fp32(uint16_t h) { return ggml::fp16_value(h); }

namespace {

const weight_type_info& type_info(dtype t) {
  const weight_type_info* info = find_weight_type(t);
  if (!info) throw model_error(std::string("no conversion for weight type ") + dtype_name(t));
  return *info;
}

}  // namespace

void dequantize_row(dtype t, const uint8_t* src, float* dst, int64_t cols) {
  type_info(t).dequantize_row(src, dst, cols);
}

void quantize_row(dtype t, const float* src, uint8_t* dst, int64_t cols) { type_info(t).quantize_row(src, dst, cols); }

std::vector<float> dequantize(const weight_matrix& m) {
  std::vector<float> out(static_cast<std::size_t>(m.rows * m.cols));
  const std::size_t rb = row_bytes(m.type, m.cols);
  for (int64_t r = 0; r < m.rows; ++r)
    dequantize_row(m.type, m.bytes() + static_cast<std::size_t>(r) * rb, out.data() + r * m.cols, m.cols);
  return out;
}

weight_matrix convert(const weight_matrix& m, dtype t) {
  const weight_type_info& info = type_info(t);
  if (m.cols % info.block_values != 0)
    throw model_error("cannot store a matrix of " + std::to_string(m.cols) + " columns as " + info.name +
                      " (needs a multiple of " + std::to_string(info.block_values) + ")");
  weight_matrix out;
  out.type = t;
  out.rows = m.rows;
  out.cols = m.cols;
  const std::size_t rb = row_bytes(t, m.cols);
  out.data.resize(rb * static_cast<std::size_t>(m.rows));
  std::vector<float> row(static_cast<std::size_t>(m.cols));
  const std::size_t src_rb = row_bytes(m.type, m.cols);
  for (int64_t r = 0; r < m.rows; ++r) {
    dequantize_row(m.type, m.bytes() + static_cast<std::size_t>(r) * src_rb, row.data(), m.cols);
    quantize_row(t, row.data(), out.data.data() + static_cast<std::size_t>(r) * rb, m.cols);
  }
  return out;
}

}  // namespace kvactor
