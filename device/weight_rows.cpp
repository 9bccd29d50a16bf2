#include "device/weight_rows.hpp"

#include <cstring>
#include <string>

#include "device/backend.hpp"
#include "device/half_float.hpp"

namespace kvactor {

const float* f32_row(const weight_matrix& w, int64_t r) {
  if (w.type != dtype::f32) return nullptr;
  return reinterpret_cast<const float*>(w.bytes()) + r * w.cols;
}

void read_weight_row(const weight_matrix& w, int64_t r, float* out) {
  const uint8_t* row = w.bytes() + static_cast<std::size_t>(r) * row_bytes(w.type, w.cols);
  switch (w.type) {
    case dtype::f32:
      std::memcpy(out, row, static_cast<std::size_t>(w.cols) * 4);
      return;
    case dtype::f16:
      for (int64_t c = 0; c < w.cols; ++c) {
        uint16_t h;
        std::memcpy(&h, row + 2 * c, 2);
        out[c] = half_to_float(h);
      }
      return;
    case dtype::q8_0:
      for (int64_t b = 0; b < w.cols / q8_0_block; ++b) {
        const uint8_t* block = row + b * q8_0_block_bytes;
        uint16_t h;
        std::memcpy(&h, block, 2);
        const float scale = half_to_float(h);
        const auto* q = reinterpret_cast<const int8_t*>(block + 2);
        for (int i = 0; i < q8_0_block; ++i) out[b * q8_0_block + i] = scale * static_cast<float>(q[i]);
      }
      return;
    default: break;
  }
  throw backend_error(std::string("read_weight_row: unsupported weight type ") + dtype_name(w.type));
}

void check_weight_shape(const weight_matrix& w, int64_t rows, int64_t cols, const char* what) {
  const std::string name(what);
  if (w.type != dtype::f32 && w.type != dtype::f16 && w.type != dtype::q8_0)
    throw backend_error("weight " + name + ": unsupported type id " +
                        std::to_string(static_cast<uint32_t>(w.type)) + " (CPU backend supports f32, f16, q8_0)");
  if (w.rows != rows || w.cols != cols)
    throw backend_error("weight " + name + ": shape [" + std::to_string(w.rows) + ", " + std::to_string(w.cols) +
                        "], expected [" + std::to_string(rows) + ", " + std::to_string(cols) + "]");
  if (w.type == dtype::q8_0 && cols % q8_0_block != 0)
    throw backend_error("weight " + name + ": q8_0 needs a column count divisible by 32, got " + std::to_string(cols));
  const std::size_t need = static_cast<std::size_t>(rows) * row_bytes(w.type, cols);
  if (w.byte_size() != need)
    throw backend_error("weight " + name + ": holds " + std::to_string(w.byte_size()) + " bytes, shape needs " +
                        std::to_string(need));
}

}  // namespace kvactor
