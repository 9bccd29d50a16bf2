#pragma once
// The parsed form of a template: expressions and statements, each with its source line.
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "template/jinja_value.hpp"

namespace kvactor::jinja {

struct expression;
using expr_ptr = std::unique_ptr<expression>;

enum class expr_kind {
  literal,    // constant
  name,       // variable `name`
  list,       // [a, b]            operands
  tuple,      // (a, b) / a, b     operands
  dict,       // {k: v}            operands k0, v0, k1, v1, ...
  attribute,  // x.name            operands[0], name
  subscript,  // x[i]              operands[0], operands[1]
  slice,      // x[a:b:c]          operands[0], then start/stop/step (null when omitted)
  call,       // f(args)           operands[0] = callee, operands[1..] positional, keywords
  filter,     // x | name(args)    operands[0] = input, operands[1..] positional, keywords
  test,       // x is [not] name   operands[0] = input, operands[1..] positional, negated
  unary,      // - + not           name = operator, operands[0]
  binary,     // + - * / // % ** ~ == != < <= > >= in `not in` and or    name = operator
  condition   // a if c else b     operands: condition, then, else (null: undefined)
};

struct expression {
  expr_kind kind;
  int line;
  std::string name;
  value constant;
  std::vector<expr_ptr> operands;
  std::vector<std::pair<std::string, expr_ptr>> keywords;
  bool negated = false;

  expression(expr_kind k, int l) : kind(k), line(l) {}
};

struct statement;
using stmt_ptr = std::unique_ptr<statement>;
using stmt_list = std::vector<stmt_ptr>;

enum class stmt_kind {
  text,          // template data                       text
  print,         // {{ expr }}                          expr
  if_,           // if / elif / else                     branches (condition null for else)
  for_,          // for targets in expr [if filter]      targets, expr, filter, body, else_body
  set,           // set targets = expr                   targets (name or ns.attr), expr
  set_block,     // set target %}...{% endset            targets, body, filters (filter exprs, input null)
  macro,         // macro name(params)                   name, params, body, uses_*
  call_block,    // call(params) expr %}...{% endcall    expr (a call), params, body: the caller macro
  filter_block,  // filter f %}...{% endfilter           filters, body
  break_,
  continue_,
  scope  // generation block (transformers' AssistantTracker): renders its body
};

struct macro_parameter {
  std::string name;
  expr_ptr default_value;  // null when required
};

struct statement {
  stmt_kind kind;
  int line;
  std::string text;                  // text data, or macro name
  std::vector<std::string> targets;  // assignment / loop targets; "ns.attr" for namespace attributes
  expr_ptr expr;                     // printed / iterated / assigned / filter of a loop
  expr_ptr loop_filter;
  std::vector<std::pair<expr_ptr, stmt_list>> branches;
  stmt_list body;
  stmt_list else_body;
  std::vector<macro_parameter> params;
  std::vector<expr_ptr> filters;  // filter expressions applied to a block's output (operand 0 unset)
  bool uses_varargs = false;      // a macro whose body names varargs / kwargs / caller accepts them
  bool uses_kwargs = false;
  bool uses_caller = false;

  statement(stmt_kind k, int l) : kind(k), line(l) {}
};

}  // namespace kvactor::jinja

namespace kvactor::jinja {

/// A whole parsed template.
struct template_node {
  stmt_list body;
};

}  // namespace kvactor::jinja
