// The tokenizer of a model, as a pipeline of small stages (Hugging Face's names):
//   special-token splitter -> pre-tokenizer -> model -> post-processor, and back:
//   token -> piece bytes.
// Two models, chosen by the vocabulary (GGUF tokenizer.ggml.model):
//   "llama": SentencePiece BPE with byte fallback (llama2.c, Llama 2, Phi-3);
//            encoding is run.c's / llama.cpp's. No pre-tokenizer; a dummy-prefix
//            space goes in front of the text and after each special token.
//   "gpt2":  byte-level BPE (GPT-2, Llama 3, Qwen2, SmolLM) with the regex
//            pre-tokenizer named by tokenizer.ggml.pre (tokenizer_pretokenizer.hpp).
// SentencePiece pieces are kept in llama2.c's form: a space is ' ', not U+2581
// (converted on load; token_text() gives the GGUF form back).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "model/tokenizer_postprocessor.hpp"

namespace kvactor {

class sentencepiece_bpe;
class byte_level_bpe;
class regex_pretokenizer;
class special_token_splitter;

// GGUF tokenizer.ggml.token_type values (llama.cpp's llama_token_type).
enum class token_kind : int32_t { normal = 1, unknown = 2, control = 3, user_defined = 4, unused = 5, byte = 6 };

// A vocabulary as GGUF metadata describes it (tokenizer_gguf.cpp reads it).
struct vocabulary_spec {
  std::string model = "llama";      // tokenizer.ggml.model: "llama" or "gpt2"
  std::string pre;                  // tokenizer.ggml.pre ("" = "default")
  std::string name;                 // general.name (Phi-3's special tokens eat the spaces after them)
  std::vector<std::string> tokens;  // GGUF form (U+2581 for space in SentencePiece pieces)
  std::vector<float> scores;        // may be empty
  std::vector<int32_t> types;       // token_kind values; may be empty
  std::vector<std::string> merges;  // "gpt2" only: "left right", rank = index
  std::optional<int32_t> bos, eos, unk, eot, eom;
  std::optional<bool> add_bos, add_eos, add_space_prefix;
  std::string chat_template;  // tokenizer.chat_template
};

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

  // Any supported vocabulary; throws model_error naming `source` and the bad key
  // (e.g. an unknown tokenizer.ggml.pre).
  static tokenizer from_vocabulary(const std::string& source, vocabulary_spec spec);

  // Text to ids, as llama.cpp's llama_tokenize: `add_special` adds BOS/EOS where
  // the vocabulary asks for them (add_bos() / add_eos()); `parse_special` turns
  // control-token texts in `text` ("<|eot_id|>") into those tokens — on for
  // rendered chat templates, off for user text. User-defined tokens are always
  // recognised. Any byte sequence is accepted.
  std::vector<int32_t> tokenize(std::string_view text, bool add_special, bool parse_special) const;

  // The older form: BOS / EOS exactly when asked, whatever the vocabulary says;
  // special-token texts are not parsed.
  std::vector<int32_t> encode(std::string_view text, bool bos, bool eos) const;

  // One token's text as raw bytes (may be part of a UTF-8 character). Control
  // tokens give "" (they are not text); SentencePiece drops the dummy-prefix
  // space after a special token (BOS); <0xXX> pieces become that byte.
  // Throws std::out_of_range for a bad id.
  std::string decode_piece(int32_t prev_token, int32_t token) const;

  // Concatenated decode_piece() with the previous token tracked. With
  // `render_special`, control tokens give their text ("<|eot_id|>") instead of "",
  // so that decode(tokenize(t, false, true), true) == t.
  std::string decode(const std::vector<int32_t>& tokens) const { return decode(tokens, false); }
  std::string decode(const std::vector<int32_t>& tokens, bool render_special) const;

  // The token's text in GGUF form: "<|begin_of_text|>", "<s>", "▁the", "Ġthe".
  std::string token_text(int32_t id) const;

  int32_t bos_id() const { return bos_id_; }
  int32_t eos_id() const { return eos_id_; }
  bool add_bos() const { return post_.add_bos(); }
  bool add_eos() const { return post_.add_eos(); }
  // Tokens that end generation, as llama.cpp decides: EOS, EOT, EOM and control
  // tokens such as <|eot_id|>, <|eom_id|>, <|im_end|>, <|end|>, <|endoftext|>,
  // <end_of_turn>, <|end_of_text|>. Sorted, no duplicates.
  const std::vector<int32_t>& end_of_generation_ids() const { return end_of_generation_; }
  bool is_end_of_generation(int32_t id) const;
  // GGUF tokenizer.chat_template; "" when the file has none.
  const std::string& chat_template() const { return chat_template_; }
  // "llama" (SentencePiece) or "gpt2" (byte-level BPE), and the pre-tokenizer's name.
  const std::string& model_name() const { return model_name_; }
  const std::string& pre_tokenizer_name() const { return pre_name_; }

  int32_t vocab_size() const { return static_cast<int32_t>(pieces_.size()); }
  const std::string& piece(int32_t id) const { return pieces_.at(static_cast<std::size_t>(id)); }
  float score(int32_t id) const { return scores_.at(static_cast<std::size_t>(id)); }
  token_kind kind(int32_t id) const { return kinds_.at(static_cast<std::size_t>(id)); }
  // The longest piece in bytes (llama2.c's max_token_length).
  int32_t max_piece_length() const { return max_piece_length_; }

 private:
  tokenizer() = default;
  void finish(const std::string& source, const std::string& general_name);
  void check_id(int32_t id) const;
  bool is_special(int32_t id) const;  // control, unknown or user-defined
  std::vector<int32_t> run(std::string_view text, bool parse_special) const;

  std::string model_name_ = "llama";
  std::string pre_name_;
  std::vector<std::string> pieces_;
  std::vector<float> scores_;
  std::vector<token_kind> kinds_;
  int32_t bos_id_ = 1;
  int32_t eos_id_ = 2;
  int32_t unk_id_ = 0;
  int32_t eot_id_ = -1;
  int32_t eom_id_ = -1;
  int32_t max_piece_length_ = 0;
  bool add_space_prefix_ = true;
  special_token_adder post_;
  std::vector<int32_t> end_of_generation_;
  std::string chat_template_;
  std::shared_ptr<const special_token_splitter> specials_;
  std::shared_ptr<const regex_pretokenizer> pre_;
  std::shared_ptr<const sentencepiece_bpe> spm_;
  std::shared_ptr<const byte_level_bpe> bpe_;
};

}  // namespace kvactor
