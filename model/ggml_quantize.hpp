// Encoders for ggml's block formats, modelled on ggml's reference quantisers
// (quantize_row_*_ref): the same block layouts and scale encodings and the same kind of
// scale search (make_qkx2_quants for the K-quants with a minimum, a weighted
// least-squares search for the symmetric ones). The bytes may differ from ggml's in
// the last rounding of a scale search; decoding them is exact either way.
// `n` is a multiple of the type's block size (checked by the callers).
#pragma once

#include <cstdint>

namespace kvactor::ggml {

void quantize_row_q4_0(const float* x, uint8_t* out, int64_t n);
void quantize_row_q4_1(const float* x, uint8_t* out, int64_t n);
void quantize_row_q5_0(const float* x, uint8_t* out, int64_t n);
void quantize_row_q5_1(const float* x, uint8_t* out, int64_t n);
void quantize_row_q8_0(const float* x, uint8_t* out, int64_t n);
void quantize_row_iq4_nl(const float* x, uint8_t* out, int64_t n);
void quantize_row_q2_K(const float* x, uint8_t* out, int64_t n);
void quantize_row_q3_K(const float* x, uint8_t* out, int64_t n);
void quantize_row_q4_K(const float* x, uint8_t* out, int64_t n);
void quantize_row_q5_K(const float* x, uint8_t* out, int64_t n);
void quantize_row_q6_K(const float* x, uint8_t* out, int64_t n);
void quantize_row_q8_K(const float* x, uint8_t* out, int64_t n);

}  // namespace kvactor::ggml
