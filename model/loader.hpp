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

// A path ending in .gguf (or a file starting with the GGUF magic) is read as
// GGUF with the tokenizer from its metadata (tokenizer_path is then ignored).
// Anything else is a llama2.c checkpoint and tokenizer_path is required.
// Throws model_error naming the file and what is wrong.
loaded_model load_model(const std::string& model_path, const std::string& tokenizer_path = "");

}  // namespace kvactor
