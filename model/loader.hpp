// The one entry point for loading a model: picks the format from the file.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "model/model.hpp"
#include "model/tokenizer.hpp"

namespace kvactor {

struct loaded_model {
  std::shared_ptr<const model_weights> weights;
  std::shared_ptr<const tokenizer> tok;
};

struct load_options {
  // When > 0, replaces the file's max_seq_len. GGUF files written by llama.cpp's
  // convert-llama2c-to-ggml say context_length = 128 whatever the model was
  // trained at (stories260K: 512), so callers may need to restore it.
  int max_seq_len = 0;
};

// A file starting with the GGUF magic is read as GGUF with the tokenizer from
// its metadata; tokenizer_path is then ignored (a GGUF file carries its own).
// Anything else is a llama2.c checkpoint and tokenizer_path is required.
// Throws model_error naming the file and what is wrong.
loaded_model load_model(const std::string& model_path, const std::string& tokenizer_path = "");
loaded_model load_model(const std::string& model_path, const std::string& tokenizer_path, const load_options& options);

}  // namespace kvactor
