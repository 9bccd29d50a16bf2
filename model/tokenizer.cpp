#include "model/tokenizer.hpp"

#include <algorithm>
#include <cctype>

#include "model/binary_file.hpp"
#include "model/model.hpp"
#include "model/tokenizer_bpe.hpp"
#include "model/tokenizer_pretokenizer.hpp"
#include "model/tokenizer_sentencepiece.hpp"
#include "model/tokenizer_special.hpp"

namespace kvactor {
namespace {

constexpr std::string_view sentencepiece_space = "\xE2\x96\x81";  // U+2581 LOWER ONE EIGHTH BLOCK

std::string replace_all(std::string s, std::string_view from, std::string_view to) {
  for (std::size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size()))
    s.replace(at, from.size(), to);
  return s;
}

// Texts of tokens that end generation wherever they appear (llama.cpp's list,
// plus Llama 3's <|end_of_text|>, and Qwen's repository/file separators).
const std::vector<std::string>& end_of_generation_texts() {
  static const std::vector<std::string> texts = {"<|eot_id|>",    "<|im_end|>",   "<|end|>",       "<end_of_turn>",
                                                 "<|endoftext|>", "<|eom_id|>",   "<EOT>",         "<|end_of_text|>",
                                                 "<|fim_pad|>",   "<|fim_repo|>", "<|repo_name|>", "<|file_sep|>"};
  return texts;
}

std::string lowercase(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace

tokenizer tokenizer::load_llama2c(const std::string& path, int32_t vocab_size) {
  if (vocab_size <= 0) throw model_error(path + ": vocabulary size " + std::to_string(vocab_size) + " is not positive");
  binary_file file(path);
  const auto max_len = file.read_value<int32_t>("max_token_length");
  if (max_len <= 0 || max_len > (1 << 20))
    file.fail("max_token_length " + std::to_string(max_len) + " is not a plausible length");
  tokenizer tok;
  tok.pieces_.reserve(static_cast<std::size_t>(std::min<uint64_t>(vocab_size, file.size() / 8)));
  for (int32_t i = 0; i < vocab_size; ++i) {
    const auto score = file.read_value<float>("token score");
    const auto len = file.read_value<int32_t>("token length");
    if (len < 0 || len > max_len)
      file.fail("token " + std::to_string(i) + " has length " + std::to_string(len) + " outside 0.." +
                std::to_string(max_len) + " (max_token_length)");
    const auto bytes = file.read_bytes(static_cast<uint64_t>(len), "token bytes");
    tok.pieces_.emplace_back(bytes.begin(), bytes.end());
    tok.scores_.push_back(score);
  }
  if (file.remaining() != 0)
    file.fail("has " + std::to_string(file.remaining()) + " bytes after the " + std::to_string(vocab_size) +
              " tokens the model's vocabulary size calls for (tokenizer of a different model?)");
  // run.c hard-codes these ids.
  tok.unk_id_ = 0;
  tok.bos_id_ = vocab_size > 1 ? 1 : 0;
  tok.eos_id_ = vocab_size > 2 ? 2 : 0;
  tok.post_ = special_token_adder(tok.bos_id_, tok.eos_id_, true, false);
  tok.finish(path, "");
  return tok;
}

tokenizer tokenizer::from_sentencepiece(const std::string& source, std::vector<std::string> pieces,
                                        std::vector<float> scores, std::vector<int32_t> kinds, int32_t bos_id,
                                        int32_t eos_id) {
  vocabulary_spec spec;
  spec.model = "llama";
  spec.tokens = std::move(pieces);
  spec.scores = std::move(scores);
  spec.types = std::move(kinds);
  spec.bos = bos_id;
  spec.eos = eos_id;
  return from_vocabulary(source, std::move(spec));
}

tokenizer tokenizer::from_vocabulary(const std::string& source, vocabulary_spec spec) {
  const auto fail = [&](const std::string& message) -> void { throw model_error(source + ": " + message); };
  const bool sentencepiece = spec.model == "llama";
  if (!sentencepiece && spec.model != "gpt2")
    fail("tokenizer.ggml.model '" + spec.model + "' is not supported (supported: llama, gpt2)");
  const auto n = spec.tokens.size();
  if (n == 0) fail("tokenizer has no tokens");
  if (n > static_cast<std::size_t>(INT32_MAX)) fail("tokenizer has too many tokens");
  if (spec.scores.empty()) spec.scores.assign(n, 0.0f);
  if (spec.scores.size() != n)
    fail("tokenizer has " + std::to_string(n) + " tokens but " + std::to_string(spec.scores.size()) + " scores");
  if (!spec.types.empty() && spec.types.size() != n)
    fail("tokenizer has " + std::to_string(n) + " tokens but " + std::to_string(spec.types.size()) + " token types");

  tokenizer tok;
  tok.model_name_ = spec.model;
  tok.scores_ = std::move(spec.scores);
  if (!spec.types.empty()) {
    tok.kinds_.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
      if (spec.types[i] < 1 || spec.types[i] > 6)
        fail("token " + std::to_string(i) + " has unknown token type " + std::to_string(spec.types[i]));
      tok.kinds_.push_back(static_cast<token_kind>(spec.types[i]));
    }
  }
  const auto find_text = [&](std::string_view text) -> int32_t {
    for (std::size_t i = 0; i < n; ++i)
      if (spec.tokens[i] == text) return static_cast<int32_t>(i);
    return -1;
  };
  const auto check = [&](const std::optional<int32_t>& id, const char* key) -> void {
    if (id && (*id < 0 || static_cast<std::size_t>(*id) >= n))
      fail(std::string(key) + " " + std::to_string(*id) + " out of range (the vocabulary has " + std::to_string(n) +
           " tokens)");
  };
  check(spec.bos, sentencepiece ? "BOS token id" : "tokenizer.ggml.bos_token_id");
  check(spec.eos, sentencepiece ? "EOS token id" : "tokenizer.ggml.eos_token_id");
  check(spec.unk, "tokenizer.ggml.unknown_token_id");
  check(spec.eot, "tokenizer.ggml.eot_token_id");
  check(spec.eom, "tokenizer.ggml.eom_token_id");
  tok.eot_id_ = spec.eot.value_or(-1);
  tok.eom_id_ = spec.eom.value_or(-1);
  tok.chat_template_ = std::move(spec.chat_template);

  if (sentencepiece) {
    tok.bos_id_ = spec.bos.value_or(1);
    tok.eos_id_ = spec.eos.value_or(2);
    check(tok.bos_id_, "BOS token id");
    check(tok.eos_id_, "EOS token id");
    tok.unk_id_ = spec.unk.value_or(0);
    if (!spec.unk && !tok.kinds_.empty())
      for (std::size_t i = 0; i < n; ++i)
        if (tok.kinds_[i] == token_kind::unknown) {
          tok.unk_id_ = static_cast<int32_t>(i);
          break;
        }
    tok.pieces_.reserve(n);
    for (auto& p : spec.tokens) tok.pieces_.push_back(replace_all(std::move(p), sentencepiece_space, " "));
    tok.add_space_prefix_ = spec.add_space_prefix.value_or(true);
    tok.post_ =
        special_token_adder(tok.bos_id_, tok.eos_id_, spec.add_bos.value_or(true), spec.add_eos.value_or(false));
  } else {
    tok.pre_name_ = spec.pre.empty() ? "default" : spec.pre;
    if (!regex_pretokenizer::known(tok.pre_name_))
      fail("tokenizer.ggml.pre '" + tok.pre_name_ +
           "' is not a supported pre-tokenizer (supported: " + regex_pretokenizer::names() + ")");
    if (spec.merges.empty()) fail("tokenizer.ggml.merges is missing or empty (a gpt2 tokenizer needs its merges)");
    auto pre = std::make_shared<const regex_pretokenizer>(tok.pre_name_);
    try {
      tok.bpe_ = std::make_shared<const byte_level_bpe>(spec.tokens, spec.merges, pre->ignore_merges());
    } catch (const std::invalid_argument& e) {
      fail(std::string("tokenizer.ggml.merges: ") + e.what());
    }
    // Without ids in the file, <|endoftext|> (GPT-2's BOS and EOS) or token 0.
    const int32_t endoftext = std::max(find_text("<|endoftext|>"), 0);
    tok.bos_id_ = spec.bos.value_or(endoftext);
    tok.eos_id_ = spec.eos.value_or(endoftext);
    tok.unk_id_ = spec.unk.value_or(-1);
    tok.add_space_prefix_ = false;
    const bool llama3 = pre->ignore_merges();  // llama.cpp: Llama 3 vocabularies add BOS unless told otherwise
    tok.post_ =
        special_token_adder(tok.bos_id_, tok.eos_id_, spec.add_bos.value_or(llama3), spec.add_eos.value_or(false));
    tok.pre_ = std::move(pre);
    tok.pieces_ = std::move(spec.tokens);
  }
  tok.finish(source, spec.name);
  return tok;
}

void tokenizer::finish(const std::string&, const std::string& general_name) {
  const auto n = pieces_.size();
  if (kinds_.empty()) {
    kinds_.assign(n, token_kind::normal);
    if (model_name_ == "llama")
      for (std::size_t i = 0; i < n; ++i)
        if (sentencepiece_bpe::byte_value(pieces_[i]) >= 0) kinds_[i] = token_kind::byte;
    if (unk_id_ >= 0) kinds_[static_cast<std::size_t>(unk_id_)] = token_kind::unknown;
    kinds_[static_cast<std::size_t>(bos_id_)] = token_kind::control;
    kinds_[static_cast<std::size_t>(eos_id_)] = token_kind::control;
  }
  max_piece_length_ = 0;
  for (const auto& p : pieces_) max_piece_length_ = std::max(max_piece_length_, static_cast<int32_t>(p.size()));

  // End of generation (llama.cpp's special_eog_ids). Tokens found by their text
  // become control tokens, as llama.cpp overrides their type.
  std::vector<int32_t> eog;
  for (int32_t id : {eos_id_, eot_id_, eom_id_})
    if (id >= 0) eog.push_back(id);
  for (std::size_t i = 0; i < n; ++i) {
    const auto& texts = end_of_generation_texts();
    if (std::find(texts.begin(), texts.end(), pieces_[i]) != texts.end()) {
      eog.push_back(static_cast<int32_t>(i));
      kinds_[i] = token_kind::control;
    }
  }
  std::sort(eog.begin(), eog.end());
  eog.erase(std::unique(eog.begin(), eog.end()), eog.end());
  end_of_generation_ = std::move(eog);

  // Phi-3's added tokens strip the whitespace after them (llama.cpp sets the
  // attribute by model name; Hugging Face's tokenizer.json says rstrip).
  const std::string name = lowercase(general_name);
  const bool phi3 = name.find("phi-3") != std::string::npos || name.find("phi3") != std::string::npos;
  std::vector<special_token> specials;
  for (std::size_t i = 0; i < n; ++i) {
    const token_kind k = kinds_[i];
    if (k != token_kind::control && k != token_kind::unknown && k != token_kind::user_defined) continue;
    special_token s{static_cast<int32_t>(i), token_text(static_cast<int32_t>(i)), k != token_kind::user_defined, false,
                    false};
    if (phi3) s.strip_right = s.text == "</s>" || (s.text != "<unk>" && s.text != "<s>" && s.text != "<|endoftext|>");
    specials.push_back(std::move(s));
  }
  specials_ = std::make_shared<const special_token_splitter>(std::move(specials));
  if (model_name_ == "llama") spm_ = std::make_shared<const sentencepiece_bpe>(pieces_, scores_, unk_id_);
}

void tokenizer::check_id(int32_t id) const {
  if (id < 0 || id >= vocab_size())
    throw std::out_of_range("token id " + std::to_string(id) + " outside the vocabulary of " +
                            std::to_string(vocab_size()));
}

bool tokenizer::is_special(int32_t id) const {
  if (id < 0 || id >= vocab_size()) return false;
  const token_kind k = kinds_[static_cast<std::size_t>(id)];
  return k == token_kind::control || k == token_kind::unknown || k == token_kind::user_defined;
}

bool tokenizer::is_end_of_generation(int32_t id) const {
  return std::binary_search(end_of_generation_.begin(), end_of_generation_.end(), id);
}

std::string tokenizer::token_text(int32_t id) const {
  check_id(id);
  const std::string& p = pieces_[static_cast<std::size_t>(id)];
  return spm_ ? replace_all(p, " ", sentencepiece_space) : p;
}

std::vector<int32_t> tokenizer::run(std::string_view text, bool parse_special) const {
  std::vector<int32_t> out;
  out.reserve(text.size() / 3 + 2);
  bool after_special = true;  // SentencePiece: a dummy prefix at the start and after special tokens
  for (const text_fragment& f : specials_->split(text, parse_special)) {
    if (f.token >= 0) {
      out.push_back(f.token);
      after_special = true;
      continue;
    }
    if (spm_) {
      spm_->encode_fragment(f.text, add_space_prefix_ && after_special, out);
    } else {
      for (std::string_view word : pre_->split(f.text)) bpe_->encode_word(word, out);
    }
    after_special = false;
  }
  return out;
}

std::vector<int32_t> tokenizer::tokenize(std::string_view text, bool add_special, bool parse_special) const {
  std::vector<int32_t> out;
  post_.prefix(out, add_special);
  const auto body = run(text, parse_special);
  out.insert(out.end(), body.begin(), body.end());
  post_.suffix(out, add_special);
  return out;
}

std::vector<int32_t> tokenizer::encode(std::string_view text, bool bos, bool eos) const {
  std::vector<int32_t> out;
  if (bos) out.push_back(bos_id_);
  const auto body = run(text, false);
  out.insert(out.end(), body.begin(), body.end());
  if (eos) out.push_back(eos_id_);
  return out;
}

std::string tokenizer::decode_piece(int32_t prev_token, int32_t token) const {
  check_id(token);
  const token_kind k = kinds_[static_cast<std::size_t>(token)];
  if (k == token_kind::control || k == token_kind::unknown) return {};
  const std::string& p = pieces_[static_cast<std::size_t>(token)];
  if (k == token_kind::user_defined) return token_text(token);
  if (spm_) {
    std::string_view v = p;
    // SentencePiece decoding drops the dummy-prefix space encoding put after a special token.
    if (add_space_prefix_ && is_special(prev_token) && !v.empty() && v[0] == ' ') v.remove_prefix(1);
    const int byte = sentencepiece_bpe::byte_value(v);
    if (byte >= 0) return std::string(1, static_cast<char>(byte));
    return std::string(v);
  }
  if (k == token_kind::unused) return {};
  return bpe_->decode_token(p);
}

std::string tokenizer::decode(const std::vector<int32_t>& tokens, bool render_special) const {
  std::string out;
  int32_t prev = -1;
  for (int32_t t : tokens) {
    check_id(t);
    const token_kind k = kinds_[static_cast<std::size_t>(t)];
    if (k == token_kind::control || k == token_kind::unknown) {
      if (render_special) out += token_text(t);
    } else {
      out += decode_piece(prev, t);
    }
    prev = t;
  }
  return out;
}

}  // namespace kvactor
