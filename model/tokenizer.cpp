#include "model/tokenizer.hpp"

#include <cstdio>
#include <queue>
#include <stdexcept>

#include "model/binary_file.hpp"
#include "model/model.hpp"

namespace kvactor {
namespace {

constexpr std::string_view sentencepiece_space = "\xE2\x96\x81";  // U+2581 LOWER ONE EIGHTH BLOCK

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

// "<0xAB>" -> 0xAB; -1 for any other piece.
int byte_piece_value(std::string_view p) {
  if (p.size() != 6 || p.substr(0, 3) != "<0x" || p[5] != '>') return -1;
  const int hi = hex_digit(p[3]), lo = hex_digit(p[4]);
  return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
}

std::string byte_piece_name(int b) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "<0x%02X>", b);
  return buf;
}

std::string replace_all(std::string s, std::string_view from, std::string_view to) {
  for (std::size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size()))
    s.replace(at, from.size(), to);
  return s;
}

bool is_continuation(unsigned char c) { return (c & 0xC0) == 0x80; }

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
  tok.index(path);
  return tok;
}

tokenizer tokenizer::from_sentencepiece(const std::string& source, std::vector<std::string> pieces,
                                        std::vector<float> scores, std::vector<int32_t> kinds, int32_t bos_id,
                                        int32_t eos_id) {
  const auto n = pieces.size();
  if (n == 0) throw model_error(source + ": tokenizer has no tokens");
  if (n > static_cast<std::size_t>(INT32_MAX)) throw model_error(source + ": tokenizer has too many tokens");
  if (scores.empty()) scores.assign(n, 0.0f);
  if (scores.size() != n)
    throw model_error(source + ": tokenizer has " + std::to_string(n) + " tokens but " +
                      std::to_string(scores.size()) + " scores");
  if (!kinds.empty() && kinds.size() != n)
    throw model_error(source + ": tokenizer has " + std::to_string(n) + " tokens but " +
                      std::to_string(kinds.size()) + " token types");
  const auto in_range = [&](int32_t id) { return id >= 0 && static_cast<std::size_t>(id) < n; };
  if (!in_range(bos_id)) throw model_error(source + ": BOS token id " + std::to_string(bos_id) + " out of range");
  if (!in_range(eos_id)) throw model_error(source + ": EOS token id " + std::to_string(eos_id) + " out of range");
  tokenizer tok;
  tok.pieces_.reserve(n);
  for (auto& p : pieces) tok.pieces_.push_back(replace_all(std::move(p), sentencepiece_space, " "));
  tok.scores_ = std::move(scores);
  tok.bos_id_ = bos_id;
  tok.eos_id_ = eos_id;
  if (!kinds.empty()) {
    tok.kinds_.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
      if (kinds[i] < 1 || kinds[i] > 6)
        throw model_error(source + ": token " + std::to_string(i) + " has unknown token type " +
                          std::to_string(kinds[i]));
      tok.kinds_.push_back(static_cast<token_kind>(kinds[i]));
    }
    tok.unk_id_ = 0;
    for (std::size_t i = 0; i < n; ++i)
      if (tok.kinds_[i] == token_kind::unknown) {
        tok.unk_id_ = static_cast<int32_t>(i);
        break;
      }
  }
  tok.index(source);
  return tok;
}

void tokenizer::index(const std::string&) {
  const auto n = pieces_.size();
  if (kinds_.empty()) {
    kinds_.assign(n, token_kind::normal);
    for (std::size_t i = 0; i < n; ++i)
      if (byte_piece_value(pieces_[i]) >= 0) kinds_[i] = token_kind::byte;
    kinds_[static_cast<std::size_t>(unk_id_)] = token_kind::unknown;
    kinds_[static_cast<std::size_t>(bos_id_)] = token_kind::control;
    kinds_[static_cast<std::size_t>(eos_id_)] = token_kind::control;
  }
  ids_.clear();
  ids_.reserve(n * 2);
  max_piece_length_ = 0;
  for (std::size_t i = 0; i < n; ++i) {
    ids_.emplace(pieces_[i], static_cast<int32_t>(i));  // keeps the lowest id of duplicate pieces
    max_piece_length_ = std::max(max_piece_length_, static_cast<int32_t>(pieces_[i].size()));
  }
  for (int b = 0; b < 256; ++b) {
    const int32_t id = lookup(byte_piece_name(b));
    byte_ids_[static_cast<std::size_t>(b)] = id >= 0 ? id : unk_id_;
  }
}

int32_t tokenizer::lookup(std::string_view s) const {
  auto it = ids_.find(std::string(s));
  return it == ids_.end() ? -1 : it->second;
}

std::vector<int32_t> tokenizer::encode(std::string_view text, bool bos, bool eos) const {
  std::vector<int32_t> tokens;
  tokens.reserve(text.size() + 3);
  if (bos) tokens.push_back(bos_id_);
  if (!text.empty()) {
    // SentencePiece's add_dummy_prefix. run.c assumes " " is a piece; if a
    // vocabulary lacks it we use the space's byte token instead of an invalid id.
    const int32_t space = lookup(" ");
    tokens.push_back(space >= 0 ? space : byte_ids_[' ']);
  }
  // One lookup per UTF-8 code point (at most 4 bytes, as run.c); unknown code
  // points and stray bytes fall back to one byte token per byte.
  std::string buffer;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (!is_continuation(c)) buffer.clear();
    buffer.push_back(static_cast<char>(c));
    const bool next_continues = i + 1 < text.size() && is_continuation(static_cast<unsigned char>(text[i + 1]));
    if (next_continues && buffer.size() < 4) continue;
    const int32_t id = lookup(buffer);
    if (id >= 0) {
      tokens.push_back(id);
    } else {
      for (char b : buffer) tokens.push_back(byte_ids_[static_cast<unsigned char>(b)]);
    }
    buffer.clear();
  }

  // run.c rescans every adjacent pair per merge and takes the first pair with the
  // strictly highest score above -1e10: quadratic in the text (a 64 KiB prompt took
  // 22 s, a 1 MiB request body would take hours on an HTTP thread). A heap ordered by
  // (score, leftmost) over a linked list of symbols makes the same choices in
  // O(n log n); entries made stale by a merge are skipped when popped.
  constexpr std::size_t none = static_cast<std::size_t>(-1);
  const std::size_t n = tokens.size();
  std::vector<std::size_t> prev(n), next(n);
  std::vector<uint32_t> version(n, 0);  // bumped when a symbol changes or is merged away
  for (std::size_t i = 0; i < n; ++i) {
    prev[i] = i == 0 ? none : i - 1;
    next[i] = i + 1 < n ? i + 1 : none;
  }
  struct candidate {
    float score;
    std::size_t left, right;
    uint32_t left_version, right_version;
    int32_t merged;
  };
  const auto lower = [](const candidate& a, const candidate& b) {
    return a.score != b.score ? a.score < b.score : a.left > b.left;
  };
  std::priority_queue<candidate, std::vector<candidate>, decltype(lower)> heap(lower);
  const auto consider = [&](std::size_t left) {
    if (left == none || next[left] == none) return;
    const std::size_t right = next[left];
    const int32_t id = lookup(pieces_[tokens[left]] + pieces_[tokens[right]]);
    if (id < 0 || !(scores_[static_cast<std::size_t>(id)] > -1e10f)) return;
    heap.push({scores_[static_cast<std::size_t>(id)], left, right, version[left], version[right], id});
  };
  for (std::size_t i = 0; i + 1 < n; ++i) consider(i);
  while (!heap.empty()) {
    const candidate c = heap.top();
    heap.pop();
    if (next[c.left] != c.right || version[c.left] != c.left_version || version[c.right] != c.right_version) continue;
    tokens[c.left] = c.merged;
    ++version[c.left];
    ++version[c.right];
    next[c.left] = next[c.right];
    if (next[c.right] != none) prev[next[c.right]] = c.left;
    next[c.right] = none;
    consider(prev[c.left]);
    consider(c.left);
  }
  std::size_t kept = 0;
  for (std::size_t i = n == 0 ? none : 0; i != none; i = next[i]) tokens[kept++] = tokens[i];
  tokens.resize(kept);
  if (eos) tokens.push_back(eos_id_);
  return tokens;
}

std::string tokenizer::decode_piece(int32_t prev_token, int32_t token) const {
  if (token < 0 || token >= vocab_size())
    throw std::out_of_range("token id " + std::to_string(token) + " outside the vocabulary of " +
                            std::to_string(vocab_size()));
  std::string_view p = pieces_[static_cast<std::size_t>(token)];
  // SentencePiece decoding strips the dummy-prefix space after BOS.
  if (prev_token == bos_id_ && !p.empty() && p[0] == ' ') p.remove_prefix(1);
  const int byte = byte_piece_value(p);
  if (byte >= 0) return std::string(1, static_cast<char>(byte));
  return std::string(p);
}

std::string tokenizer::decode(const std::vector<int32_t>& tokens) const {
  std::string out;
  int32_t prev = -1;
  for (int32_t t : tokens) {
    if (t != bos_id_ && t != eos_id_) out += decode_piece(prev, t);
    prev = t;
  }
  return out;
}

}  // namespace kvactor
