// Reading one row of a weight_matrix as floats. Every weight type
// (model/weight_types.hpp) is decoded exactly as ggml's dequantize_row_* does, so a
// dequantised row is the same bits wherever and whenever it is read.
#pragma once

#include <cstddef>
#include <cstdint>

#include "model/model.hpp"

namespace kvactor {

// Pointer to row r when the matrix is F32 (no copy needed), else nullptr.
const float* f32_row(const weight_matrix& w, int64_t r);

// Expands row r into out[0..cols).
void read_weight_row(const weight_matrix& w, int64_t r, float* out);

// Throws backend_error unless w is [rows, cols] of a supported type, with rows a whole
// number of the type's blocks, holding exactly the bytes that shape needs. `what` names the tensor in the message.
void check_weight_shape(const weight_matrix& w, int64_t rows, int64_t cols, const char* what);

}  // namespace kvactor
