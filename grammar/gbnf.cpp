#include "grammar/gbnf.hpp"

#include <algorithm>
#include <cstdio>
#include <utility>

namespace kvactor::grammar {
namespace {

constexpr uint32_t unbounded = UINT32_MAX;
constexpr int max_nesting = 200;

bool is_word_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

class gbnf_parser {
 public:
  explicit gbnf_parser(std::string_view source) : src_(source) {}

  grammar parse(std::string_view root_name) {
    skip_space(true);
    while (!at_end()) parse_rule();
    check_defined();
    auto root = ids_.find(std::string(root_name));
    if (root == ids_.end()) fail("the grammar has no rule '" + std::string(root_name) + "'", src_.size());
    g_.root = root->second;
    check_left_recursion();
    return std::move(g_);
  }

 private:
  [[noreturn]] void fail(const std::string& message, std::size_t at) const {
    at = std::min(at, src_.size());
    std::size_t line = 1, column = 1;
    for (std::size_t i = 0; i < at; ++i) {
      if (src_[i] == '\n')
        ++line, column = 1;
      else
        ++column;
    }
    throw grammar_error("line " + std::to_string(line) + ", column " + std::to_string(column) + ": " + message, at);
  }

  bool at_end() const { return pos_ >= src_.size(); }
  char peek(std::size_t ahead = 0) const { return pos_ + ahead < src_.size() ? src_[pos_ + ahead] : '\0'; }

  void skip_space(bool newline_ok) {
    while (!at_end()) {
      const char c = peek();
      if (c == '#') {
        while (!at_end() && peek() != '\n' && peek() != '\r') ++pos_;
      } else if (c == ' ' || c == '\t') {
        ++pos_;
      } else if ((c == '\n' || c == '\r') && newline_ok) {
        ++pos_;
      } else {
        break;
      }
    }
  }

  uint32_t symbol(const std::string& name, std::size_t at) {
    auto [it, inserted] = ids_.emplace(name, static_cast<uint32_t>(g_.rules.size()));
    if (inserted) {
      g_.rules.emplace_back();
      g_.names.push_back(name);
      defined_.push_back(false);
      first_use_.push_back(at);
    }
    return it->second;
  }

  uint32_t generate(const std::string& base) {
    const auto id = static_cast<uint32_t>(g_.rules.size());
    g_.rules.emplace_back();
    g_.names.push_back(base + "-g" + std::to_string(id));
    defined_.push_back(true);
    first_use_.push_back(pos_);
    return id;
  }

  void store(uint32_t id, std::vector<element> elements) {
    total_ += elements.size();
    if (total_ > max_grammar_elements) fail("the grammar is too large (over 2^20 elements)", pos_);
    g_.rules[id] = std::move(elements);
  }

  std::string parse_name() {
    const std::size_t start = pos_;
    while (!at_end() && is_word_char(peek())) ++pos_;
    if (pos_ == start) fail("expected a rule name", start);
    return std::string(src_.substr(start, pos_ - start));
  }

  uint32_t parse_hex(int digits) {
    uint32_t value = 0;
    for (int i = 0; i < digits; ++i) {
      const int h = hex_value(peek());
      if (h < 0) fail("expected " + std::to_string(digits) + " hex digits in an escape", pos_);
      value = value * 16 + static_cast<uint32_t>(h);
      ++pos_;
    }
    return value;
  }

  uint32_t parse_escape() {
    const std::size_t at = pos_ - 1;
    const char c = peek();
    ++pos_;
    switch (c) {
      case 'x': return parse_hex(2);
      case 'u': return parse_hex(4);
      case 'U': return parse_hex(8);
      case 'n': return '\n';
      case 'r': return '\r';
      case 't': return '\t';
      case '\\':
      case '"':
      case '[':
      case ']':
      case '-':
      case '^': return static_cast<uint8_t>(c);
      default: fail(std::string("unknown escape '\\") + (c ? std::string(1, c) : std::string("<end>")) + "'", at);
    }
  }

  // One code point of a literal or class: an escape or one UTF-8 sequence.
  uint32_t parse_char() {
    const std::size_t at = pos_;
    if (at_end()) fail("unexpected end of the grammar", at);
    uint32_t cp;
    const auto lead = static_cast<uint8_t>(peek());
    ++pos_;
    if (lead == '\\') {
      cp = parse_escape();
    } else if (lead < 0x80) {
      cp = lead;
    } else {
      const int extra = lead >= 0xF0 && lead < 0xF8 ? 3 : lead >= 0xE0 ? 2 : lead >= 0xC2 && lead < 0xE0 ? 1 : -1;
      if (extra < 0 || lead >= 0xF8) fail("invalid UTF-8", at);
      cp = lead & (0x3Fu >> extra);
      for (int i = 0; i < extra; ++i) {
        const auto b = static_cast<uint8_t>(peek());
        if ((b & 0xC0) != 0x80) fail("invalid UTF-8", at);
        cp = (cp << 6) | (b & 0x3F);
        ++pos_;
      }
    }
    if (cp > 0x10FFFF) fail("code point over U+10FFFF", at);
    return cp;
  }

  void parse_rule() {
    const std::size_t at = pos_;
    const std::string name = parse_name();
    skip_space(false);
    if (src_.substr(pos_, 3) != "::=") fail("expected '::=' after rule name '" + name + "'", pos_);
    pos_ += 3;
    skip_space(true);
    const uint32_t id = symbol(name, at);
    if (defined_[id]) fail("rule '" + name + "' is defined twice", at);
    defined_[id] = true;
    parse_alternates(name, id, false, 0);
    if (!at_end() && peek() != '\n' && peek() != '\r')
      fail("expected the end of the line after rule '" + name + "'", pos_);
    skip_space(true);
  }

  void parse_alternates(const std::string& rule_name, uint32_t id, bool nested, int depth) {
    if (depth > max_nesting) fail("groups nested deeper than " + std::to_string(max_nesting), pos_);
    std::vector<element> out;
    parse_sequence(rule_name, out, nested, depth);
    while (peek() == '|') {
      ++pos_;
      skip_space(true);
      out.push_back({element_type::alt, 0});
      parse_sequence(rule_name, out, nested, depth);
    }
    out.push_back({element_type::end, 0});
    store(id, std::move(out));
  }

  void parse_literal(std::vector<element>& out) {
    ++pos_;
    while (peek() != '"') {
      if (at_end()) fail("unterminated string literal", pos_);
      out.push_back({element_type::chr, parse_char()});
    }
    ++pos_;
  }

  void parse_class(std::vector<element>& out) {
    const std::size_t at = pos_;
    ++pos_;
    element_type first = element_type::chr;
    if (peek() == '^') {
      ++pos_;
      first = element_type::chr_not;
    }
    const std::size_t start = out.size();
    while (peek() != ']') {
      if (at_end()) fail("unterminated character class", at);
      const uint32_t low = parse_char();
      out.push_back({out.size() == start ? first : element_type::chr_alt, low});
      if (peek() == '-' && peek(1) != ']' && pos_ + 1 < src_.size()) {
        ++pos_;
        const uint32_t high = parse_char();
        if (high < low) fail("character range with its upper bound below its lower bound", at);
        out.push_back({element_type::chr_range_upper, high});
      }
    }
    if (out.size() == start) fail("empty character class", at);
    ++pos_;
  }

  uint32_t parse_count() {
    const std::size_t at = pos_;
    uint64_t value = 0;
    if (!(peek() >= '0' && peek() <= '9')) fail("expected a number in a repetition", at);
    while (peek() >= '0' && peek() <= '9') {
      value = value * 10 + static_cast<uint64_t>(peek() - '0');
      if (value > max_repetition) fail("repetition count over " + std::to_string(max_repetition), at);
      ++pos_;
    }
    return static_cast<uint32_t>(value);
  }

  std::pair<uint32_t, uint32_t> parse_braces() {
    const std::size_t at = pos_;
    ++pos_;
    skip_space(true);
    const uint32_t low = parse_count();
    uint32_t high = low;
    skip_space(true);
    if (peek() == ',') {
      ++pos_;
      skip_space(true);
      high = peek() == '}' ? unbounded : parse_count();
      skip_space(true);
    }
    if (peek() != '}') fail("expected '}' closing a repetition", pos_);
    ++pos_;
    if (high < low) fail("repetition with its maximum below its minimum", at);
    return {low, high};
  }

  // item{min,max}: min copies, then a nested optional chain (or a recursive rule when unbounded).
  void repeat(const std::string& rule_name, std::vector<element>& out, std::size_t item_start, uint32_t min,
              uint32_t max) {
    const std::vector<element> item(out.begin() + static_cast<std::ptrdiff_t>(item_start), out.end());
    out.resize(item_start);
    const uint64_t copies = static_cast<uint64_t>(min) + (max == unbounded ? 1 : max - min);
    if (copies * (item.size() + 3) + total_ > max_grammar_elements)
      fail("the grammar is too large (over 2^20 elements)", pos_);
    for (uint32_t i = 0; i < min; ++i) out.insert(out.end(), item.begin(), item.end());
    if (max == unbounded) {
      const uint32_t rec = generate(rule_name);
      std::vector<element> body = item;
      body.push_back({element_type::rule_ref, rec});
      body.push_back({element_type::alt, 0});
      body.push_back({element_type::end, 0});
      store(rec, std::move(body));
      out.push_back({element_type::rule_ref, rec});
      return;
    }
    bool have_inner = false;
    uint32_t inner = 0;
    for (uint32_t i = min; i < max; ++i) {
      const uint32_t opt = generate(rule_name);
      std::vector<element> body = item;
      if (have_inner) body.push_back({element_type::rule_ref, inner});
      body.push_back({element_type::alt, 0});
      body.push_back({element_type::end, 0});
      store(opt, std::move(body));
      inner = opt;
      have_inner = true;
    }
    if (have_inner) out.push_back({element_type::rule_ref, inner});
  }

  bool parse_item(const std::string& rule_name, std::vector<element>& out, int depth) {
    const char c = peek();
    if (c == '"') {
      parse_literal(out);
    } else if (c == '[') {
      parse_class(out);
    } else if (c == '.') {
      ++pos_;
      out.push_back({element_type::chr_any, 0});
    } else if (is_word_char(c)) {
      const std::size_t at = pos_;
      out.push_back({element_type::rule_ref, symbol(parse_name(), at)});
    } else if (c == '(') {
      const std::size_t at = pos_;
      ++pos_;
      skip_space(true);
      const uint32_t sub = generate(rule_name);
      parse_alternates(rule_name, sub, true, depth + 1);
      if (peek() != ')') fail("expected ')' closing the group opened here", at);
      ++pos_;
      out.push_back({element_type::rule_ref, sub});
    } else {
      return false;
    }
    return true;
  }

  void parse_sequence(const std::string& rule_name, std::vector<element>& out, bool nested, int depth) {
    std::size_t item_start = out.size();
    bool have_item = false;
    while (!at_end()) {
      const char c = peek();
      const std::size_t start = out.size();
      if (parse_item(rule_name, out, depth)) {
        item_start = start;
        have_item = true;
      } else if (c == '*' || c == '+' || c == '?' || c == '{') {
        if (!have_item) fail(std::string("expected an item before '") + c + "'", pos_);
        uint32_t min = c == '+' ? 1 : 0, max = c == '?' ? 1 : unbounded;
        if (c == '{')
          std::tie(min, max) = parse_braces();
        else
          ++pos_;
        repeat(rule_name, out, item_start, min, max);
        have_item = false;
      } else {
        break;
      }
      skip_space(nested);
    }
  }

  void check_defined() const {
    for (std::size_t id = 0; id < defined_.size(); ++id)
      if (!defined_[id]) fail("undefined rule '" + g_.names[id] + "'", first_use_[id]);
  }

  std::vector<bool> nullable_rules() const {
    std::vector<bool> nullable(g_.rules.size(), false);
    for (bool changed = true; changed;) {
      changed = false;
      for (std::size_t r = 0; r < g_.rules.size(); ++r) {
        if (nullable[r]) continue;
        bool alt_ok = true;
        for (const element& e : g_.rules[r]) {
          if (e.type == element_type::end || e.type == element_type::alt) {
            if (alt_ok) {
              nullable[r] = changed = true;
              break;
            }
            alt_ok = true;
          } else if (e.type != element_type::rule_ref || !nullable[e.value]) {
            alt_ok = false;
          }
        }
      }
    }
    return nullable;
  }

  // Rules reachable at the left edge of each rule (through nullable prefixes); a cycle is left recursion.
  void check_left_recursion() const {
    const auto nullable = nullable_rules();
    const std::size_t n = g_.rules.size();
    std::vector<std::vector<uint32_t>> left(n);
    for (std::size_t r = 0; r < n; ++r) {
      bool at_left = true;
      for (const element& e : g_.rules[r]) {
        if (e.type == element_type::end || e.type == element_type::alt) {
          at_left = true;
        } else if (at_left && e.type == element_type::rule_ref) {
          left[r].push_back(e.value);
          at_left = nullable[e.value];
        } else {
          at_left = false;
        }
      }
    }
    std::vector<uint8_t> colour(n, 0);  // 0 new, 1 on the DFS path, 2 done
    for (std::size_t start = 0; start < n; ++start) {
      if (colour[start]) continue;
      std::vector<std::pair<uint32_t, std::size_t>> path{{static_cast<uint32_t>(start), 0}};
      colour[start] = 1;
      while (!path.empty()) {
        auto& [r, next] = path.back();
        if (next == left[r].size()) {
          colour[r] = 2;
          path.pop_back();
          continue;
        }
        const uint32_t to = left[r][next++];
        if (colour[to] == 1) fail("left recursion in rule '" + g_.names[to] + "'", first_use_[to]);
        if (colour[to] == 0) {
          colour[to] = 1;
          path.push_back({to, 0});
        }
      }
    }
  }

  std::string_view src_;
  std::size_t pos_ = 0;
  std::size_t total_ = 0;
  grammar g_;
  std::map<std::string, uint32_t> ids_;
  std::vector<bool> defined_;
  std::vector<std::size_t> first_use_;
};

void append_char(std::string& out, uint32_t cp) {
  if (cp == '"' || cp == '\\' || cp == '[' || cp == ']' || cp == '-' || cp == '^') {
    out += '\\';
    out += static_cast<char>(cp);
  } else if (cp >= 0x20 && cp < 0x7F) {
    out += static_cast<char>(cp);
  } else {
    char buf[16];
    std::snprintf(buf, sizeof buf, "\\U%08X", static_cast<unsigned>(cp));
    out += buf;
  }
}

}  // namespace

grammar parse_gbnf(std::string_view source, std::string_view root) { return gbnf_parser(source).parse(root); }

namespace {

constexpr std::size_t longest_limit = std::size_t{1} << 40;

std::size_t utf8_bytes(uint32_t cp) { return cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4; }

// Longest match of rule r in bytes (capped at longest_limit); sets `unbounded` on a cycle.
std::size_t longest_rule(const grammar& g, uint32_t r, std::vector<uint8_t>& colour, std::vector<std::size_t>& memo,
                         bool& unbounded) {
  if (colour[r] == 2) return memo[r];
  if (colour[r] == 1 || unbounded) {
    unbounded = true;
    return longest_limit;
  }
  colour[r] = 1;
  std::size_t best = 0, current = 0;
  const auto& rule = g.rules[r];
  for (std::size_t i = 0; i < rule.size(); ++i) {
    const element& e = rule[i];
    if (e.type == element_type::end || e.type == element_type::alt) {
      best = std::max(best, current);
      current = 0;
    } else if (e.type == element_type::rule_ref) {
      current = std::min(longest_limit, current + longest_rule(g, e.value, colour, memo, unbounded));
    } else if (e.type == element_type::chr || e.type == element_type::chr_not || e.type == element_type::chr_any) {
      // A class: the widest code point it can match (a negated class or `.` can match 4-byte ones).
      std::size_t width = e.type == element_type::chr ? utf8_bytes(e.value) : 4;
      for (std::size_t j = i + 1;
           j < rule.size() && (rule[j].type == element_type::chr_alt || rule[j].type == element_type::chr_range_upper);
           ++j)
        width = std::max(width, utf8_bytes(rule[j].value));
      current = std::min(longest_limit, current + width);
    }
  }
  colour[r] = 2;
  memo[r] = best;
  return best;
}

}  // namespace

std::optional<std::size_t> longest_match_bytes(const grammar& g) {
  std::vector<uint8_t> colour(g.rules.size(), 0);
  std::vector<std::size_t> memo(g.rules.size(), 0);
  bool unbounded = false;
  const std::size_t n = longest_rule(g, g.root, colour, memo, unbounded);
  if (unbounded || n >= longest_limit) return std::nullopt;
  return n;
}

std::string to_gbnf(const grammar& g) {
  std::string out;
  for (std::size_t r = 0; r < g.rules.size(); ++r) {
    out += g.names[r] + " ::=";
    const auto& rule = g.rules[r];
    for (std::size_t i = 0; i < rule.size(); ++i) {
      const element& e = rule[i];
      const bool empty_alternative = (i == 0 || rule[i - 1].type == element_type::alt) &&
                                     (e.type == element_type::alt || e.type == element_type::end);
      if (empty_alternative) out += " \"\"";  // a bare trailing '|' would swallow the next line
      const bool class_continues = i + 1 < rule.size() && (rule[i + 1].type == element_type::chr_alt ||
                                                           rule[i + 1].type == element_type::chr_range_upper);
      switch (e.type) {
        case element_type::end: break;
        case element_type::alt: out += " |"; break;
        case element_type::rule_ref: out += " " + g.names[e.value]; break;
        case element_type::chr_any: out += " ."; break;
        case element_type::chr:
          out += " [";
          append_char(out, e.value);
          break;
        case element_type::chr_not:
          out += " [^";
          append_char(out, e.value);
          break;
        case element_type::chr_alt: append_char(out, e.value); break;
        case element_type::chr_range_upper:
          out += '-';
          append_char(out, e.value);
          break;
      }
      if ((e.type == element_type::chr || e.type == element_type::chr_not || e.type == element_type::chr_alt ||
           e.type == element_type::chr_range_upper) &&
          !class_continues)
        out += ']';
    }
    out += '\n';
  }
  return out;
}

}  // namespace kvactor::grammar
