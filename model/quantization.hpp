// Conversions between the weight dtypes (every type in model/weight_types.hpp).
// Decoding is ggml's dequantize_row_* exactly; encoding follows ggml's reference
// quantisers: fp16 round-to-nearest-even (as F16C's _cvtss_sh), Q8_0 as
// quantize_row_q8_0_ref (d = amax/127, q = roundf(x * (1/d)), d stored as fp16), the
// other block types as model/ggml_quantize.hpp describes.
#pragma once

#include <cstdint>
#include <vector>

#include "model/model.hpp"

namespace kvactor {

uint16_t fp32_to_fp16(float f);
float fp16_to_fp32(uint16_t h);

// One row of `cols` values of type t starting at `src`, written as f32 to `dst`.
void dequantize_row(dtype t, const uint8_t* src, float* dst, int64_t cols);
// Encodes `cols` f32 values as one row of type t (cols a multiple of its block size,
// see model/weight_types.hpp). Both throw model_error for a type without a codec.
void quantize_row(dtype t, const float* src, uint8_t* dst, int64_t cols);

// The whole matrix as f32, row-major.
std::vector<float> dequantize(const weight_matrix& m);
// The matrix re-encoded as type t (through f32). Throws model_error when cols is not
// a multiple of t's block size (32 for the legacy formats, 256 for K-quants).
weight_matrix convert(const weight_matrix& m, dtype t);

}  // namespace kvactor
