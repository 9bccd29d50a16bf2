#include <doctest/doctest.h>

#include <random>
#include <string>
#include <vector>

#include "model/model.hpp"
#include "model/tokenizer.hpp"

using kvactor::tokenizer;

namespace {
const std::string models_dir = KVACTOR_MODELS_DIR;
const tokenizer& tok512() {
  static const tokenizer t = tokenizer::load_llama2c(models_dir + "/tok512.bin", 512);
  return t;
}
using ids = std::vector<int32_t>;
}  // namespace

TEST_CASE("tok512 loads with llama2.c's fixed special ids and byte tokens") {
  const auto& t = tok512();
  CHECK(t.vocab_size() == 512);
  CHECK(t.bos_id() == 1);
  CHECK(t.eos_id() == 2);
  CHECK(t.piece(0) == "<unk>");
  CHECK(t.piece(1) == "\n<s>\n");
  CHECK(t.piece(3) == "<0x00>");
  CHECK(t.piece(258) == "<0xFF>");
  CHECK(t.kind(3) == kvactor::token_kind::byte);
  CHECK(t.kind(1) == kvactor::token_kind::control);
}

// Expected ids come from tests/model/llama2c_encode_reference.py, a line-by-line
// Python transliteration of run.c's encode() (linear vocabulary search, full
// rescan per merge), run on tok512.bin when this test was written:
//   python3 tests/model/llama2c_encode_reference.py tok512.bin 512 "Once upon a time" ...
TEST_CASE("tok512 encodes as run.c does") {
  const auto& t = tok512();
  CHECK(t.encode("Once upon a time", true, false) == ids{1, 403, 407, 261, 378});
  CHECK(t.encode("Hello, world! \xE4\xBD\xA0\xE5\xA5\xBD caf\xC3\xA9", true, false) ==
        ids{1, 346, 306, 414, 432, 263, 304, 341, 443, 410, 231, 192, 163, 232, 168, 192, 280, 412, 431, 485});
  CHECK(t.encode("  leading spaces", true, false) == ids{1, 410, 410, 278, 411, 380, 299, 262, 427, 412, 331, 419});
  CHECK(t.encode("x", true, false) == ids{1, 410, 444});
  CHECK(t.encode("a\tb\nc", true, false) == ids{1, 261, 12, 430, 13, 429});
  CHECK(t.encode("Lily liked the big red ball.", true, false) ==
        ids{1, 317, 397, 355, 265, 370, 352, 266, 268, 388, 426});
}

TEST_CASE("BOS, EOS and the empty text") {
  const auto& t = tok512();
  CHECK(t.encode("", true, false) == ids{1});
  CHECK(t.encode("", false, false).empty());
  CHECK(t.encode("", true, true) == ids{1, 2});
  CHECK(t.encode("Once upon a time", false, true) == ids{403, 407, 261, 378, 2});
}

TEST_CASE("byte fallback uses id byte+3 for characters outside tok512") {
  const auto& t = tok512();
  // U+4F60 is not a tok512 piece: its three UTF-8 bytes become byte tokens.
  const auto got = t.encode("\xE4\xBD\xA0", false, false);
  REQUIRE(got.size() >= 3);
  CHECK(got[got.size() - 3] == 0xE4 + 3);
  CHECK(got[got.size() - 2] == 0xBD + 3);
  CHECK(got[got.size() - 1] == 0xA0 + 3);
}

TEST_CASE("decode follows run.c: leading space dropped after BOS, byte pieces become bytes") {
  const auto& t = tok512();
  CHECK(t.decode_piece(1, 403) == t.piece(403).substr(1));
  CHECK(t.decode_piece(403, 403) == t.piece(403));
  CHECK(t.decode_piece(5, 0x41 + 3) == "A");
  CHECK(t.decode_piece(5, 0xFF + 3) == std::string(1, '\xFF'));
  CHECK(t.decode(ids{1, 403, 407, 261, 378}) == "Once upon a time");
  CHECK_THROWS_AS(t.decode_piece(1, 512), std::out_of_range);
  CHECK_THROWS_AS(t.decode_piece(1, -1), std::out_of_range);
}

TEST_CASE("round trips: decode(encode(text)) == text, including arbitrary bytes") {
  const auto& t = tok512();
  for (const std::string s : {"Once upon a time", "  two leading spaces", "trailing space ", "tab\tnew\nline",
                              "\xE4\xBD\xA0\xE5\xA5\xBD", "caf\xC3\xA9", "x"})
    CHECK(t.decode(t.encode(s, true, false)) == s);
  std::mt19937 rng(1234);
  for (int i = 0; i < 300; ++i) {
    std::string s(static_cast<std::size_t>(rng() % 40 + 1), '\0');
    for (auto& c : s) c = static_cast<char>(rng() % 256);  // mostly invalid UTF-8, NUL bytes included
    const auto enc = t.encode(s, true, true);
    for (auto id : enc) REQUIRE((id >= 0 && id < t.vocab_size()));
    REQUIRE(t.decode(enc) == s);
  }
}

TEST_CASE("invalid UTF-8: stray continuation bytes and over-long sequences") {
  const auto& t = tok512();
  CHECK(t.encode("\x80", false, false).back() == 0x80 + 3);
  const std::string overlong = "\xF0\x80\x80\x80\x80\x80";  // lead byte + 5 continuation bytes
  CHECK(t.decode(t.encode(overlong, true, false)) == overlong);
  const std::string truncated_seq = "a\xE4\xBD";
  CHECK(t.decode(t.encode(truncated_seq, true, false)) == truncated_seq);
}

TEST_CASE("tokenizer file errors name the file") {
  const auto path = models_dir + "/tok512.bin";
  try {
    (void)tokenizer::load_llama2c(path, 600);
    FAIL("expected model_error");
  } catch (const kvactor::model_error& e) {
    CHECK(std::string(e.what()).find(path) != std::string::npos);
    CHECK(std::string(e.what()).find("truncated") != std::string::npos);
  }
  try {
    (void)tokenizer::load_llama2c(path, 300);
    FAIL("expected model_error");
  } catch (const kvactor::model_error& e) {
    CHECK(std::string(e.what()).find("bytes after the 300 tokens") != std::string::npos);
  }
  CHECK_THROWS_WITH_AS(tokenizer::load_llama2c("/nonexistent/tok.bin", 512), doctest::Contains("/nonexistent/tok.bin"),
                       kvactor::model_error);
}
