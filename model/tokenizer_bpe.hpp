// The model stage of byte-level BPE (GPT-2, Llama 3, Qwen2, SmolLM): a word's
// bytes are mapped to printable code points (GPT-2's bytes_to_unicode, so that
// vocabulary entries are text), then adjacent symbols are merged lowest merge
// rank first (leftmost on ties) until no ranked pair is left, and each symbol is
// looked up in the vocabulary. Decoding maps a token's code points back to bytes.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace kvactor {

class byte_level_bpe {
 public:
  // `tokens` and `merges` in GGUF form ("Ġ t": the two parts, space-separated).
  // Throws std::invalid_argument naming a malformed merge.
  byte_level_bpe(const std::vector<std::string>& tokens, const std::vector<std::string>& merges, bool ignore_merges);

  // Appends the tokens of one pre-tokenized word (raw bytes).
  void encode_word(std::string_view word, std::vector<int32_t>& out) const;

  // The raw bytes a normal token stands for.
  std::string decode_token(std::string_view token_text) const;

  // A raw byte's printable code point, UTF-8 encoded (GPT-2's bytes_to_unicode).
  static const std::string& byte_symbol(unsigned char b);

 private:
  int32_t lookup(const std::string& text) const;  // -1 when absent
  int rank(std::string& key, std::string_view left, std::string_view right) const;

  std::unordered_map<std::string, int32_t> ids_;
  std::unordered_map<std::string, int> ranks_;  // "left right" -> merge rank
  bool ignore_merges_;
};

}  // namespace kvactor
