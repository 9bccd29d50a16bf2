#include "model/loader.hpp"

#include "model/binary_file.hpp"
#include "model/gguf_format.hpp"
#include "model/gguf_loader.hpp"
#include "model/llama2c_loader.hpp"

namespace kvactor {
namespace {

// Throws model_error when the file cannot be opened, so a missing file is
// reported as such rather than as "needs a tokenizer".
bool starts_with_gguf_magic(const std::string& path) {
  binary_file file(path);
  if (file.size() < sizeof(uint32_t)) return false;
  return file.read_value<uint32_t>("the magic number") == gguf::magic;
}

}  // namespace

loaded_model load_model(const std::string& model_path, const std::string& tokenizer_path) {
  return load_model(model_path, tokenizer_path, load_options{});
}

loaded_model load_model(const std::string& model_path, const std::string& tokenizer_path, const load_options& options) {
  if (model_path.empty()) throw model_error("no model path given");
  if (options.max_seq_len < 0)
    throw model_error(model_path + ": max_seq_len override " + std::to_string(options.max_seq_len) + " is negative");
  loaded_model out;
  std::shared_ptr<model_weights> weights;
  if (starts_with_gguf_magic(model_path)) {
    auto m = load_gguf(model_path);
    weights = std::make_shared<model_weights>(std::move(m.weights));
    out.tok = std::make_shared<tokenizer>(std::move(m.tok));
  } else {
    if (tokenizer_path.empty())
      throw model_error(model_path + ": a llama2.c checkpoint needs a tokenizer file (tokenizer.bin)");
    weights = std::make_shared<model_weights>(load_llama2c(model_path));
    out.tok = std::make_shared<tokenizer>(tokenizer::load_llama2c(tokenizer_path, weights->config.vocab_size));
  }
  if (options.max_seq_len > 0) weights->config.max_seq_len = options.max_seq_len;
  out.weights = std::move(weights);
  return out;
}

}  // namespace kvactor
