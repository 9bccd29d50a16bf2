// GGUF (llama, qwen2, qwen3 architectures) -> model_weights + tokenizer.
// Hyper-parameters and tensors as llama.cpp reads them: see model/README.md,
// "Architectures". Matrices view the file's read-only mapping in their file dtype;
// norms, biases and rope_freqs become f32. Tokenizer: tokenizer.ggml.*.
#pragma once

#include <string>

#include "model/model.hpp"
#include "model/tokenizer.hpp"

namespace kvactor {

struct gguf_model {
  model_weights weights;
  tokenizer tok;
};

// Throws model_error naming the file and what is wrong.
gguf_model load_gguf(const std::string& path);

// Only the tokenizer of a GGUF file (e.g. a vocabulary-only file without tensors).
tokenizer load_gguf_tokenizer(const std::string& path);

}  // namespace kvactor
