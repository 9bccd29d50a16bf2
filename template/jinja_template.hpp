#pragma once
// A Jinja chat-template engine rendering as Hugging Face transformers does (jinja2's
// ImmutableSandboxedEnvironment with trim_blocks, lstrip_blocks and loopcontrols; transformers'
// tojson, raise_exception and strftime_now). See template/README.md for the supported language.
#include <memory>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <string_view>

namespace kvactor::jinja {

/// A parse error, an unsupported construct or a render error; what() is "line N: message".
struct template_error : std::runtime_error {
  template_error(int line, const std::string& message);
  int line() const { return line_; }
  /// The message without the "line N: " prefix.
  const std::string& message() const { return message_; }

 private:
  int line_;
  std::string message_;
};

/// raise_exception(msg) called by the template itself (the template refuses the conversation).
struct raised_error : template_error {
  using template_error::template_error;
};

struct template_node;  // the parsed program (template/jinja_ast.hpp)

class template_program {
 public:
  /// Parses a template; throws template_error naming the line and the construct.
  static template_program parse(std::string_view source);

  /// Renders with the keys of `context` (a JSON object) as variables; throws template_error /
  /// raised_error. ordered_json keeps the caller's key order (as Python dicts do), which tojson shows;
  /// nlohmann::json iterates keys sorted.
  std::string render(const nlohmann::json& context) const;
  std::string render(const nlohmann::ordered_json& context) const;

 private:
  std::shared_ptr<const template_node> root_;
};

}  // namespace kvactor::jinja
