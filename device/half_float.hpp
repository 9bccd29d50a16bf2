// IEEE half <-> float conversion in plain integer code, so every build converts
// identically (no dependence on F16C or the compiler's _Float16 support).
// half -> float is model/ggml_dequant.hpp's fp16_value (through fp16_to_fp32, out of
// line, so this external-linkage inline never carries a per-ISA copy). float -> half
// differs from fp32_to_fp16 in NaN payloads only (this one keeps none), so stays here.
#pragma once

#include <cstdint>
#include <cstring>

#include "model/quantization.hpp"

namespace kvactor {

inline float half_to_float(uint16_t h) { return fp16_to_fp32(h); }

// Round to nearest even, as hardware conversions do.
inline uint16_t float_to_half(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, sizeof bits);
  const uint16_t sign = static_cast<uint16_t>((bits >> 16) & 0x8000u);
  const uint32_t abs = bits & 0x7fffffffu;
  if (abs >= 0x7f800000u)  // inf / nan (keep nan quiet and non-zero)
    return static_cast<uint16_t>(sign | 0x7c00u | (abs > 0x7f800000u ? 0x200u : 0u));
  if (abs >= 0x477ff000u) return static_cast<uint16_t>(sign | 0x7c00u);  // overflow -> inf
  if (abs < 0x38800000u) {                                               // result is subnormal or zero
    if (abs < 0x33000000u) return sign;                                  // below half the smallest subnormal
    const uint32_t exponent = abs >> 23;
    const uint32_t mantissa = (abs & 0x7fffffu) | 0x800000u;
    const uint32_t shift = 126u - exponent;  // 14..24
    uint32_t value = mantissa >> shift;
    const uint32_t rest = mantissa & ((1u << shift) - 1u);
    const uint32_t half = 1u << (shift - 1u);
    if (rest > half || (rest == half && (value & 1u))) ++value;
    return static_cast<uint16_t>(sign | value);
  }
  uint32_t value = ((abs >> 13) - (112u << 10));
  const uint32_t rest = abs & 0x1fffu;
  if (rest > 0x1000u || (rest == 0x1000u && (value & 1u))) ++value;  // may carry into exponent: fine
  return static_cast<uint16_t>(sign | value);
}

}  // namespace kvactor
