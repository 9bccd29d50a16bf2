#include <doctest/doctest.h>

#include "model/gguf_loader.hpp"
#include "model/gguf_writer.hpp"
#include "model/llama2c_loader.hpp"
#include "model/llama2c_writer.hpp"
#include "model/loader.hpp"
#include "model_test_support.hpp"

using namespace model_test;
using kvactor::dtype;

namespace {
struct stories260k {
  kvactor::model_weights weights = kvactor::load_llama2c(models_dir + "/stories260K.bin");
  kvactor::tokenizer tok = kvactor::tokenizer::load_llama2c(models_dir + "/tok512.bin", 512);
};
const stories260k& reference() {
  static const stories260k r;
  return r;
}

void check_same_tokenizer(const kvactor::tokenizer& a, const kvactor::tokenizer& b) {
  REQUIRE(a.vocab_size() == b.vocab_size());
  CHECK(a.bos_id() == b.bos_id());
  CHECK(a.eos_id() == b.eos_id());
  for (int32_t i = 0; i < a.vocab_size(); ++i) {
    REQUIRE(a.piece(i) == b.piece(i));
    REQUIRE(a.score(i) == b.score(i));
    REQUIRE(a.kind(i) == b.kind(i));
  }
}
}  // namespace

TEST_CASE("f32 GGUF written from stories260K.bin loads back bit for bit") {
  scratch_dir dir;
  const auto path = dir.file("s.gguf");
  kvactor::write_gguf(path, reference().weights, reference().tok, dtype::f32);
  const auto loaded = kvactor::load_gguf(path);
  check_identical_weights(reference().weights, loaded.weights);
  CHECK(loaded.weights.shared_classifier);  // tied stays tied
  CHECK(loaded.weights.config.max_seq_len == 512);
  check_same_tokenizer(reference().tok, loaded.tok);
  CHECK(loaded.tok.encode("Once upon a time", true, false) == reference().tok.encode("Once upon a time", true, false));
}

TEST_CASE("f16 and q8_0 GGUF load and dequantise within tolerance") {
  scratch_dir dir;
  const auto& ref = reference().weights;
  for (const auto type : {dtype::f16, dtype::q8_0}) {
    INFO("type " << kvactor::dtype_name(type));
    const auto path = dir.file(std::string("s_") + kvactor::dtype_name(type) + ".gguf");
    kvactor::write_gguf(path, ref, reference().tok, type);
    const auto m = kvactor::load_model(path);
    const auto& w = *m.weights;
    CHECK(w.tok_embeddings.type == type);
    CHECK(w.layers[0].wq.type == type);
    // hidden 172 is no multiple of 32: q8_0's w2 falls back to f16 (as llama.cpp does).
    CHECK(w.layers[0].w2.type == dtype::f16);
    CHECK(w.final_norm == ref.final_norm);  // norms stay f32, exactly
    CHECK(w.layers[3].attn_norm == ref.layers[3].attn_norm);
    // fp16 keeps 11 significant bits; Q8_0 at most half a step of amax/127 per block.
    const double tolerance = type == dtype::f16 ? 1.0 / 2048 : 0.5 / 127 + 1.0 / 2048;
    CHECK(relative_max_error(ref.tok_embeddings, w.tok_embeddings) <= tolerance);
    for (std::size_t l = 0; l < ref.layers.size(); ++l) {
      CHECK(relative_max_error(ref.layers[l].wq, w.layers[l].wq) <= tolerance);
      CHECK(relative_max_error(ref.layers[l].wk, w.layers[l].wk) <= tolerance);
      CHECK(relative_max_error(ref.layers[l].w1, w.layers[l].w1) <= tolerance);
      CHECK(relative_max_error(ref.layers[l].w2, w.layers[l].w2) <= tolerance);
    }
    CHECK(relative_max_error(ref.layers[0].wq, w.layers[0].wq) > 0);  // it really was quantised
  }
}

TEST_CASE("llama2.c writer round trip: checkpoint and tokenizer") {
  scratch_dir dir;
  kvactor::write_llama2c(dir.file("m.bin"), reference().weights);
  kvactor::write_llama2c_tokenizer(dir.file("t.bin"), reference().tok);
  // Same size as the original, and (freq_cis aside) the same bytes.
  CHECK(read_file(dir.file("m.bin")).size() == read_file(models_dir + "/stories260K.bin").size());
  CHECK(read_file(dir.file("t.bin")) == read_file(models_dir + "/tok512.bin"));
  const auto m = kvactor::load_model(dir.file("m.bin"), dir.file("t.bin"));
  check_identical_weights(reference().weights, *m.weights);
  check_same_tokenizer(reference().tok, *m.tok);

  // An untied classifier is written after freq_cis with a negative vocab size.
  auto untied = reference().weights;
  untied.shared_classifier = false;
  untied.output = untied.tok_embeddings;
  untied.output.data[0] ^= 1;  // make it distinguishable
  kvactor::write_llama2c(dir.file("untied.bin"), untied);
  const auto u = kvactor::load_llama2c(dir.file("untied.bin"));
  CHECK_FALSE(u.shared_classifier);
  CHECK(u.output.data == untied.output.data);
  CHECK(u.output.data != u.tok_embeddings.data);
  // The same model through GGUF keeps output.weight.
  kvactor::write_gguf(dir.file("untied.gguf"), untied, reference().tok, dtype::f32);
  const auto g = kvactor::load_gguf(dir.file("untied.gguf"));
  check_identical_weights(untied, g.weights);
  CHECK_FALSE(g.weights.shared_classifier);
}

TEST_CASE("writers refuse inconsistent input with the file named") {
  scratch_dir dir;
  auto w = reference().weights;
  w.layers[1].wq.data.resize(10);
  CHECK_THROWS_WITH_AS(kvactor::write_gguf(dir.file("bad.gguf"), w, reference().tok, dtype::f32),
                       doctest::Contains("bad.gguf"), kvactor::model_error);
  const auto small_tok = kvactor::tokenizer::from_sentencepiece("inline", {"<unk>", "<s>", "</s>"}, {}, {}, 1, 2);
  CHECK_THROWS_WITH_AS(kvactor::write_gguf(dir.file("tok.gguf"), reference().weights, small_tok, dtype::f32),
                       doctest::Contains("tokenizer has 3 tokens"), kvactor::model_error);
  auto h = reference().weights;
  h.layers[0].wq = kvactor::convert(h.layers[0].wq, dtype::f16);
  CHECK_THROWS_WITH_AS(kvactor::write_llama2c(dir.file("h.bin"), h), doctest::Contains("f32 only"),
                       kvactor::model_error);
  CHECK_FALSE(std::filesystem::exists(dir.file("bad.gguf")));
  CHECK_FALSE(std::filesystem::exists(dir.file("h.bin")));
  CHECK_THROWS_WITH_AS(kvactor::write_gguf("/nonexistent-dir/x.gguf", reference().weights, reference().tok, dtype::f32),
                       doctest::Contains("/nonexistent-dir/x.gguf"), kvactor::model_error);
}
