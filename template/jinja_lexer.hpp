#pragma once
// Jinja lexer with jinja2's whitespace rules as transformers configures them: trim_blocks (drop the
// first newline after a block or comment tag), lstrip_blocks (drop spaces and tabs before a block or
// comment tag that starts a line), `-` markers (strip all whitespace on that side), `+` markers (keep
// it). Newlines are normalised to \n and one trailing newline of the source is dropped, as jinja2 does.
#include <string>
#include <string_view>
#include <vector>

namespace kvactor::jinja {

enum class token_kind {
  text,         // template data between tags
  print_begin,  // {{
  print_end,    // }}
  block_begin,  // {%
  block_end,    // %}
  name,
  string,  // value already unescaped
  integer,
  floating,
  op,  // operator or punctuation: + - * / // % ** ~ == != < <= > >= = ( ) [ ] { } , . : |
  end_of_input
};

struct token {
  token_kind kind;
  std::string text;
  int line;
};

/// Splits a template into tokens; throws template_error (with the line) on an unterminated tag,
/// comment or string, or a character that is not part of the expression language.
std::vector<token> tokenize(std::string_view source);

}  // namespace kvactor::jinja
