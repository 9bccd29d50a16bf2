#include "model/model.hpp"

#include "model/weight_types.hpp"

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
  const weight_type_info* info = find_weight_type(t);
  if (!info || cols < 0) return 0;
  return static_cast<std::size_t>(cols / info->block_values) * static_cast<std::size_t>(info->block_bytes);
}

}  // namespace kvactor
