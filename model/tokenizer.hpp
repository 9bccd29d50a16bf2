// SentencePiece-style BPE tokenizer, encoding and decoding exactly as llama2.c's
// run.c does (encode(), decode()). Pieces are kept in llama2.c's form: a space is
// ' ', not SentencePiece's U+2581, so vocabularies from GGUF metadata (which use
// U+2581) are converted on load and the same algorithm serves both formats.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace kvactor {

// GGUF tokenizer.ggml.token_type values (llama.cpp's llama_token_type).
enum class token_kind : int32_t { normal = 1, unknown = 2, control = 3, user_defined = 4, unused = 5, byte = 6 };

class tokenizer {
 public:
  // llama2.c tokenizer.bin: int32 max_token_length, then vocab_size times
  // {float score, int32 length, length bytes}. Throws model_error naming the file.
  static tokenizer load_llama2c(const std::string& path, int32_t vocab_size);

  // From GGUF-style arrays. Pieces use U+2581 for space (converted here); `kinds`
  // may be empty (then inferred: <0xXX> pieces are bytes, bos/eos control).
  // `source` names the file in error messages.
  static tokenizer from_sentencepiece(const std::string& source, std::vector<std::string> pieces,
                                      std::vector<float> scores, std::vector<int32_t> kinds, int32_t bos_id,
                                      int32_t eos_id);

  // BOS (if asked), a dummy-prefix space for non-empty text, one token per UTF-8
  // code point (or its bytes' fallback tokens), then repeated merges of the
  // highest-scoring adjacent pair (leftmost on ties), then EOS (if asked).
  // Any byte sequence is accepted: invalid UTF-8 bytes go to byte tokens.
  std::vector<int32_t> encode(std::string_view text, bool bos, bool eos) const;

  // run.c decode(): the token's piece; after BOS a leading space is dropped;
  // a <0xXX> piece becomes that raw byte. Throws std::out_of_range for a bad id.
  std::string decode_piece(int32_t prev_token, int32_t token) const;

  // Concatenated decode_piece() with the previous token tracked; BOS and EOS
  // themselves produce no text (they are control tokens, not text).
  std::string decode(const std::vector<int32_t>& tokens) const;

  int32_t bos_id() const { return bos_id_; }
  int32_t eos_id() const { return eos_id_; }
  int32_t vocab_size() const { return static_cast<int32_t>(pieces_.size()); }
  const std::string& piece(int32_t id) const { return pieces_.at(static_cast<std::size_t>(id)); }
  float score(int32_t id) const { return scores_.at(static_cast<std::size_t>(id)); }
  token_kind kind(int32_t id) const { return kinds_.at(static_cast<std::size_t>(id)); }
  // The longest piece in bytes (llama2.c's max_token_length).
  int32_t max_piece_length() const { return max_piece_length_; }

 private:
  tokenizer() = default;
  void index(const std::string& source);
  int32_t lookup(std::string_view s) const;  // -1 when absent

  std::vector<std::string> pieces_;
  std::vector<float> scores_;
  std::vector<token_kind> kinds_;
  std::unordered_map<std::string, int32_t> ids_;  // piece -> lowest id with that piece
  std::array<int32_t, 256> byte_ids_{};           // byte -> its <0xXX> token (unk if none)
  int32_t bos_id_ = 1;
  int32_t eos_id_ = 2;
  int32_t unk_id_ = 0;
  int32_t max_piece_length_ = 0;
};

}  // namespace kvactor
