#include "device/weight_rows.hpp"

#include <string>

#include "device/backend.hpp"
#include "model/weight_types.hpp"

namespace kvactor {

const float* f32_row(const weight_matrix& w, int64_t r) {
  if (w.type != dtype::f32) return nullptr;
  return reinterpret_cast<const float*>(w.bytes()) + r * w.cols;
}

// Every type decodes exactly (ggml's dequantize_row_*), so a row read here has the
// bits the matmul kernels multiply with.
void read_weight_row(const weight_matrix& w, int64_t r, float* out) {
  const weight_type_info* info = find_weight_type(w.type);
  if (!info) throw backend_error(std::string("read_weight_row: unsupported weight type ") + dtype_name(w.type));
  info->dequantize_row(w.bytes() + static_cast<std::size_t>(r) * row_bytes(w.type, w.cols), out, w.cols);
}

void check_weight_shape(const weight_matrix& w, int64_t rows, int64_t cols, const char* what) {
  const std::string name(what);
  const weight_type_info* info = find_weight_type(w.type);
  if (!info || w.type == dtype::q8_1 || w.type == dtype::q8_k)
    throw backend_error("weight " + name + ": unsupported type " + dtype_name(w.type) + " (id " +
                        std::to_string(static_cast<uint32_t>(w.type)) + "); the CPU backend supports " +
                        weight_type_names());
  if (w.rows != rows || w.cols != cols)
    throw backend_error("weight " + name + ": shape [" + std::to_string(w.rows) + ", " + std::to_string(w.cols) +
                        "], expected [" + std::to_string(rows) + ", " + std::to_string(cols) + "]");
  if (cols % info->block_values != 0)
    throw backend_error("weight " + name + ": " + info->name + " stores rows in blocks of " +
                        std::to_string(info->block_values) + " values, but the shape [" + std::to_string(rows) + ", " +
                        std::to_string(cols) + "] has rows of " + std::to_string(cols));
  const std::size_t need = static_cast<std::size_t>(rows) * row_bytes(w.type, cols);
  if (w.byte_size() != need)
    throw backend_error("weight " + name + ": holds " + std::to_string(w.byte_size()) + " bytes, shape needs " +
                        std::to_string(need));
}

}  // namespace kvactor
