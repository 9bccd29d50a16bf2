// llama.cpp's tokenizer test vectors (test-tokenizer-0): every input of each
// vocabulary's .inp file, tokenized without BOS/EOS and without parsing special
// tokens, must give exactly the ids of the matching .out line. Plus exact
// round trips on seeded random Unicode, and special-token parsing on and off.
#include <doctest/doctest.h>

#include <chrono>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "model/gguf_loader.hpp"
#include "model/model.hpp"
#include "model/tokenizer.hpp"

using kvactor::tokenizer;

namespace {
const std::string vocab_dir = std::string(KVACTOR_MODELS_DIR) + "/vocab/";
using ids = std::vector<int32_t>;

const tokenizer& vocab(const std::string& name) {
  static std::map<std::string, tokenizer> loaded;
  auto it = loaded.find(name);
  if (it == loaded.end())
    it = loaded.emplace(name, kvactor::load_gguf_tokenizer(vocab_dir + "ggml-vocab-" + name + ".gguf")).first;
  return it->second;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE_MESSAGE(in, "cannot open " << path);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// As test-tokenizer-0.cpp reads them: inputs separated by "\n__ggml_vocab_test__\n"
// (the text after the last separator is one more, empty, input), one .out line each.
std::vector<std::pair<std::string, ids>> read_vectors(const std::string& name) {
  const std::string raw = read_file(vocab_dir + "ggml-vocab-" + name + ".gguf.inp");
  const std::string sep = "\n__ggml_vocab_test__\n";
  std::vector<std::string> inputs;
  for (std::size_t pos = 0; pos < raw.size();) {
    const auto next = raw.find(sep, pos);
    if (next == std::string::npos) {
      inputs.push_back(raw.substr(pos));
      break;
    }
    inputs.push_back(raw.substr(pos, next - pos));
    pos = next + sep.size();
  }
  std::istringstream out(read_file(vocab_dir + "ggml-vocab-" + name + ".gguf.out"));
  std::vector<std::pair<std::string, ids>> cases;
  std::string line;
  for (std::size_t i = 0; std::getline(out, line); ++i) {
    REQUIRE(i < inputs.size());
    std::istringstream numbers(line);
    ids expected;
    for (int32_t id; numbers >> id;) expected.push_back(id);
    cases.emplace_back(inputs[i], expected);
  }
  return cases;
}

void check_vectors(const std::string& name, std::size_t expected_cases) {
  const tokenizer& tok = vocab(name);
  const auto cases = read_vectors(name);
  CHECK(cases.size() == expected_cases);
  int matched = 0;
  for (const auto& c : cases) {
    const std::string& text = c.first;  // (not a structured binding: INFO captures it, clang 14 refuses that)
    const ids& expected = c.second;
    const ids got = tok.tokenize(text, false, false);
    INFO(name << " input '" << text << "'");
    CHECK(got == expected);
    matched += got == expected;
  }
  MESSAGE(name << ": " << matched << "/" << cases.size() << " llama.cpp vectors matched");
}

// Random text mixing ASCII, whitespace runs, Latin-1, Cyrillic, CJK, emoji,
// combining marks and apostrophes: what the pre-tokenizer regexes care about.
std::string random_text(std::mt19937& rng) {
  static const std::vector<std::pair<uint32_t, uint32_t>> ranges = {
      {0x20, 0x7E},   {0x20, 0x20},     {0x0A, 0x0A},     {0x09, 0x0D},       {0xA0, 0xFF},
      {0x400, 0x4FF}, {0x300, 0x36F},   {0x4E00, 0x4FFF}, {0x1F600, 0x1F64F}, {0x27, 0x27},
      {0x30, 0x39},   {0x2000, 0x200D}, {0x3000, 0x3003}, {0xE00, 0xE7F}};
  std::uniform_int_distribution<std::size_t> pick(0, ranges.size() - 1), length(0, 40);
  std::string s;
  for (std::size_t n = length(rng); n > 0; --n) {
    const auto& [lo, hi] = ranges[pick(rng)];
    const uint32_t cp = std::uniform_int_distribution<uint32_t>(lo, hi)(rng);
    if (cp < 0x80) {
      s += static_cast<char>(cp);
    } else if (cp < 0x800) {
      s += static_cast<char>(0xC0 | (cp >> 6));
      s += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      s += static_cast<char>(0xE0 | (cp >> 12));
      s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      s += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      s += static_cast<char>(0xF0 | (cp >> 18));
      s += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      s += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }
  return s;
}

}  // namespace

TEST_CASE("llama.cpp vectors: llama-bpe (Llama 3, byte-level BPE)") { check_vectors("llama-bpe", 46); }
TEST_CASE("llama.cpp vectors: qwen2") { check_vectors("qwen2", 46); }
TEST_CASE("llama.cpp vectors: gpt-2") { check_vectors("gpt-2", 46); }
TEST_CASE("llama.cpp vectors: phi-3 (SentencePiece)") { check_vectors("phi-3", 46); }
TEST_CASE("llama.cpp vectors: llama-spm (SentencePiece)") { check_vectors("llama-spm", 46); }

TEST_CASE("vocabularies load with their model, pre-tokenizer and special tokens") {
  const tokenizer& llama3 = vocab("llama-bpe");
  CHECK(llama3.model_name() == "gpt2");
  CHECK(llama3.pre_tokenizer_name() == "llama-bpe");
  CHECK(llama3.vocab_size() == 128256);
  CHECK(llama3.bos_id() == 128000);
  CHECK(llama3.token_text(128000) == "<|begin_of_text|>");
  CHECK(llama3.add_bos());
  CHECK_FALSE(llama3.add_eos());
  CHECK(llama3.end_of_generation_ids() == ids{128001, 128009});
  CHECK(llama3.chat_template().empty());

  const tokenizer& qwen = vocab("qwen2");
  CHECK(qwen.pre_tokenizer_name() == "qwen2");
  CHECK_FALSE(qwen.add_bos());
  CHECK(qwen.end_of_generation_ids() == ids{151643, 151645});
  CHECK(qwen.chat_template().find("<|im_start|>") != std::string::npos);

  const tokenizer& spm = vocab("llama-spm");
  CHECK(spm.model_name() == "llama");
  CHECK(spm.add_bos());
  CHECK(spm.token_text(1) == "<s>");
  CHECK(spm.token_text(15043) == "\xE2\x96\x81Hello");
  CHECK(spm.end_of_generation_ids() == ids{2});

  const tokenizer& phi3 = vocab("phi-3");
  CHECK(phi3.end_of_generation_ids() == ids{32000, 32007});
  CHECK(phi3.chat_template().find("<|user|>") != std::string::npos);
}

TEST_CASE("add_special adds BOS/EOS only where the vocabulary asks") {
  CHECK(vocab("llama-bpe").tokenize("Hello", true, false) == ids{128000, 9906});
  CHECK(vocab("qwen2").tokenize("Hello", true, false) == vocab("qwen2").tokenize("Hello", false, false));
  CHECK(vocab("llama-spm").tokenize("Hello", true, false) == ids{1, 15043});
  CHECK(vocab("llama-spm").tokenize("", true, false) == ids{1});
  // The older encode(text, bos, eos) adds exactly what it is told.
  CHECK(vocab("qwen2").encode("Hello", true, true) == ids{151643, 9707, 151643});
}

TEST_CASE("special tokens are parsed only when asked; user-defined ones always") {
  const tokenizer& llama3 = vocab("llama-bpe");
  const std::string text = "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>";
  const ids parsed = llama3.tokenize(text, false, true);
  CHECK(parsed == ids{128006, 882, 128007, 271, 13347, 128009});
  const ids plain = llama3.tokenize(text, false, false);
  for (int32_t id : plain) CHECK(id < 128000);
  CHECK(plain.size() > parsed.size());
  // Both decode back to the text: special tokens rendered as their text on request.
  CHECK(llama3.decode(parsed, true) == text);
  CHECK(llama3.decode(plain) == text);
  CHECK(llama3.decode(parsed) == "user\n\nHi");  // control tokens are not text

  const tokenizer& qwen = vocab("qwen2");
  CHECK(qwen.tokenize("<|im_start|>user\nHi<|im_end|>", false, true) == ids{151644, 872, 198, 13048, 151645});
  CHECK(qwen.tokenize("a[PAD151646]b", false, false) == ids{64, 151646, 65});  // user-defined

  const tokenizer& spm = vocab("llama-spm");
  CHECK(spm.tokenize("<s>Hi", false, true) == ids{1, 6324});
  CHECK(spm.tokenize("<s>Hi", false, false) != ids{1, 6324});
  CHECK(spm.decode(spm.tokenize("<s>Hi", false, true), true) == "<s>Hi");

  // Phi-3's added tokens eat the whitespace after them (rstrip), as in Hugging Face.
  const tokenizer& phi3 = vocab("phi-3");
  const ids turn = phi3.tokenize("<|user|>\nHi<|end|>\n", false, true);
  REQUIRE(turn.size() >= 3);
  CHECK(turn.front() == 32010);
  CHECK(turn.back() == 32007);
}

TEST_CASE("decode is the exact inverse of tokenize on random Unicode and on invalid UTF-8") {
  std::mt19937 rng(20261204);
  for (const char* name : {"llama-bpe", "qwen2", "gpt-2"}) {
    const tokenizer& tok = vocab(name);
    for (int i = 0; i < 150; ++i) {
      const std::string text = random_text(rng);
      const ids got = tok.tokenize(text, false, false);
      INFO(name << " text '" << text << "'");
      CHECK(tok.decode(got) == text);
      // Streaming: concatenated single-token pieces are the same bytes.
      std::string streamed;
      int32_t prev = -1;
      for (int32_t t : got) streamed += tok.decode_piece(prev, t), prev = t;
      CHECK(streamed == text);
    }
    const std::string invalid = "ok \xFF\xC3 \xE2\x82 end\x80";
    CHECK(tok.decode(tok.tokenize(invalid, false, false)) == invalid);
  }
  for (const char* name : {"llama-spm", "phi-3"}) {
    const tokenizer& tok = vocab(name);
    for (int i = 0; i < 150; ++i) {
      const std::string text = random_text(rng);
      INFO(name << " text '" << text << "'");
      // SentencePiece: the dummy-prefix space is dropped after BOS.
      CHECK(tok.decode(tok.tokenize(text, true, false)) == text);
    }
  }
}

TEST_CASE("a multi-byte character split across byte-level tokens decodes whole only when joined") {
  const tokenizer& tok = vocab("llama-bpe");
  const ids llama = tok.tokenize(" \xF0\x9F\xA6\x99", false, false);  // " 🦙": 11410 99 247
  REQUIRE(llama == ids{11410, 99, 247});
  CHECK(tok.decode_piece(-1, 11410) == " \xF0\x9F");
  CHECK(tok.decode_piece(11410, 99) == "\xA6");
  CHECK(tok.decode_piece(99, 247) == "\x99");
}

TEST_CASE("an unknown pre-tokenizer or tokenizer model is refused, naming the key and value") {
  kvactor::vocabulary_spec spec;
  spec.model = "gpt2";
  spec.pre = "no-such-pre";
  spec.tokens = {"a", "b", "ab"};
  spec.merges = {"a b"};
  try {
    (void)tokenizer::from_vocabulary("x.gguf", spec);
    FAIL("loaded");
  } catch (const kvactor::model_error& e) {
    CHECK(std::string(e.what()).find("x.gguf: tokenizer.ggml.pre 'no-such-pre' is not a supported pre-tokenizer") == 0);
  }
  spec.pre = "gpt-2";
  const tokenizer tiny = tokenizer::from_vocabulary("x.gguf", spec);
  CHECK(tiny.tokenize("ab", false, false) == ids{2});
  spec.merges = {"ab"};
  CHECK_THROWS_WITH_AS(tokenizer::from_vocabulary("x.gguf", spec),
                       doctest::Contains("tokenizer.ggml.merges: merge 0 ('ab')"), kvactor::model_error);
  spec.model = "bert";
  CHECK_THROWS_WITH_AS(tokenizer::from_vocabulary("x.gguf", spec),
                       doctest::Contains("tokenizer.ggml.model 'bert' is not supported"), kvactor::model_error);
}

TEST_CASE("throughput on 256 KiB of mixed text (reported, and the round trip checked)") {
  std::mt19937 rng(7);
  std::string text;
  while (text.size() < (256u << 10)) text += random_text(rng) + " The quick brown fox, it's 2026.\n";
  for (const char* name : {"llama-bpe", "qwen2", "llama-spm"}) {
    const tokenizer& tok = vocab(name);
    const auto start = std::chrono::steady_clock::now();
    const ids got = tok.tokenize(text, false, false);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    CHECK(tok.decode(got, true).size() >= text.size());
    MESSAGE(std::string(name) << ": " << text.size() / 1024 << " KiB -> " << got.size() << " tokens in " << s * 1e3
                              << " ms (" << text.size() / s / 1e6 << " MB/s)");
  }
}
