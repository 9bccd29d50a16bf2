// Writes a model as GGUF v3 (llama architecture), the layout gguf_loader reads:
// metadata (hyper-parameters, SentencePiece tokenizer with U+2581 for space) and
// tensors with ggml shapes. 2-D matrices are stored as `matrix_type`; a q8_0
// matrix whose row length is not a multiple of 32 is stored as f16 instead (as
// llama.cpp's quantizer falls back); norm vectors are always f32.
#pragma once

#include <string>

#include "model/model.hpp"
#include "model/tokenizer.hpp"

namespace kvactor {

// Writes to `path` via a temporary file renamed into place, so a failed write
// never leaves a half-written model. Throws model_error naming the file.
void write_gguf(const std::string& path, const model_weights& weights, const tokenizer& tok, dtype matrix_type);

}  // namespace kvactor
