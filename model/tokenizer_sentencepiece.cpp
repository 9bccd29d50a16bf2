#include "model/tokenizer_sentencepiece.hpp"

#include <cstdio>
#include <queue>

namespace kvactor {
namespace {

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

std::string byte_piece_name(int b) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "<0x%02X>", b);
  return buf;
}

bool is_continuation(unsigned char c) { return (c & 0xC0) == 0x80; }

}  // namespace

int sentencepiece_bpe::byte_value(std::string_view p) {
  if (p.size() != 6 || p.substr(0, 3) != "<0x" || p[5] != '>') return -1;
  const int hi = hex_digit(p[3]), lo = hex_digit(p[4]);
  return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
}

sentencepiece_bpe::sentencepiece_bpe(const std::vector<std::string>& pieces, const std::vector<float>& scores,
                                     int32_t unk_id)
    : pieces_(pieces), scores_(scores) {
  ids_.reserve(pieces_.size() * 2);
  for (std::size_t i = 0; i < pieces_.size(); ++i) ids_.emplace(pieces_[i], static_cast<int32_t>(i));
  for (int b = 0; b < 256; ++b) {
    const int32_t id = lookup(byte_piece_name(b));
    byte_ids_[static_cast<std::size_t>(b)] = id >= 0 ? id : unk_id;
  }
}

int32_t sentencepiece_bpe::lookup(std::string_view s) const {
  auto it = ids_.find(std::string(s));
  return it == ids_.end() ? -1 : it->second;
}

void sentencepiece_bpe::encode_fragment(std::string_view text, bool dummy_prefix, std::vector<int32_t>& out) const {
  const std::size_t first = out.size();
  if (dummy_prefix) {
    // run.c assumes " " is a piece; if a vocabulary lacks it we use the space's
    // byte token instead of an invalid id.
    const int32_t space = lookup(" ");
    out.push_back(space >= 0 ? space : byte_ids_[' ']);
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
      out.push_back(id);
    } else {
      for (char b : buffer) out.push_back(byte_ids_[static_cast<unsigned char>(b)]);
    }
    buffer.clear();
  }

  // run.c rescans every adjacent pair per merge and takes the first pair with the
  // strictly highest score above -1e10: quadratic in the text (a 64 KiB prompt took
  // 22 s). A heap ordered by (score, leftmost) over a linked list of symbols makes
  // the same choices in O(n log n); entries made stale by a merge are skipped.
  constexpr std::size_t none = static_cast<std::size_t>(-1);
  int32_t* tokens = out.data() + first;
  const std::size_t n = out.size() - first;
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
    const int32_t id =
        lookup(pieces_[static_cast<std::size_t>(tokens[left])] + pieces_[static_cast<std::size_t>(tokens[right])]);
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
  out.resize(first + kept);
}

}  // namespace kvactor
