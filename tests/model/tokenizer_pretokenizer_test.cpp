// The regex pre-tokenizers on their own: how each family splits words.
#include <doctest/doctest.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "model/tokenizer_pretokenizer.hpp"

using kvactor::regex_pretokenizer;
using words = std::vector<std::string>;

namespace {
words split(const std::string& name, const std::string& text) {
  const regex_pretokenizer pre(name);
  words out;
  for (auto w : pre.split(text)) out.emplace_back(w);
  return out;
}
}  // namespace

TEST_CASE("Llama 3 groups digits by three, Qwen2 splits them, SmolLM splits them before GPT-2's regex") {
  CHECK(split("llama-bpe", "x 12345") == words{"x", " ", "123", "45"});
  CHECK(split("qwen2", "x 123") == words{"x", " ", "1", "2", "3"});
  CHECK(split("gpt-2", "x 123") == words{"x", " 123"});
  CHECK(split("smollm", "abc 123 it's") == words{"abc", " ", "1", "2", "3", " it", "'s"});
}

TEST_CASE("contractions, punctuation runs, newlines and trailing spaces") {
  CHECK(split("llama-bpe", "I'M here!!\n\n  ok  ") == words{"I", "'M", " here", "!!\n\n", " ", " ok", "  "});
  CHECK(split("gpt-2", "I'M here") == words{"I", "'", "M", " here"});  // GPT-2's contractions are lower-case only
  CHECK(split("qwen2", "a\r\n\r\nb") == words{"a", "\r\n\r\n", "b"});
}

TEST_CASE("Unicode letters and White_Space, and invalid UTF-8 kept byte for byte") {
  CHECK(split("llama-bpe", "\xD0\xBD\xD0\xB5 \xE4\xBD\xA0\xE5\xA5\xBD") ==
        words{"\xD0\xBD\xD0\xB5", " \xE4\xBD\xA0\xE5\xA5\xBD"});
  // U+3000 (ideographic space) is White_Space; U+180E is not (PCRE2's own \s would say it is).
  CHECK(split("gpt-2",
              "a\xE3\x80\x80\xE3\x80\x80"
              "b") == words{"a", "\xE3\x80\x80", "\xE3\x80\x80", "b"});
  CHECK(split("gpt-2",
              "a \xE1\xA0\x8E"
              "b") == words{"a", " \xE1\xA0\x8E", "b"});
  const words bad = split("llama-bpe",
                          "ab\xFF"
                          "cd");
  std::string joined;
  for (const auto& w : bad) joined += w;
  CHECK(joined ==
        "ab\xFF"
        "cd");
}

TEST_CASE("an unknown pre-tokenizer name is refused") {
  CHECK_FALSE(regex_pretokenizer::known("no-such"));
  CHECK_THROWS_AS(regex_pretokenizer("no-such"), std::invalid_argument);
  CHECK(regex_pretokenizer::names().find("llama-bpe") != std::string::npos);
}
