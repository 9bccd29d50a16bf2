#include "grammar/regex_to_gbnf.hpp"

#include <cstdio>
#include <vector>

#include "grammar/json_schema.hpp"

namespace kvactor::grammar {
namespace {

constexpr int max_depth = 100;
constexpr const char* json_safe_exclusions = "\"\\\\\\x00-\\x1F";  // GBNF class text: " \ and controls

std::string class_char(uint32_t cp) {
  char buf[16];
  if (cp == '"' || cp == '\\' || cp == ']' || cp == '[' || cp == '-' || cp == '^' || cp < 0x20 || cp == 0x7F) {
    std::snprintf(buf, sizeof buf, "\\U%08X", static_cast<unsigned>(cp));
    return buf;
  }
  std::string out;
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
  return out;
}

// A decoded character as its JSON-encoded form, as a GBNF literal.
std::string json_char_literal(uint32_t cp) {
  if (cp == '"') return gbnf_literal("\\\"");
  if (cp == '\\') return gbnf_literal("\\\\");
  if (cp == '\n') return gbnf_literal("\\n");
  if (cp == '\t') return gbnf_literal("\\t");
  if (cp == '\r') return gbnf_literal("\\r");
  if (cp < 0x20) throw schema_error("pattern: a control character other than \\n \\t \\r");
  return "[" + class_char(cp) + "]";
}

class regex_translator {
 public:
  explicit regex_translator(const std::string& p) : p_(p) {}

  std::string translate() {
    if (p_.size() < 2 || p_.front() != '^' || p_.back() != '$' || (p_.size() >= 3 && p_[p_.size() - 2] == '\\'))
      throw schema_error("pattern '" + p_ + "': only patterns anchored with ^ and $ are supported");
    pos_ = 1;
    end_ = p_.size() - 1;
    std::string out = alternation(0);
    if (pos_ != end_) fail("unexpected ')'");
    return out.empty() ? "\"\"" : out;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw schema_error("pattern '" + p_ + "': " + what + " at offset " + std::to_string(pos_));
  }
  bool more() const { return pos_ < end_; }
  char peek() const { return more() ? p_[pos_] : '\0'; }

  std::string alternation(int depth) {
    if (depth > max_depth) fail("groups nested too deep");
    std::vector<std::string> alts{sequence(depth)};
    while (peek() == '|') {
      ++pos_;
      alts.push_back(sequence(depth));
    }
    if (alts.size() == 1) return alts[0];
    std::string out = "(";
    for (std::size_t i = 0; i < alts.size(); ++i) out += (i ? " | " : "") + (alts[i].empty() ? "\"\"" : alts[i]);
    return out + ")";
  }

  std::string sequence(int depth) {
    std::string out;
    while (more() && peek() != '|' && peek() != ')') {
      std::string a = atom(depth);
      a += quantifier();
      out += (out.empty() ? "" : " ") + a;
    }
    return out;
  }

  uint32_t number() {
    if (!(peek() >= '0' && peek() <= '9')) fail("expected a number in {}");
    uint32_t v = 0;
    while (peek() >= '0' && peek() <= '9') {
      v = v * 10 + static_cast<uint32_t>(peek() - '0');
      if (v > 1000) fail("a repetition count over 1000");
      ++pos_;
    }
    return v;
  }

  std::string quantifier() {
    std::string q;
    const char c = peek();
    if (c == '*' || c == '+' || c == '?') {
      ++pos_;
      q = std::string(1, c);
    } else if (c == '{') {
      ++pos_;
      const uint32_t lo = number();
      q = "{" + std::to_string(lo);
      if (peek() == ',') {
        ++pos_;
        q += ",";
        if (peek() != '}') q += std::to_string(number());
      }
      if (peek() != '}') fail("expected '}'");
      ++pos_;
      q += "}";
    } else {
      return "";
    }
    if (peek() == '?') ++pos_;  // lazy: same language
    if (peek() == '*' || peek() == '+' || peek() == '{') fail("a quantifier after a quantifier");
    return q;
  }

  uint32_t utf8_char() {
    const auto lead = static_cast<uint8_t>(p_[pos_++]);
    if (lead < 0x80) return lead;
    const int extra = lead >= 0xF0 ? 3 : lead >= 0xE0 ? 2 : 1;
    uint32_t cp = lead & (0x3Fu >> extra);
    for (int i = 0; i < extra && more(); ++i) cp = (cp << 6) | (static_cast<uint8_t>(p_[pos_++]) & 0x3F);
    return cp;
  }

  uint32_t hex4() {
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) {
      const char c = peek();
      const int h = c >= '0' && c <= '9'   ? c - '0'
                    : c >= 'a' && c <= 'f' ? c - 'a' + 10
                    : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                           : -1;
      if (h < 0) fail("expected 4 hex digits after \\u");
      v = v * 16 + static_cast<uint32_t>(h);
      ++pos_;
    }
    return v;
  }

  // A class shorthand (\d \w \s and negations) as class text, or empty when `c` is none.
  static std::string shorthand(char c) {
    switch (c) {
      case 'd': return "0-9";
      case 'w': return "a-zA-Z0-9_";
      case 's': return " ";
      default: return "";
    }
  }

  // The code point of a single-character escape (after the backslash).
  uint32_t escaped_char() {
    const char c = p_[pos_++];
    switch (c) {
      case 'n': return '\n';
      case 't': return '\t';
      case 'r': return '\r';
      case 'u': return hex4();
      default: break;
    }
    if (std::string("\\/.-[]{}()*+?|^$\"'").find(c) != std::string::npos) return static_cast<uint8_t>(c);
    --pos_;
    fail(std::string("unsupported escape '\\") + c + "'");
  }

  std::string escape_atom() {
    ++pos_;
    if (!more()) fail("a trailing backslash");
    const char c = peek();
    if (!shorthand(c).empty()) {
      ++pos_;
      return "[" + shorthand(c) + "]";
    }
    if (c == 'D' || c == 'W' || c == 'S') {
      ++pos_;
      return "[^" + shorthand(static_cast<char>(c + 32)) + json_safe_exclusions + "]";
    }
    return json_char_literal(escaped_char());
  }

  std::string class_item_char(bool negated, uint32_t& cp) {
    if (peek() == '\\') {
      ++pos_;
      if (!more()) fail("a trailing backslash");
      if (!shorthand(peek()).empty()) return shorthand(p_[pos_++]);
      cp = escaped_char();
    } else {
      cp = utf8_char();
    }
    if (!negated && (cp == '"' || cp == '\\' || cp < 0x20))
      fail("a class that matches '\"', '\\' or a control character");
    return class_char(cp);
  }

  std::string char_class() {
    ++pos_;
    const bool negated = peek() == '^';
    if (negated) ++pos_;
    std::string body;
    bool first = true;
    while (more() && (peek() != ']' || first)) {
      first = false;
      uint32_t low = 0;
      const std::string item = class_item_char(negated, low);
      body += item;
      if (peek() == '-' && pos_ + 1 < end_ && p_[pos_ + 1] != ']' && item == class_char(low)) {
        ++pos_;
        uint32_t high = 0;
        const std::string upper = class_item_char(negated, high);
        if (upper != class_char(high) || high < low) fail("a bad class range");
        body += "-" + upper;
      }
    }
    if (peek() != ']') fail("an unterminated class");
    ++pos_;
    return negated ? "[^" + body + json_safe_exclusions + "]" : "[" + body + "]";
  }

  std::string atom(int depth) {
    const char c = peek();
    if (c == '(') {
      ++pos_;
      if (peek() == '?') {
        if (pos_ + 1 < end_ && p_[pos_ + 1] == ':')
          pos_ += 2;
        else
          fail("lookaround and named groups are not supported");
      }
      std::string inner = alternation(depth + 1);
      if (peek() != ')') fail("expected ')'");
      ++pos_;
      return "(" + (inner.empty() ? std::string("\"\"") : inner) + ")";
    }
    if (c == '[') return char_class();
    if (c == '.') {
      ++pos_;
      return std::string("[^") + json_safe_exclusions + "]";
    }
    if (c == '\\') return escape_atom();
    if (c == '*' || c == '+' || c == '?' || c == '{') fail(std::string("nothing to repeat before '") + c + "'");
    if (c == '^' || c == '$') fail("an anchor inside the pattern");
    return json_char_literal(utf8_char());
  }

  const std::string& p_;
  std::size_t pos_ = 0;
  std::size_t end_ = 0;
};

}  // namespace

std::string regex_to_gbnf(const std::string& pattern) { return regex_translator(pattern).translate(); }

}  // namespace kvactor::grammar
