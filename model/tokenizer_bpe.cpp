#include "model/tokenizer_bpe.hpp"
#include "model/utf8_length.hpp"

#include <array>
#include <queue>
#include <stdexcept>

namespace kvactor {
namespace {

std::string utf8_of(uint32_t cp) {
  std::string s;
  if (cp < 0x80) {
    s += static_cast<char>(cp);
  } else if (cp < 0x800) {
    s += static_cast<char>(0xC0 | (cp >> 6));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    s += static_cast<char>(0xE0 | (cp >> 12));
    s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  }
  return s;
}

// GPT-2's bytes_to_unicode: printable Latin-1 bytes stand for themselves, the
// other 68 bytes take U+0100.. in byte order.
std::array<uint32_t, 256> byte_code_points() {
  std::array<uint32_t, 256> cps{};
  uint32_t next = 256;
  for (uint32_t b = 0; b < 256; ++b) {
    const bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
    cps[b] = printable ? b : next++;
  }
  return cps;
}

const std::array<std::string, 256>& byte_symbols() {
  static const std::array<std::string, 256> symbols = [] {
    std::array<std::string, 256> s;
    const auto cps = byte_code_points();
    for (std::size_t b = 0; b < 256; ++b) s[b] = utf8_of(cps[b]);
    return s;
  }();
  return symbols;
}

// Code point (< 0x144) -> byte, -1 for code points bytes_to_unicode never yields.
const std::array<int, 0x144>& code_point_bytes() {
  static const std::array<int, 0x144> bytes = [] {
    std::array<int, 0x144> t;
    t.fill(-1);
    const auto cps = byte_code_points();
    for (int b = 0; b < 256; ++b) t[cps[static_cast<std::size_t>(b)]] = b;
    return t;
  }();
  return bytes;
}

}  // namespace

const std::string& byte_level_bpe::byte_symbol(unsigned char b) { return byte_symbols()[b]; }

byte_level_bpe::byte_level_bpe(const std::vector<std::string>& tokens, const std::vector<std::string>& merges,
                               bool ignore_merges)
    : ignore_merges_(ignore_merges) {
  ids_.reserve(tokens.size() * 2);
  for (std::size_t i = 0; i < tokens.size(); ++i) ids_[tokens[i]] = static_cast<int32_t>(i);  // last wins, as llama.cpp
  ranks_.reserve(merges.size() * 2);
  for (std::size_t i = 0; i < merges.size(); ++i) {
    const std::string& m = merges[i];
    const auto space = m.find(' ', 1);
    if (space == std::string::npos || space + 1 >= m.size())
      throw std::invalid_argument("merge " + std::to_string(i) + " ('" + m + "') is not two space-separated parts");
    ranks_.emplace(m, static_cast<int>(i));  // the first of duplicate merges keeps its rank
  }
}

int32_t byte_level_bpe::lookup(const std::string& text) const {
  const auto it = ids_.find(text);
  return it == ids_.end() ? -1 : it->second;
}

int byte_level_bpe::rank(std::string& key, std::string_view left, std::string_view right) const {
  key.assign(left);
  key += ' ';
  key.append(right);
  const auto it = ranks_.find(key);
  return it == ranks_.end() ? -1 : it->second;
}

void byte_level_bpe::encode_word(std::string_view word, std::vector<int32_t>& out) const {
  if (word.empty()) return;
  std::string text;  // the word in byte symbols
  text.reserve(word.size() * 2);
  for (char c : word) text += byte_symbol(static_cast<unsigned char>(c));
  if (ignore_merges_) {
    const int32_t id = lookup(text);
    if (id >= 0) {
      out.push_back(id);
      return;
    }
  }
  // Symbols are spans of `text` in a linked list; a merge grows the left span.
  struct symbol {
    std::size_t start, length;
    int prev, next;
  };
  std::vector<symbol> symbols;
  symbols.reserve(word.size());
  for (std::size_t at = 0; at < text.size();) {
    const std::size_t n = utf8_length(static_cast<unsigned char>(text[at]));
    const int index = static_cast<int>(symbols.size());
    symbols.push_back({at, n, index - 1, at + n < text.size() ? index + 1 : -1});
    at += n;
  }
  struct pair {
    int rank, left, right;
    std::size_t length;  // of the merged text: tells a stale entry (a side has changed)
  };
  const auto later = [](const pair& a, const pair& b) { return a.rank != b.rank ? a.rank > b.rank : a.left > b.left; };
  std::priority_queue<pair, std::vector<pair>, decltype(later)> queue(later);
  std::string key;
  const auto consider = [&](int left, int right) {
    if (left < 0 || right < 0) return;
    const symbol& l = symbols[static_cast<std::size_t>(left)];
    const symbol& r = symbols[static_cast<std::size_t>(right)];
    const int k =
        rank(key, std::string_view(text).substr(l.start, l.length), std::string_view(text).substr(r.start, r.length));
    if (k >= 0) queue.push({k, left, right, l.length + r.length});
  };
  for (std::size_t i = 1; i < symbols.size(); ++i) consider(static_cast<int>(i) - 1, static_cast<int>(i));
  while (!queue.empty()) {
    const pair p = queue.top();
    queue.pop();
    symbol& l = symbols[static_cast<std::size_t>(p.left)];
    symbol& r = symbols[static_cast<std::size_t>(p.right)];
    if (l.length == 0 || r.length == 0 || l.next != p.right || l.length + r.length != p.length) continue;
    l.length += r.length;
    r.length = 0;
    l.next = r.next;
    if (r.next >= 0) symbols[static_cast<std::size_t>(r.next)].prev = p.left;
    consider(l.prev, p.left);
    consider(p.left, l.next);
  }
  for (int i = 0; i >= 0; i = symbols[static_cast<std::size_t>(i)].next) {
    const symbol& s = symbols[static_cast<std::size_t>(i)];
    const std::string piece = text.substr(s.start, s.length);
    const int32_t id = lookup(piece);
    if (id >= 0) {
      out.push_back(id);
      continue;
    }
    // A vocabulary without some byte symbol: llama.cpp tries each byte of the
    // symbol's text as a token and drops what it cannot find.
    for (char c : piece) {
      const int32_t b = lookup(std::string(1, c));
      if (b >= 0) out.push_back(b);
    }
  }
}

std::string byte_level_bpe::decode_token(std::string_view token_text) const {
  std::string out;
  out.reserve(token_text.size());
  const auto& bytes = code_point_bytes();
  for (std::size_t at = 0; at < token_text.size();) {
    const auto lead = static_cast<unsigned char>(token_text[at]);
    const std::size_t n = std::min(utf8_length(lead), token_text.size() - at);
    uint32_t cp = lead;
    if (n == 2) cp = ((lead & 0x1Fu) << 6) | (static_cast<unsigned char>(token_text[at + 1]) & 0x3Fu);
    if (n == 2 && cp < bytes.size() && bytes[cp] >= 0) {
      out += static_cast<char>(bytes[cp]);
    } else if (n == 1 && lead < 0x80 && bytes[lead] >= 0) {
      out += static_cast<char>(bytes[lead]);
    } else {
      out.append(token_text.substr(at, n));  // not a byte symbol: kept as the text it is
    }
    at += n;
  }
  return out;
}

}  // namespace kvactor
