#pragma once
#include <string>

#include "template/jinja_ast.hpp"

namespace kvactor::jinja {

/// Renders a parsed template; `context` is a dict whose keys become variables. Throws template_error.
std::string render_template(const template_node& root, const value& context);

}  // namespace kvactor::jinja
