// Encoders for ggml's block formats, following ggml's reference quantisers
// (quantize_row_*_ref and their make_qkx2_quants / make_qx_quants / make_q3_quants scale
// searches) operation for operation: Q8_0, Q4_0, Q5_0 and the K-quants give
// llama-quantize's bytes (tests/model/quant_files_test.cpp). IQ4_NL's scale search is
// simpler than ggml's: same format, other bytes.
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
