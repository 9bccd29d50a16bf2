#include "template/jinja_parser.hpp"

#include <cerrno>
#include <cstdlib>
#include <initializer_list>

#include "template/jinja_lexer.hpp"
#include "template/jinja_template.hpp"

namespace kvactor::jinja {

namespace {

std::string describe(const token& t) {
  switch (t.kind) {
    case token_kind::text: return "template text";
    case token_kind::print_begin: return "'{{'";
    case token_kind::print_end: return "'}}'";
    case token_kind::block_begin: return "'{%'";
    case token_kind::block_end: return "'%}'";
    case token_kind::name: return "'" + t.text + "'";
    case token_kind::string: return "string literal";
    case token_kind::integer:
    case token_kind::floating: return "number " + t.text;
    case token_kind::op: return "'" + t.text + "'";
    case token_kind::end_of_input: return "end of template";
  }
  return "token";
}

class parser {
 public:
  explicit parser(std::vector<token> tokens) : tokens_(std::move(tokens)) {}

  std::shared_ptr<template_node> run() {
    auto root = std::make_shared<template_node>();
    root->body = subparse({});
    if (cur().kind != token_kind::end_of_input) {
      fail("unexpected '{% " + cur().text + " %}' with no open block it could close");
    }
    return root;
  }

 private:
  // ---- token stream ----
  const token& cur() const { return tokens_[pos_]; }
  const token& peek(std::size_t n = 1) const { return tokens_[std::min(pos_ + n, tokens_.size() - 1)]; }
  const token& next() {
    const token& t = tokens_[pos_];
    if (pos_ + 1 < tokens_.size()) ++pos_;
    return t;
  }
  bool is_op(const char* op) const { return cur().kind == token_kind::op && cur().text == op; }
  bool is_name(const char* n) const { return cur().kind == token_kind::name && cur().text == n; }
  bool skip_op(const char* op) {
    if (!is_op(op)) return false;
    next();
    return true;
  }
  bool skip_name(const char* n) {
    if (!is_name(n)) return false;
    next();
    return true;
  }
  [[noreturn]] void fail(const std::string& message) const { throw template_error(cur().line, message); }
  void expect_op(const char* op, const char* where) {
    if (!skip_op(op)) fail(std::string("expected '") + op + "' " + where + ", got " + describe(cur()));
  }
  std::string expect_name(const char* where) {
    if (cur().kind != token_kind::name) fail(std::string("expected a name ") + where + ", got " + describe(cur()));
    return next().text;
  }
  void expect_block_end(const std::string& tag) {
    if (cur().kind != token_kind::block_end) {
      fail("expected '%}' to end '{% " + tag + " %}', got " + describe(cur()));
    }
    next();
  }

  // ---- unknown filters and tests (jinja2 refuses them at compile time outside if / a if c else b) ----
  void check_unknown(bool soft) {
    if (!soft && !unknown_.empty()) {
      const auto [line, message] = unknown_.front();
      throw template_error(line, message);
    }
    unknown_.clear();
  }

  // ---- statements ----
  /// Parses until a block tag whose name is in `ends` (left at that name) or the end of input.
  stmt_list subparse(std::initializer_list<const char*> ends) {
    stmt_list body;
    for (;;) {
      const token& t = cur();
      if (t.kind == token_kind::end_of_input) return body;
      if (t.kind == token_kind::text) {
        auto s = std::make_unique<statement>(stmt_kind::text, t.line);
        s->text = t.text;
        body.push_back(std::move(s));
        next();
      } else if (t.kind == token_kind::print_begin) {
        next();
        auto s = std::make_unique<statement>(stmt_kind::print, t.line);
        s->expr = parse_tuple(true, {});
        check_unknown(soft_);
        if (cur().kind != token_kind::print_end) fail("expected '}}', got " + describe(cur()));
        next();
        body.push_back(std::move(s));
      } else if (t.kind == token_kind::block_begin) {
        next();
        if (cur().kind != token_kind::name) fail("expected a tag name after '{%', got " + describe(cur()));
        for (const char* end : ends) {
          if (cur().text == end) return body;
        }
        body.push_back(parse_statement());
      } else {
        fail("unexpected " + describe(t));
      }
    }
  }

  /// After `{% name ... %}` content: expects the closing tag `{% end %}`.
  void expect_end_tag(const char* end, const std::string& opened, int open_line) {
    if (cur().kind == token_kind::end_of_input) {
      throw template_error(open_line, "'{% " + opened + " %}' is never closed (missing '{% " + end + " %}')");
    }
    if (!skip_name(end)) fail(std::string("expected '{% ") + end + " %}', got '{% " + cur().text + " %}'");
    expect_block_end(end);
  }

  stmt_list sub_body(bool soft, std::initializer_list<const char*> ends) {
    const bool saved = soft_;
    soft_ = soft;
    auto body = subparse(ends);
    soft_ = saved;
    return body;
  }

  stmt_ptr parse_statement() {
    const nesting_guard guard(*this);
    const token& t = cur();
    const int line = t.line;
    const std::string tag = t.text;
    next();
    if (tag == "if") return parse_if(line);
    if (tag == "for") return parse_for(line);
    if (tag == "set") return parse_set(line);
    if (tag == "macro") return parse_macro(line);
    if (tag == "filter") return parse_filter_block(line);
    if (tag == "generation") {
      expect_block_end(tag);
      auto s = std::make_unique<statement>(stmt_kind::scope, line);
      s->body = sub_body(soft_, {"endgeneration"});
      expect_end_tag("endgeneration", tag, line);
      return s;
    }
    if (tag == "break" || tag == "continue") {
      if (loop_depth_ == 0) throw template_error(line, "'{% " + tag + " %}' outside a for loop");
      expect_block_end(tag);
      return std::make_unique<statement>(tag == "break" ? stmt_kind::break_ : stmt_kind::continue_, line);
    }
    if (tag == "call") return parse_call_block(line);
    for (const char* unsupported :
         {"raw", "with", "include", "import", "from", "extends", "block", "autoescape", "do", "trans", "pluralize"}) {
      if (tag == unsupported) throw template_error(line, "unsupported construct '{% " + tag + " %}'");
    }
    throw template_error(line, "unknown tag '{% " + tag + " %}'");
  }

  stmt_ptr parse_if(int line) {
    auto s = std::make_unique<statement>(stmt_kind::if_, line);
    for (;;) {
      auto condition = parse_tuple(false, {});
      check_unknown(true);
      expect_block_end("if");
      auto body = sub_body(true, {"elif", "else", "endif"});
      s->branches.emplace_back(std::move(condition), std::move(body));
      if (skip_name("elif")) continue;
      if (skip_name("else")) {
        expect_block_end("else");
        s->branches.emplace_back(nullptr, sub_body(true, {"endif"}));
      }
      break;
    }
    expect_end_tag("endif", "if", line);
    return s;
  }

  std::vector<std::string> parse_assign_targets(bool allow_namespace, const char* where) {
    std::vector<std::string> targets;
    const bool paren = skip_op("(");
    do {
      std::string name = expect_name(where);
      if (allow_namespace && targets.empty() && is_op(".")) {
        next();
        name += "." + expect_name("after '.' in an assignment target");
        targets.push_back(name);
        return targets;
      }
      targets.push_back(name);
    } while (skip_op(",") && cur().kind == token_kind::name);
    if (paren) expect_op(")", "closing the assignment targets");
    return targets;
  }

  stmt_ptr parse_for(int line) {
    auto s = std::make_unique<statement>(stmt_kind::for_, line);
    s->targets = parse_assign_targets(false, "as the loop variable of '{% for %}'");
    if (!skip_name("in")) fail("expected 'in' in '{% for %}', got " + describe(cur()));
    s->expr = parse_tuple(false, {"recursive"});
    check_unknown(false);
    if (skip_name("if")) {
      s->loop_filter = parse_expression(true);
      check_unknown(false);
    }
    if (is_name("recursive")) fail("unsupported construct 'recursive' for loop");
    expect_block_end("for");
    ++loop_depth_;
    s->body = sub_body(false, {"endfor", "else"});
    --loop_depth_;
    if (skip_name("else")) {
      expect_block_end("else");
      s->else_body = sub_body(false, {"endfor"});
    }
    expect_end_tag("endfor", "for", line);
    return s;
  }

  stmt_ptr parse_set(int line) {
    auto targets = parse_assign_targets(true, "to assign in '{% set %}'");
    if (skip_op("=")) {
      auto s = std::make_unique<statement>(stmt_kind::set, line);
      s->targets = std::move(targets);
      s->expr = parse_tuple(true, {});
      check_unknown(soft_);
      expect_block_end("set");
      return s;
    }
    auto s = std::make_unique<statement>(stmt_kind::set_block, line);
    if (targets.size() != 1) fail("a block '{% set %}' assigns exactly one name");
    s->targets = std::move(targets);
    while (skip_op("|")) s->filters.push_back(parse_filter(nullptr));
    check_unknown(false);
    expect_block_end("set");
    const int saved_loops = loop_depth_;
    loop_depth_ = 0;
    s->body = sub_body(false, {"endset"});
    loop_depth_ = saved_loops;
    expect_end_tag("endset", "set", line);
    return s;
  }

  stmt_ptr parse_call_block(int line) {
    auto s = std::make_unique<statement>(stmt_kind::call_block, line);
    s->text = "caller";
    if (is_op("(")) {
      next();
      parse_macro_params(*s);
    }
    s->expr = parse_expression(true);
    check_unknown(false);
    if (s->expr->kind != expr_kind::call) fail("expected a call after '{% call %}'");
    expect_block_end("call");
    parse_macro_body(*s, "endcall", "call", line);
    return s;
  }

  stmt_ptr parse_macro(int line) {
    auto s = std::make_unique<statement>(stmt_kind::macro, line);
    s->text = expect_name("after '{% macro'");
    expect_op("(", "after the macro name");
    parse_macro_params(*s);
    expect_block_end("macro");
    parse_macro_body(*s, "endmacro", "macro", line);
    return s;
  }

  /// Parameters up to and including ')'.
  void parse_macro_params(statement& macro) {
    auto* s = &macro;
    while (!is_op(")")) {
      if (!s->params.empty()) expect_op(",", "between macro parameters");
      if (is_op(")")) break;
      macro_parameter p;
      p.name = expect_name("as a macro parameter");
      if (skip_op("=")) {
        p.default_value = parse_expression(true);
        check_unknown(false);
      } else if (!s->params.empty() && s->params.back().default_value) {
        fail("macro parameter '" + p.name + "' without a default follows one with a default");
      }
      s->params.push_back(std::move(p));
    }
    next();
  }

  void parse_macro_body(statement& s, const char* end, const char* tag, int line) {
    const int saved_loops = loop_depth_;
    loop_depth_ = 0;
    macros_.push_back(&s);
    s.body = sub_body(false, {end});
    macros_.pop_back();
    loop_depth_ = saved_loops;
    expect_end_tag(end, tag, line);
  }

  stmt_ptr parse_filter_block(int line) {
    auto s = std::make_unique<statement>(stmt_kind::filter_block, line);
    do {
      s->filters.push_back(parse_filter(nullptr));
    } while (skip_op("|"));
    check_unknown(false);
    expect_block_end("filter");
    s->body = sub_body(false, {"endfilter"});
    expect_end_tag("endfilter", "filter", line);
    return s;
  }

  // ---- expressions ----
  expr_ptr node(expr_kind kind, int line) { return std::make_unique<expression>(kind, line); }

  bool is_tuple_end(std::initializer_list<const char*> extra_ends) const {
    if (cur().kind == token_kind::print_end || cur().kind == token_kind::block_end || is_op(")")) return true;
    for (const char* e : extra_ends) {
      if (is_name(e)) return true;
    }
    return false;
  }

  expr_ptr parse_tuple(bool with_condexpr, std::initializer_list<const char*> extra_ends,
                       bool explicit_parens = false) {
    const int line = cur().line;
    std::vector<expr_ptr> items;
    bool is_tuple = false;
    for (;;) {
      if (!items.empty()) expect_op(",", "between tuple items");
      if (is_tuple_end(extra_ends)) break;
      items.push_back(parse_expression(with_condexpr));
      if (is_op(",")) {
        is_tuple = true;
      } else {
        break;
      }
    }
    if (!is_tuple) {
      if (!items.empty()) return std::move(items.front());
      if (!explicit_parens) fail("expected an expression, got " + describe(cur()));
    }
    auto t = node(expr_kind::tuple, line);
    t->operands = std::move(items);
    return t;
  }

  expr_ptr parse_expression(bool with_condexpr) { return with_condexpr ? parse_condexpr() : parse_or(); }

  expr_ptr parse_condexpr() {
    const std::size_t unknown_before = unknown_.size();
    auto e = parse_or();
    bool conditional = false;
    while (is_name("if")) {
      const int line = next().line;
      conditional = true;
      auto c = node(expr_kind::condition, line);
      auto condition = parse_or();
      expr_ptr otherwise;
      if (skip_name("else")) otherwise = parse_condexpr();
      c->operands.push_back(std::move(condition));
      c->operands.push_back(std::move(e));
      c->operands.push_back(std::move(otherwise));
      e = std::move(c);
    }
    if (conditional) unknown_.resize(unknown_before);
    return e;
  }

  expr_ptr binary(std::string op, expr_ptr a, expr_ptr b, int line) {
    auto e = node(expr_kind::binary, line);
    e->name = std::move(op);
    e->operands.push_back(std::move(a));
    e->operands.push_back(std::move(b));
    return e;
  }

  expr_ptr parse_or() {
    auto left = parse_and();
    while (is_name("or")) {
      const int line = next().line;
      left = binary("or", std::move(left), parse_and(), line);
    }
    return left;
  }

  expr_ptr parse_and() {
    auto left = parse_not();
    while (is_name("and")) {
      const int line = next().line;
      left = binary("and", std::move(left), parse_not(), line);
    }
    return left;
  }

  expr_ptr parse_not() {
    if (is_name("not")) {
      auto e = node(expr_kind::unary, next().line);
      e->name = "not";
      e->operands.push_back(parse_not());
      return e;
    }
    return parse_compare();
  }

  expr_ptr parse_compare() {
    auto left = parse_math1();
    bool chained = false;
    for (;;) {
      const int line = cur().line;
      std::string op;
      if (cur().kind == token_kind::op && (cur().text == "==" || cur().text == "!=" || cur().text == "<" ||
                                           cur().text == "<=" || cur().text == ">" || cur().text == ">=")) {
        op = next().text;
      } else if (skip_name("in")) {
        op = "in";
      } else if (is_name("not") && peek().kind == token_kind::name && peek().text == "in") {
        next();
        next();
        op = "not in";
      } else {
        return left;
      }
      // Chained comparisons (a < b < c) are rare in templates: refuse rather than misrender.
      if (chained) throw template_error(line, "unsupported construct: chained comparison");
      chained = true;
      auto right = parse_math1();
      left = binary(op, std::move(left), std::move(right), line);
    }
  }

  expr_ptr parse_math1() {
    auto left = parse_concat();
    while (is_op("+") || is_op("-")) {
      const token& t = next();
      left = binary(t.text, std::move(left), parse_concat(), t.line);
    }
    return left;
  }

  expr_ptr parse_concat() {
    auto left = parse_math2();
    while (is_op("~")) {
      const int line = next().line;
      left = binary("~", std::move(left), parse_math2(), line);
    }
    return left;
  }

  expr_ptr parse_math2() {
    auto left = parse_pow();
    while (is_op("*") || is_op("/") || is_op("//") || is_op("%")) {
      const token& t = next();
      left = binary(t.text, std::move(left), parse_pow(), t.line);
    }
    return left;
  }

  expr_ptr parse_pow() {
    auto left = parse_unary(true);
    while (is_op("**")) {
      const int line = next().line;
      left = binary("**", std::move(left), parse_unary(true), line);
    }
    return left;
  }

  /// Bounds the parser's recursion (nested brackets, nested blocks) so no template overflows the stack.
  struct nesting_guard {
    parser& p;
    explicit nesting_guard(parser& owner) : p(owner) {
      if (++p.nesting_ > max_nesting) p.fail("nesting deeper than " + std::to_string(max_nesting) + " levels");
    }
    ~nesting_guard() { --p.nesting_; }
  };
  static constexpr int max_nesting = 100;

  expr_ptr parse_unary(bool with_filter) {
    const nesting_guard guard(*this);
    expr_ptr e;
    if (is_op("-") || is_op("+")) {
      const token& t = next();
      e = node(expr_kind::unary, t.line);
      e->name = t.text;
      e->operands.push_back(parse_unary(false));
    } else {
      e = parse_primary();
    }
    e = parse_postfix(std::move(e));
    if (with_filter) e = parse_filter_expr(std::move(e));
    return e;
  }

  expr_ptr parse_primary() {
    const token& t = cur();
    if (t.kind == token_kind::name) {
      next();
      auto e = node(expr_kind::literal, t.line);
      if (t.text == "true" || t.text == "True") {
        e->constant = value(true);
      } else if (t.text == "false" || t.text == "False") {
        e->constant = value(false);
      } else if (t.text == "none" || t.text == "None") {
        e->constant = value(nullptr);
      } else {
        e->kind = expr_kind::name;
        e->name = t.text;
        if (!macros_.empty()) {
          macros_.back()->uses_varargs |= t.text == "varargs";
          macros_.back()->uses_kwargs |= t.text == "kwargs";
          macros_.back()->uses_caller |= t.text == "caller";
        }
      }
      return e;
    }
    if (t.kind == token_kind::string) {
      auto e = node(expr_kind::literal, t.line);
      std::string s;
      while (cur().kind == token_kind::string) s += next().text;
      e->constant = value(std::move(s));
      return e;
    }
    if (t.kind == token_kind::integer) {
      next();
      auto e = node(expr_kind::literal, t.line);
      errno = 0;
      const long long v = std::strtoll(t.text.c_str(), nullptr, 10);
      if (errno == ERANGE) throw template_error(t.line, "integer literal " + t.text + " is too large");
      e->constant = value(static_cast<std::int64_t>(v));
      return e;
    }
    if (t.kind == token_kind::floating) {
      next();
      auto e = node(expr_kind::literal, t.line);
      e->constant = value(std::strtod(t.text.c_str(), nullptr));
      return e;
    }
    if (is_op("(")) {
      next();
      auto e = parse_tuple(true, {}, true);
      expect_op(")", "closing '('");
      return e;
    }
    if (is_op("[")) {
      auto e = node(expr_kind::list, next().line);
      while (!is_op("]")) {
        if (!e->operands.empty()) expect_op(",", "between list items");
        if (is_op("]")) break;
        e->operands.push_back(parse_expression(true));
      }
      next();
      return e;
    }
    if (is_op("{")) {
      auto e = node(expr_kind::dict, next().line);
      while (!is_op("}")) {
        if (!e->operands.empty()) expect_op(",", "between dict items");
        if (is_op("}")) break;
        e->operands.push_back(parse_expression(true));
        expect_op(":", "after a dict key");
        e->operands.push_back(parse_expression(true));
      }
      next();
      return e;
    }
    fail("unexpected " + describe(t) + " in an expression");
  }

  expr_ptr parse_postfix(expr_ptr e) {
    for (;;) {
      if (is_op(".")) {
        const int line = next().line;
        if (cur().kind == token_kind::name) {
          auto a = node(expr_kind::attribute, line);
          a->name = next().text;
          a->operands.push_back(std::move(e));
          e = std::move(a);
        } else if (cur().kind == token_kind::integer) {
          auto s = node(expr_kind::subscript, line);
          auto index = node(expr_kind::literal, line);
          index->constant = value(static_cast<std::int64_t>(std::strtoll(next().text.c_str(), nullptr, 10)));
          s->operands.push_back(std::move(e));
          s->operands.push_back(std::move(index));
          e = std::move(s);
        } else {
          fail("expected an attribute name after '.', got " + describe(cur()));
        }
      } else if (is_op("[")) {
        e = parse_subscript(std::move(e));
      } else if (is_op("(")) {
        auto c = node(expr_kind::call, cur().line);
        c->operands.push_back(std::move(e));
        parse_call_args(*c);
        e = std::move(c);
      } else {
        return e;
      }
    }
  }

  expr_ptr parse_subscript(expr_ptr target) {
    const int line = next().line;  // '['
    expr_ptr parts[3];
    int colons = 0;
    for (;;) {
      if (is_op("]")) break;
      if (skip_op(":")) {
        if (++colons > 2) fail("too many ':' in a slice");
        continue;
      }
      if (parts[colons]) fail("expected ':' or ']' in a subscript, got " + describe(cur()));
      parts[colons] = parse_expression(true);
      if (colons == 0 && is_op(",")) fail("unsupported construct: tuple subscript");
    }
    next();
    if (colons == 0) {
      if (!parts[0]) fail("empty subscript '[]'");
      auto s = node(expr_kind::subscript, line);
      s->operands.push_back(std::move(target));
      s->operands.push_back(std::move(parts[0]));
      return s;
    }
    auto s = node(expr_kind::slice, line);
    s->operands.push_back(std::move(target));
    for (auto& p : parts) s->operands.push_back(std::move(p));
    return s;
  }

  void parse_call_args(expression& call) {
    expect_op("(", "to open the arguments");
    std::size_t count = 0;
    while (!is_op(")")) {
      if (count++ > 0) {
        expect_op(",", "between arguments");
        if (is_op(")")) break;
      }
      if (is_op("*") || is_op("**")) fail("unsupported construct: *args / **kwargs in a call");
      if (cur().kind == token_kind::name && peek().kind == token_kind::op && peek().text == "=") {
        std::string key = next().text;
        next();
        call.keywords.emplace_back(std::move(key), parse_expression(true));
      } else {
        if (!call.keywords.empty()) fail("positional argument follows keyword argument");
        call.operands.push_back(parse_expression(true));
      }
    }
    next();
  }

  std::string dotted_name(const char* where) {
    std::string name = expect_name(where);
    while (is_op(".")) {
      next();
      name += "." + expect_name(where);
    }
    return name;
  }

  /// `name(args)` after '|'; input is operand 0 (null for filter blocks and block sets).
  expr_ptr parse_filter(expr_ptr input) {
    const int line = cur().line;
    auto f = node(expr_kind::filter, line);
    f->name = dotted_name("as a filter name after '|'");
    if (!is_known_filter(f->name)) unknown_.emplace_back(line, "no filter named '" + f->name + "'");
    f->operands.push_back(std::move(input));
    if (is_op("(")) parse_call_args(*f);
    return f;
  }

  expr_ptr parse_filter_expr(expr_ptr e) {
    for (;;) {
      if (skip_op("|")) {
        e = parse_filter(std::move(e));
      } else if (is_name("is")) {
        const int line = next().line;
        auto t = node(expr_kind::test, line);
        t->negated = skip_name("not");
        t->name = dotted_name("as a test name after 'is'");
        if (!is_known_test(t->name)) unknown_.emplace_back(line, "no test named '" + t->name + "'");
        t->operands.push_back(std::move(e));
        if (is_op("(")) {
          parse_call_args(*t);
        } else if ((cur().kind == token_kind::name || cur().kind == token_kind::string ||
                    cur().kind == token_kind::integer || cur().kind == token_kind::floating || is_op("(") ||
                    is_op("[") || is_op("{")) &&
                   !is_name("else") && !is_name("or") && !is_name("and")) {
          if (is_name("is")) fail("you cannot chain multiple tests with 'is'");
          t->operands.push_back(parse_postfix(parse_primary()));
        }
        e = std::move(t);
      } else if (is_op("(")) {
        auto c = node(expr_kind::call, cur().line);
        c->operands.push_back(std::move(e));
        parse_call_args(*c);
        e = std::move(c);
      } else {
        return e;
      }
    }
  }

  std::vector<token> tokens_;
  std::size_t pos_ = 0;
  bool soft_ = false;  // directly inside an if: unknown filters/tests fail only when run
  int loop_depth_ = 0;
  int nesting_ = 0;
  std::vector<statement*> macros_;  // macros (and call blocks) being parsed, innermost last
  std::vector<std::pair<int, std::string>> unknown_;
};

}  // namespace

std::shared_ptr<template_node> parse_template(std::string_view source) { return parser(tokenize(source)).run(); }

}  // namespace kvactor::jinja
