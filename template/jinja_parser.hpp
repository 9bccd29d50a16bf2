#pragma once
// Parser: tokens to the AST, with jinja2's grammar and precedence. Unknown filters and tests are
// refused at parse time as jinja2 refuses them at compile time (except directly inside an if or a
// conditional expression, where jinja2 defers the error to the moment they run).
#include <memory>
#include <string_view>

#include "template/jinja_ast.hpp"

namespace kvactor::jinja {

/// Throws template_error naming the line and the construct.
std::shared_ptr<template_node> parse_template(std::string_view source);

/// Names the evaluator implements (template/jinja_builtins.cpp).
bool is_known_filter(const std::string& name);
bool is_known_test(const std::string& name);

}  // namespace kvactor::jinja
