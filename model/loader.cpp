#include "model/loader.hpp"

#include "model/binary_file.hpp"
#include "model/llama2c_loader.hpp"

namespace kvactor {

loaded_model load_model(const std::string& model_path, const std::string& tokenizer_path) {
  if (model_path.empty()) throw model_error("no model path given");
  loaded_model out;
  if (tokenizer_path.empty())
    throw model_error(model_path + ": a llama2.c checkpoint needs a tokenizer file (tokenizer.bin)");
  auto weights = std::make_shared<model_weights>(load_llama2c(model_path));
  out.tok = std::make_shared<tokenizer>(tokenizer::load_llama2c(tokenizer_path, weights->config.vocab_size));
  out.weights = std::move(weights);
  return out;
}

}  // namespace kvactor
