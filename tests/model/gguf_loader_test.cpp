#include <doctest/doctest.h>

#include <fstream>
#include <iterator>
#include <sstream>

#include "model/gguf_loader.hpp"
#include "model/gguf_reader.hpp"
#include "model/llama2c_loader.hpp"
#include "model/loader.hpp"
#include "model_test_support.hpp"

using namespace model_test;

namespace {
const std::string llamacpp_gguf = models_dir + "/stories260K-llamacpp-f32.gguf";
}

TEST_CASE("GGUF reader: metadata and tensor directory of llama.cpp's stories260K conversion") {
  kvactor::gguf::reader r(llamacpp_gguf);
  CHECK(r.version() == 3);
  CHECK(r.alignment() == 32);
  CHECK(r.get_string("general.architecture") == "llama");
  CHECK(r.get_uint("llama.embedding_length") == 64);
  CHECK(r.get_float("llama.attention.layer_norm_rms_epsilon", 0) == doctest::Approx(1e-5));
  CHECK(r.get_string_array("tokenizer.ggml.tokens").size() == 512);
  CHECK(r.get_int_array("tokenizer.ggml.token_type")[0] == 2);  // <unk> is type UNKNOWN
  const auto* t = r.find_tensor("blk.0.ffn_down.weight");
  REQUIRE(t != nullptr);
  CHECK(t->ne == std::vector<uint64_t>{172, 64});  // ne[0] = cols (hidden), ne[1] = rows (dim)
  CHECK(r.find_tensor("no.such.tensor") == nullptr);
}

// llama.cpp's convert-llama2c-to-ggml copies the checkpoint's rows unchanged
// (no wq/wk permutation is needed: llama2.c and ggml both rotate adjacent pairs),
// so every tensor must equal the .bin's bit for bit.
TEST_CASE("GGUF from llama.cpp equals stories260K.bin bit for bit") {
  const auto bin = kvactor::load_llama2c(models_dir + "/stories260K.bin");
  const auto gguf = kvactor::load_gguf(llamacpp_gguf);
  check_identical_weights(bin, gguf.weights);
  // That converter writes a separate output matrix (a copy of the embeddings)
  // and a fixed context_length of 128 although the model was trained at 512.
  CHECK_FALSE(gguf.weights.shared_classifier);
  CHECK(gguf.weights.config.max_seq_len == 128);
  CHECK(bin.config.max_seq_len == 512);
}

TEST_CASE("load_model: GGUF with tokenizer from metadata and a max_seq_len override") {
  const auto m = kvactor::load_model(llamacpp_gguf);
  CHECK(m.weights->config.max_seq_len == 128);
  kvactor::load_options opts;
  opts.max_seq_len = 512;
  const auto m512 = kvactor::load_model(llamacpp_gguf, "", opts);
  CHECK(m512.weights->config.max_seq_len == 512);
  // A tokenizer file next to a GGUF model is ignored: the GGUF's own vocabulary wins.
  const auto with_file = kvactor::load_model(llamacpp_gguf, models_dir + "/llama2-tokenizer.bin");
  CHECK(with_file.tok->vocab_size() == 512);
}

TEST_CASE("the GGUF tokenizer encodes like tok512.bin") {
  const auto bin_tok = kvactor::tokenizer::load_llama2c(models_dir + "/tok512.bin", 512);
  const auto gguf_tok = kvactor::load_gguf_tokenizer(llamacpp_gguf);
  REQUIRE(gguf_tok.vocab_size() == 512);
  CHECK(gguf_tok.bos_id() == 1);
  CHECK(gguf_tok.eos_id() == 2);
  int same_pieces = 0;
  for (int32_t i = 0; i < 512; ++i) same_pieces += gguf_tok.piece(i) == bin_tok.piece(i);
  // Only BOS and EOS differ: llama2.c exports them as "\n<s>\n" / "\n</s>\n".
  CHECK(same_pieces == 510);
  CHECK(gguf_tok.piece(261) == " a");  // U+2581 became a space
  for (const char* text : {"Once upon a time", "Lily liked the big red ball.", "  x\ty\n\xC3\xA9\xE4\xBD\xA0"})
    CHECK(gguf_tok.encode(text, true, true) == bin_tok.encode(text, true, true));
}

namespace {
// test-tokenizer-0.cpp's format: inputs separated by "\n__ggml_vocab_test__\n",
// expected ids one line per input (no BOS).
std::vector<std::string> read_inputs(const std::string& path) {
  const std::string raw = read_file(path);
  const std::string sep = "\n__ggml_vocab_test__\n";
  std::vector<std::string> out;
  for (std::size_t pos = 0; pos < raw.size();) {
    const auto next = raw.find(sep, pos);
    if (next == std::string::npos) {
      out.push_back(raw.substr(pos));
      break;
    }
    out.push_back(raw.substr(pos, next - pos));
    pos = next + sep.size();
  }
  return out;
}

// Encodes llama.cpp's test inputs with `tok` and counts exact matches.
int check_llama_spm_vectors(const kvactor::tokenizer& tok) {
  const std::string vocab = models_dir + "/vocab/ggml-vocab-llama-spm.gguf";
  const auto inputs = read_inputs(vocab + ".inp");
  std::istringstream expected_lines(read_file(vocab + ".out"));
  std::string line;
  int cases = 0, matches = 0;
  for (; std::getline(expected_lines, line); ++cases) {
    REQUIRE(static_cast<std::size_t>(cases) < inputs.size());
    std::istringstream ids(line);
    std::vector<int32_t> expected;
    for (int32_t id; ids >> id;) expected.push_back(id);
    const auto got = tok.encode(inputs[static_cast<std::size_t>(cases)], false, false);
    INFO("input #" << cases << ": '" << inputs[static_cast<std::size_t>(cases)] << "'");
    CHECK(got == expected);
    matches += got == expected;
    // Decoding without BOS keeps the dummy-prefix space.
    CHECK(tok.decode(got) ==
          (inputs[static_cast<std::size_t>(cases)].empty() ? "" : " ") + inputs[static_cast<std::size_t>(cases)]);
  }
  CHECK(cases == 46);
  return matches;
}
}  // namespace

// llama.cpp's SentencePiece tokenizer (bigram queue) and run.c's repeated
// best-pair scan agree on all of llama.cpp's Llama 2 test vectors, with the
// vocabulary taken from GGUF metadata or from llama2.c's tokenizer.bin export.
TEST_CASE("llama.cpp tokenizer test vectors (ggml-vocab-llama-spm)") {
  const auto tok = kvactor::load_gguf_tokenizer(models_dir + "/vocab/ggml-vocab-llama-spm.gguf");
  CHECK(tok.vocab_size() == 32000);
  const int matches = check_llama_spm_vectors(tok);
  CHECK(matches == 46);
  MESSAGE("llama.cpp SPM vectors matched (GGUF vocabulary): " << matches << "/46");
}

TEST_CASE("llama.cpp tokenizer test vectors with llama2.c's llama2-tokenizer.bin") {
  const auto tok = kvactor::tokenizer::load_llama2c(models_dir + "/llama2-tokenizer.bin", 32000);
  const int matches = check_llama_spm_vectors(tok);
  CHECK(matches == 46);
  MESSAGE("llama.cpp SPM vectors matched (llama2-tokenizer.bin): " << matches << "/46");
}
