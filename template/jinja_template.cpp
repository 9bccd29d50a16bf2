#include "template/jinja_template.hpp"

#include "template/jinja_interpreter.hpp"
#include "template/jinja_parser.hpp"

namespace kvactor::jinja {

template_error::template_error(int line, const std::string& message)
    : std::runtime_error("line " + std::to_string(line) + ": " + message), line_(line), message_(message) {}

template_program template_program::parse(std::string_view source) {
  template_program program;
  program.root_ = parse_template(source);
  return program;
}

namespace {
std::string render_value(const template_node& root, const value& context) {
  if (!context.is_mapping()) throw template_error(0, "the render context must be a JSON object");
  return render_template(root, context);
}
}  // namespace

std::string template_program::render(const nlohmann::json& context) const {
  return render_value(*root_, from_json(context));
}

std::string template_program::render(const nlohmann::ordered_json& context) const {
  return render_value(*root_, from_json(context));
}

}  // namespace kvactor::jinja
