// Writes the loader fuzzers' seed files (corpus/gguf_loader, corpus/llama2c_loader):
// tiny models in every format and dtype the loaders read, so fuzzing starts from
// files that load. Run once by hand: `seed_writer fuzz/corpus`; the outputs are
// committed. Weights are a fixed pattern (the loaders never look at values).
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "model/gguf_writer.hpp"
#include "model/llama2c_writer.hpp"
#include "model/model.hpp"
#include "model/quantization.hpp"
#include "model/tokenizer.hpp"

using namespace kvactor;

namespace {

weight_matrix f32_matrix(int64_t rows, int64_t cols, float scale) {
  weight_matrix m;
  m.type = dtype::f32;
  m.rows = rows;
  m.cols = cols;
  std::vector<float> v(static_cast<std::size_t>(rows * cols));
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = scale * static_cast<float>(static_cast<int>(i % 7) - 3);
  m.data.resize(v.size() * 4);
  std::memcpy(m.data.data(), v.data(), m.data.size());
  return m;
}

model_weights tiny_model(int dim, int hidden, int layers, int heads, int kv_heads, int vocab, bool shared) {
  model_weights w;
  w.config = {dim, hidden, layers, heads, kv_heads, vocab, 32, 10000.0f, 1e-5f};
  const int kv_dim = w.config.kv_dim();
  w.tok_embeddings = f32_matrix(vocab, dim, 0.01f);
  for (int l = 0; l < layers; ++l) {
    layer_weights lw;
    lw.attn_norm.assign(dim, 1.0f);
    lw.ffn_norm.assign(dim, 1.0f);
    lw.wq = f32_matrix(dim, dim, 0.02f);
    lw.wk = f32_matrix(kv_dim, dim, 0.02f);
    lw.wv = f32_matrix(kv_dim, dim, 0.02f);
    lw.wo = f32_matrix(dim, dim, 0.02f);
    lw.w1 = f32_matrix(hidden, dim, 0.02f);
    lw.w2 = f32_matrix(dim, hidden, 0.02f);
    lw.w3 = f32_matrix(hidden, dim, 0.02f);
    w.layers.push_back(std::move(lw));
  }
  w.final_norm.assign(dim, 1.0f);
  w.shared_classifier = shared;
  if (!shared) w.output = f32_matrix(vocab, dim, 0.03f);
  return w;
}

tokenizer tiny_tokenizer(int vocab) {
  std::vector<std::string> pieces = {"<unk>",
                                     "<s>",
                                     "</s>",
                                     "<0x41>",
                                     "\xe2\x96\x81",
                                     "a",
                                     "b",
                                     "\xe2\x96\x81"
                                     "ab"};
  while (static_cast<int>(pieces.size()) < vocab) pieces.push_back("p" + std::to_string(pieces.size()));
  std::vector<float> scores;
  for (std::size_t i = 0; i < pieces.size(); ++i) scores.push_back(-static_cast<float>(i));
  return tokenizer::from_sentencepiece("seed", pieces, scores, {}, 1, 2);
}

// A selector byte and optional fields in front of the file (see llama2c_loader_fuzzer.cpp).
void prefix_file(const std::string& path, const std::string& prefix) {
  std::ifstream in(path, std::ios::binary);
  const std::string body((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  in.close();
  std::ofstream(path, std::ios::binary | std::ios::trunc) << prefix << body;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: seed_writer CORPUS_DIR\n");
    return 2;
  }
  const std::string dir = argv[1];
  const tokenizer tok = tiny_tokenizer(12);
  const model_weights small = tiny_model(8, 16, 1, 2, 1, 12, true);
  const model_weights wide = tiny_model(32, 32, 1, 2, 2, 12, false);  // rows of 32: q8_0 stays q8_0
  write_gguf(dir + "/gguf_loader/tiny_f32.gguf", small, tok, dtype::f32);
  write_gguf(dir + "/gguf_loader/tiny_f16.gguf", small, tok, dtype::f16);
  write_gguf(dir + "/gguf_loader/wide_q8_0.gguf", wide, tok, dtype::q8_0);
  write_gguf(dir + "/gguf_loader/wide_f32_untied.gguf", wide, tok, dtype::f32);

  write_llama2c(dir + "/llama2c_loader/tiny_shared.bin", small);
  prefix_file(dir + "/llama2c_loader/tiny_shared.bin", std::string(1, '\0'));
  write_llama2c(dir + "/llama2c_loader/tiny_untied.bin", tiny_model(8, 16, 2, 2, 2, 12, false));
  prefix_file(dir + "/llama2c_loader/tiny_untied.bin", std::string(1, '\0'));
  write_llama2c_tokenizer(dir + "/llama2c_loader/tiny_tokenizer.bin", tok);
  const int16_t vocab = 12;
  std::string head(1, '\1');
  head.append(reinterpret_cast<const char*>(&vocab), 2);
  prefix_file(dir + "/llama2c_loader/tiny_tokenizer.bin", head);
  std::printf("seeds written under %s\n", dir.c_str());
  return 0;
}
