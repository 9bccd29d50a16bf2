// Pre-tokenizer of byte-level BPE vocabularies: splits text into words with the
// regular expressions Hugging Face's tokenizer.json names for the model family,
// chosen by GGUF `tokenizer.ggml.pre` (llama.cpp's names and regexes). Each regex
// is applied in turn to every piece the previous one produced; stretches a regex
// does not match stay pieces of their own (llama.cpp's unicode_regex_split).
//
// Matching uses PCRE2 in UTF + UCP mode (\p{L}, \p{N}, lookahead). `\s` is
// rewritten to Unicode's White_Space set, which Rust's regex, Oniguruma and
// llama.cpp use (PCRE2's own \s also takes U+180E). Invalid UTF-8 is allowed in
// the text: it never matches, so it ends up in pieces of its own, byte for byte.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace kvactor {

class regex_pretokenizer {
 public:
  // Throws std::invalid_argument for a name it does not know; names() lists them.
  explicit regex_pretokenizer(const std::string& name);
  ~regex_pretokenizer();
  regex_pretokenizer(const regex_pretokenizer&) = delete;
  regex_pretokenizer& operator=(const regex_pretokenizer&) = delete;

  static bool known(const std::string& name);
  static std::string names();  // "llama-bpe, qwen2, ..." for error messages

  const std::string& name() const { return name_; }
  // Whether BPE takes a word that is itself a token as is (llama3's ignore_merges).
  bool ignore_merges() const { return ignore_merges_; }

  // The words of `text`, in order; their concatenation is `text`.
  std::vector<std::string_view> split(std::string_view text) const;

 private:
  struct compiled;
  std::string name_;
  bool ignore_merges_ = false;
  std::vector<std::unique_ptr<compiled>> stages_;
};

}  // namespace kvactor
