// The model stage of SentencePiece BPE (llama2.c, Llama 2, Phi-3): one symbol per
// UTF-8 code point, repeated merges of the adjacent pair whose merged piece has the
// highest score (leftmost on ties), characters outside the vocabulary as <0xXX>
// byte tokens. Pieces are kept in llama2.c's form (' ' for SentencePiece's U+2581).
// Same choices as llama2.c's run.c encode() and llama.cpp's llm_tokenizer_spm.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace kvactor {

class sentencepiece_bpe {
 public:
  sentencepiece_bpe(const std::vector<std::string>& pieces, const std::vector<float>& scores, int32_t unk_id);

  // Appends the tokens of one stretch of text; `dummy_prefix` puts a space in
  // front of it first (SentencePiece's add_dummy_prefix).
  void encode_fragment(std::string_view text, bool dummy_prefix, std::vector<int32_t>& out) const;

  // "<0xAB>" -> 0xAB; -1 for any other piece.
  static int byte_value(std::string_view piece);

 private:
  int32_t lookup(std::string_view s) const;  // -1 when absent

  std::vector<std::string> pieces_;
  std::vector<float> scores_;
  std::unordered_map<std::string, int32_t> ids_;  // piece -> lowest id with that piece
  std::array<int32_t, 256> byte_ids_{};           // byte -> its <0xXX> token (unk if none)
};

}  // namespace kvactor
