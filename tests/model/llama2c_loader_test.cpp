#include <doctest/doctest.h>

#include <cstring>
#include <string>

#include "model/llama2c_loader.hpp"
#include "model/loader.hpp"

namespace {
const std::string models_dir = KVACTOR_MODELS_DIR;
}

TEST_CASE("stories260K.bin loads with its documented shape") {
  const auto w = kvactor::load_llama2c(models_dir + "/stories260K.bin");
  const auto& c = w.config;
  CHECK(c.dim == 64);
  CHECK(c.hidden_dim == 172);
  CHECK(c.n_layers == 5);
  CHECK(c.n_heads == 8);
  CHECK(c.n_kv_heads == 4);
  CHECK(c.vocab_size == 512);
  CHECK(c.max_seq_len == 512);
  CHECK(w.shared_classifier);
  CHECK(&w.classifier() == &w.tok_embeddings);
  REQUIRE(w.layers.size() == 5);
  CHECK(w.layers[0].wk.rows == 32);
  CHECK(w.layers[0].wk.cols == 64);
  CHECK(w.layers[4].w2.rows == 64);
  CHECK(w.layers[4].w2.cols == 172);
  CHECK(w.layers[4].w2.data.size() == 64 * 172 * 4);
  CHECK(w.final_norm.size() == 64);
  // The first weight follows the header directly: compare with the raw bytes.
  float first = 0;
  std::memcpy(&first, w.tok_embeddings.data.data(), 4);
  CHECK(first == doctest::Approx(-0.2947).epsilon(0.001));
}

TEST_CASE("load_model: llama2.c checkpoint with its tokenizer") {
  const auto m = kvactor::load_model(models_dir + "/stories260K.bin", models_dir + "/tok512.bin");
  REQUIRE(m.weights.get() != nullptr);
  REQUIRE(m.tok.get() != nullptr);
  CHECK(m.tok->vocab_size() == m.weights->config.vocab_size);
  CHECK_THROWS_WITH_AS(kvactor::load_model(models_dir + "/stories260K.bin"), doctest::Contains("tokenizer"),
                       kvactor::model_error);
}
