// Writes a model as GGUF v3 (llama architecture), the layout gguf_loader reads:
// metadata (hyper-parameters, SentencePiece tokenizer with U+2581 for space) and
// tensors with ggml shapes. 2-D matrices are stored as `matrix_type` (any writable
// type of model/weight_types.hpp); a matrix whose rows are not a whole number of that
// type's blocks falls back as llama.cpp's quantizer does (K-quants to IQ4_NL / Q5_0 /
// Q5_1 / Q8_0, then F16); norm vectors are always f32. general.file_type is the
// LLAMA_FTYPE of the type asked for.
#pragma once

#include <string>

#include "model/model.hpp"
#include "model/tokenizer.hpp"

namespace kvactor {

// Writes to `path` via a temporary file renamed into place, so a failed write
// never leaves a half-written model. Throws model_error naming the file.
void write_gguf(const std::string& path, const model_weights& weights, const tokenizer& tok, dtype matrix_type);

}  // namespace kvactor
