#include "model/model.hpp"

namespace kvactor {

const char* dtype_name(dtype t) {
  switch (t) {
    case dtype::f32: return "f32";
    case dtype::f16: return "f16";
    case dtype::q8_0: return "q8_0";
  }
  return "unknown";
}

std::size_t row_bytes(dtype t, int64_t cols) {
  const auto n = static_cast<std::size_t>(cols);
  switch (t) {
    case dtype::f32: return n * 4;
    case dtype::f16: return n * 2;
    case dtype::q8_0: return n / q8_0_block * q8_0_block_bytes;
  }
  return 0;
}

}  // namespace kvactor
