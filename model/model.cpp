#include "model/model.hpp"

namespace kvactor {

const char* dtype_name(dtype t) {
  switch (t) {
    case dtype::f32: return "f32";
    case dtype::f16: return "f16";
    case dtype::q8_0: return "q8_0";
    case dtype::q4_0: return "q4_0";
    case dtype::q4_1: return "q4_1";
    case dtype::q5_0: return "q5_0";
    case dtype::q5_1: return "q5_1";
    case dtype::q8_1: return "q8_1";
    case dtype::q2_k: return "q2_k";
    case dtype::q3_k: return "q3_k";
    case dtype::q4_k: return "q4_k";
    case dtype::q5_k: return "q5_k";
    case dtype::q6_k: return "q6_k";
    case dtype::q8_k: return "q8_k";
    case dtype::iq4_nl: return "iq4_nl";
    case dtype::bf16: return "bf16";
  }
  return "unknown";
}

std::size_t row_bytes(dtype t, int64_t cols) {
  const auto n = static_cast<std::size_t>(cols);
  switch (t) {
    case dtype::f32: return n * 4;
    case dtype::f16: return n * 2;
    case dtype::q8_0: return n / q8_0_block * q8_0_block_bytes;
    default: break;
  }
  return 0;
}

}  // namespace kvactor
