#include "template/jinja_lexer.hpp"

#include <cctype>
#include <cstdint>

#include "template/jinja_template.hpp"
#include "template/jinja_value.hpp"

namespace kvactor::jinja {

namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

/// Python's str.rstrip() for the whitespace a template's text can hold.
std::string rstrip(const std::string& s) {
  std::size_t end = s.size();
  while (end > 0 && is_space(s[end - 1])) --end;
  return s.substr(0, end);
}

/// \r\n and \r become \n; one trailing newline is dropped (keep_trailing_newline=False).
std::string normalise(std::string_view source) {
  std::string out;
  out.reserve(source.size());
  for (std::size_t i = 0; i < source.size(); ++i) {
    if (source[i] == '\r') {
      out += '\n';
      if (i + 1 < source.size() && source[i + 1] == '\n') ++i;
    } else {
      out += source[i];
    }
  }
  if (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

void append_utf8(std::string& out, std::uint32_t cp) {
  out += utf8_encode(std::u32string(1, static_cast<char32_t>(cp)));
}

/// Python's unicode-escape decoding of a string literal's body, as jinja2 applies it.
std::string unescape(const std::string& body) {
  std::string out;
  for (std::size_t i = 0; i < body.size(); ++i) {
    if (body[i] != '\\' || i + 1 >= body.size()) {
      out += body[i];
      continue;
    }
    const char c = body[++i];
    auto hex = [&](std::size_t digits) -> bool {
      std::uint32_t cp = 0;
      for (std::size_t k = 1; k <= digits; ++k) {
        if (i + k >= body.size() || !std::isxdigit(static_cast<unsigned char>(body[i + k]))) return false;
        const char h = body[i + k];
        cp = cp * 16 + static_cast<std::uint32_t>(
                           std::isdigit(static_cast<unsigned char>(h)) ? h - '0' : std::tolower(h) - 'a' + 10);
      }
      append_utf8(out, cp);
      i += digits;
      return true;
    };
    switch (c) {
      case '\n': break;
      case '\\': out += '\\'; break;
      case '\'': out += '\''; break;
      case '"': out += '"'; break;
      case 'a': out += '\a'; break;
      case 'b': out += '\b'; break;
      case 'f': out += '\f'; break;
      case 'n': out += '\n'; break;
      case 'r': out += '\r'; break;
      case 't': out += '\t'; break;
      case 'v': out += '\v'; break;
      case 'x':
        if (!hex(2)) throw std::invalid_argument("truncated \\xXX escape");
        break;
      case 'u':
        if (!hex(4)) throw std::invalid_argument("truncated \\uXXXX escape");
        break;
      case 'U':
        if (!hex(8)) throw std::invalid_argument("truncated \\UXXXXXXXX escape");
        break;
      default:
        if (c >= '0' && c <= '7') {
          std::uint32_t cp = 0;
          std::size_t k = 0;
          for (; k < 3 && i + k < body.size() && body[i + k] >= '0' && body[i + k] <= '7'; ++k) {
            cp = cp * 8 + static_cast<std::uint32_t>(body[i + k] - '0');
          }
          i += k - 1;
          append_utf8(out, cp);
        } else {
          out += '\\';
          out += c;
        }
    }
  }
  return out;
}

class lexer {
 public:
  explicit lexer(std::string_view source) : src_(normalise(source)) {}

  std::vector<token> run() {
    bool line_starting = true;
    while (pos_ < src_.size()) {
      const std::size_t tag = find_tag(pos_);
      std::string text = src_.substr(pos_, tag - pos_);
      if (tag == src_.size()) {
        emit_text(text);
        pos_ = tag;
        break;
      }
      const char kind = src_[tag + 1];  // '{', '%' or '#'
      const char sign = tag + 2 < src_.size() ? src_[tag + 2] : '\0';
      if (sign == '-') {
        text = rstrip(text);
      } else if (sign != '+' && kind != '{') {  // lstrip_blocks
        const std::size_t l_pos = text.rfind('\n') == std::string::npos ? 0 : text.rfind('\n') + 1;
        if (l_pos > 0 || line_starting) {
          bool blank = true;
          for (std::size_t k = l_pos; k < text.size(); ++k) blank = blank && is_space(text[k]);
          if (blank) text.resize(l_pos);
        }
      }
      emit_text(text);
      advance_to(tag + 2 + ((sign == '-' || sign == '+') ? 1 : 0));
      if (kind == '#') {
        line_starting = lex_comment();
      } else {
        line_starting = lex_tag(kind == '{');
      }
    }
    tokens_.push_back({token_kind::end_of_input, "", line_});
    return std::move(tokens_);
  }

 private:
  std::size_t find_tag(std::size_t from) const {
    for (std::size_t i = from; i + 1 < src_.size(); ++i) {
      if (src_[i] == '{' && (src_[i + 1] == '{' || src_[i + 1] == '%' || src_[i + 1] == '#')) return i;
    }
    return src_.size();
  }

  void advance_to(std::size_t p) {
    for (; pos_ < p; ++pos_) {
      if (src_[pos_] == '\n') ++line_;
    }
  }

  void emit_text(const std::string& text) {
    if (!text.empty()) tokens_.push_back({token_kind::text, text, line_});
  }

  /// After an end marker: '-' strips all following whitespace, trim_blocks drops one newline.
  /// Returns whether the consumed text ends with a newline (the next tag then starts a line).
  bool after_end(char sign, bool trims) {
    if (sign == '-') {
      std::size_t p = pos_;
      while (p < src_.size() && is_space(src_[p])) ++p;
      const bool ends_newline = p > pos_ && src_[p - 1] == '\n';
      advance_to(p);
      return ends_newline;
    }
    if (sign != '+' && trims && pos_ < src_.size() && src_[pos_] == '\n') {
      advance_to(pos_ + 1);
      return true;
    }
    return false;
  }

  bool lex_comment() {
    const int start_line = line_;
    const std::size_t end = src_.find("#}", pos_);
    if (end == std::string::npos) throw template_error(start_line, "unterminated comment ({# without #})");
    const char sign = end > pos_ ? src_[end - 1] : '\0';
    advance_to(end + 2);
    return after_end(sign, true);
  }

  bool lex_tag(bool is_print) {
    const int start_line = line_;
    tokens_.push_back({is_print ? token_kind::print_begin : token_kind::block_begin, "", line_});
    int depth = 0;  // brackets open: end markers inside them are operators (jinja2's balancing stack)
    const char close = is_print ? '}' : '%';
    for (;;) {
      if (pos_ >= src_.size()) {
        throw template_error(start_line, is_print ? "unterminated {{ (missing }})" : "unterminated {% (missing %})");
      }
      if (depth == 0) {
        // End marker, with an optional '-' or '+' (a '+' only ends blocks).
        std::size_t p = pos_;
        char sign = '\0';
        if ((src_[p] == '-' || (!is_print && src_[p] == '+')) && p + 2 < src_.size() && src_[p + 1] == close &&
            src_[p + 2] == '}') {
          sign = src_[p];
          ++p;
        }
        if (p + 1 < src_.size() && src_[p] == close && src_[p + 1] == '}') {
          advance_to(p + 2);
          tokens_.push_back({is_print ? token_kind::print_end : token_kind::block_end, "", line_});
          return after_end(sign, !is_print);
        }
      }
      const char c = src_[pos_];
      if (is_space(c)) {
        advance_to(pos_ + 1);
        continue;
      }
      if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
        std::size_t p = pos_;
        while (p < src_.size() && (std::isalnum(static_cast<unsigned char>(src_[p])) || src_[p] == '_')) ++p;
        tokens_.push_back({token_kind::name, src_.substr(pos_, p - pos_), line_});
        advance_to(p);
        continue;
      }
      if (std::isdigit(static_cast<unsigned char>(c))) {
        lex_number();
        continue;
      }
      if (c == '\'' || c == '"') {
        lex_string(c);
        continue;
      }
      static const char* const two_char_ops[] = {"//", "**", "==", "!=", "<=", ">="};
      bool matched = false;
      for (const char* op : two_char_ops) {
        if (src_.compare(pos_, 2, op) == 0) {
          tokens_.push_back({token_kind::op, op, line_});
          advance_to(pos_ + 2);
          matched = true;
          break;
        }
      }
      if (matched) continue;
      if (std::string_view("+-*/%~<>=()[]{},.:|;").find(c) != std::string_view::npos) {
        if (c == '(' || c == '[' || c == '{') ++depth;
        if ((c == ')' || c == ']' || c == '}') && depth > 0) --depth;
        tokens_.push_back({token_kind::op, std::string(1, c), line_});
        advance_to(pos_ + 1);
        continue;
      }
      throw template_error(line_, std::string("unexpected character '") + c + "' in a tag");
    }
  }

  void lex_number() {
    auto digits = [&](std::size_t p) {
      while (p < src_.size() &&
             (std::isdigit(static_cast<unsigned char>(src_[p])) ||
              (src_[p] == '_' && p + 1 < src_.size() && std::isdigit(static_cast<unsigned char>(src_[p + 1])))))
        ++p;
      return p;
    };
    std::size_t p = digits(pos_);
    bool is_float = false;
    if (p + 1 < src_.size() && src_[p] == '.' && std::isdigit(static_cast<unsigned char>(src_[p + 1]))) {
      p = digits(p + 1);
      is_float = true;
    }
    if (p < src_.size() && (src_[p] == 'e' || src_[p] == 'E')) {
      std::size_t q = p + 1;
      if (q < src_.size() && (src_[q] == '+' || src_[q] == '-')) ++q;
      if (q < src_.size() && std::isdigit(static_cast<unsigned char>(src_[q]))) {
        p = digits(q);
        is_float = true;
      }
    }
    std::string text;
    for (std::size_t k = pos_; k < p; ++k) {
      if (src_[k] != '_') text += src_[k];
    }
    tokens_.push_back({is_float ? token_kind::floating : token_kind::integer, text, line_});
    advance_to(p);
  }

  void lex_string(char quote) {
    const int start_line = line_;
    std::size_t p = pos_ + 1;
    while (p < src_.size() && src_[p] != quote) {
      if (src_[p] == '\\') ++p;
      ++p;
    }
    if (p >= src_.size()) throw template_error(start_line, "unterminated string literal");
    try {
      tokens_.push_back({token_kind::string, unescape(src_.substr(pos_ + 1, p - pos_ - 1)), start_line});
    } catch (const std::invalid_argument& e) {
      throw template_error(start_line, std::string("bad string literal: ") + e.what());
    }
    advance_to(p + 1);
  }

  std::string src_;
  std::size_t pos_ = 0;
  int line_ = 1;
  std::vector<token> tokens_;
};

}  // namespace

std::vector<token> tokenize(std::string_view source) { return lexer(source).run(); }

}  // namespace kvactor::jinja
