// Writes a seeded random-weight Llama model of a given shape in every format the
// loaders read: llama2.c checkpoint (.bin, f32) and GGUF (f32, f16, q8_0), each
// paired with a tokenizer of the same vocabulary, for benchmarks and format tests.
//
//   random_model --dim 288 --hidden 768 --layers 6 --heads 6 --kv-heads 6
//                --vocab 32000 --seq 256 --seed 1 --out DIR [--tokenizer T]
//
// Produces DIR/model.bin, DIR/tokenizer.bin, DIR/model-f32.gguf, DIR/model-f16.gguf,
// DIR/model-q8_0.gguf.
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <string>

#include "bench/bench_arguments.hpp"
#include "model/gguf_writer.hpp"
#include "model/llama2c_writer.hpp"
#include "model/tokenizer.hpp"
#include "tests/device/random_weights.hpp"

namespace {

const char* const usage_text =
    "usage: random_model --out DIR [--dim N] [--hidden N] [--layers N] [--heads N] [--kv-heads N]\n"
    "                    [--vocab N] [--seq N] [--seed S] [--tokenizer T]\n"
    "defaults: the stories15M shape (dim 288, hidden 768, 6 layers, 6 heads, 6 kv heads,\n"
    "vocab 32000, seq 256), seed 1, tokenizer " KVACTOR_MODELS_DIR
    "/llama2-tokenizer.bin\n"
    "(its vocabulary size must equal --vocab).\n";

int parse_positive(const std::string& flag, const char* text) {
  return kvactor::bench::parse_positive_int("random_model", flag, text);
}

}  // namespace

int main(int argc, char** argv) {
  kvactor::testing::random_model_shape shape = kvactor::testing::stories15m_shape(1);
  std::string out, tokenizer_path = std::string(KVACTOR_MODELS_DIR) + "/llama2-tokenizer.bin";
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--help" || flag == "-h") {
      std::fputs(usage_text, stdout);
      return 0;
    }
    if (i + 1 >= argc) {
      std::fprintf(stderr, "random_model: %s needs a value\n%s", flag.c_str(), usage_text);
      return 2;
    }
    const char* value = argv[++i];
    if (flag == "--out")
      out = value;
    else if (flag == "--tokenizer")
      tokenizer_path = value;
    else if (flag == "--dim")
      shape.dim = parse_positive(flag, value);
    else if (flag == "--hidden")
      shape.hidden_dim = parse_positive(flag, value);
    else if (flag == "--layers")
      shape.n_layers = parse_positive(flag, value);
    else if (flag == "--heads")
      shape.n_heads = parse_positive(flag, value);
    else if (flag == "--kv-heads")
      shape.n_kv_heads = parse_positive(flag, value);
    else if (flag == "--vocab")
      shape.vocab_size = parse_positive(flag, value);
    else if (flag == "--seq")
      shape.max_seq_len = parse_positive(flag, value);
    else if (flag == "--seed")
      shape.seed = static_cast<uint64_t>(parse_positive(flag, value));
    else {
      std::fprintf(stderr, "random_model: unknown flag '%s'\n%s", flag.c_str(), usage_text);
      return 2;
    }
  }
  if (out.empty()) {
    std::fprintf(stderr, "random_model: --out is required\n%s", usage_text);
    return 2;
  }
  if (shape.dim % shape.n_heads != 0 || shape.n_heads % shape.n_kv_heads != 0 || (shape.dim / shape.n_heads) % 2) {
    std::fprintf(stderr, "random_model: need dim %% heads == 0, heads %% kv-heads == 0 and an even head size\n");
    return 2;
  }
  try {
    const kvactor::tokenizer tok = kvactor::tokenizer::load_llama2c(tokenizer_path, shape.vocab_size);
    std::filesystem::create_directories(out);
    const auto weights = kvactor::testing::make_random_model(shape);
    kvactor::write_llama2c(out + "/model.bin", *weights);
    kvactor::write_llama2c_tokenizer(out + "/tokenizer.bin", tok);
    for (kvactor::dtype t : {kvactor::dtype::f32, kvactor::dtype::f16, kvactor::dtype::q8_0})
      kvactor::write_gguf(out + "/model-" + kvactor::dtype_name(t) + ".gguf", *weights, tok, t);
    std::printf("wrote %s/{model.bin, tokenizer.bin, model-f32.gguf, model-f16.gguf, model-q8_0.gguf}\n", out.c_str());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "random_model: %s\n", e.what());
    return 1;
  }
  return 0;
}
