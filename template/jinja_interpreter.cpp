// The evaluator: walks the AST with jinja2's scoping (a for iteration and a macro call get their own
// scope; if does not; set writes the innermost scope; namespace attributes are shared).
#include "template/jinja_interpreter.hpp"

#include <cmath>
#include <cstdint>
#include <unordered_map>

#include "template/jinja_builtins.hpp"
#include "template/jinja_template.hpp"

namespace kvactor::jinja {

namespace {

struct scope;
using scope_ptr = std::shared_ptr<scope>;

struct scope {
  std::unordered_map<std::string, value> vars;
  scope_ptr parent;

  const value* lookup(const std::string& name) const {
    for (const scope* s = this; s; s = s->parent.get()) {
      if (auto it = s->vars.find(name); it != s->vars.end()) return &it->second;
    }
    return nullptr;
  }
};

scope_ptr child_of(scope_ptr parent) {
  auto s = std::make_shared<scope>();
  s->parent = std::move(parent);
  return s;
}

enum class flow { normal, break_loop, continue_loop };

double as_double(const value& v) {
  return v.is_float() ? v.as_float() : v.is_int() ? static_cast<double>(v.as_int()) : (v.as_bool() ? 1.0 : 0.0);
}
std::int64_t as_integer(const value& v) { return v.is_int() ? v.as_int() : std::int64_t{v.as_bool()}; }

constexpr int max_call_depth = 200;
// A chat template does thousands of steps; a hostile one (nested range loops) must end with an error.
constexpr std::uint64_t max_steps = 2'000'000;
constexpr std::size_t max_output_bytes = std::size_t{64} << 20;
constexpr std::size_t max_string_bytes = std::size_t{16} << 20;  // one value (x ~ x doubling, replace)

class interpreter {
 public:
  explicit interpreter(const value& context) {
    auto globals = std::make_shared<scope>();
    dict_object builtins;
    install_globals(builtins);
    for (auto& [k, v] : builtins.entries) globals->vars[k] = v;
    top_ = child_of(globals);
    for (const auto& [k, v] : context.as_dict().entries) top_->vars[k] = v;
  }

  std::string run(const template_node& root) {
    std::string out;
    exec(root.body, top_, out);
    return out;
  }

 private:
  [[noreturn]] static void fail(int line, const std::string& message) { throw template_error(line, message); }

  // ---- statements ----
  flow exec(const stmt_list& body, const scope_ptr& sc, std::string& out) {
    for (const auto& s : body) {
      const flow f = exec(*s, sc, out);
      if (f != flow::normal) return f;
    }
    return flow::normal;
  }

  flow exec(const statement& s, const scope_ptr& sc, std::string& out) {
    if (++steps_ > max_steps) fail(s.line, "the template ran more than " + std::to_string(max_steps) + " steps");
    if (out.size() > max_output_bytes)
      fail(s.line, "the template's output passed " + std::to_string(max_output_bytes >> 20) + " MiB");
    switch (s.kind) {
      case stmt_kind::text: out += s.text; return flow::normal;
      case stmt_kind::print: out += to_str(eval(*s.expr, sc)); return flow::normal;
      case stmt_kind::if_:
        for (const auto& [condition, body] : s.branches) {
          if (!condition || truthy(eval(*condition, sc))) return exec(body, sc, out);
        }
        return flow::normal;
      case stmt_kind::for_: exec_for(s, sc, out); return flow::normal;
      case stmt_kind::set: assign(s.targets, eval(*s.expr, sc), sc, s.line); return flow::normal;
      case stmt_kind::set_block: {
        std::string captured;
        exec(s.body, child_of(sc), captured);
        assign(s.targets, apply_filters(s.filters, value(std::move(captured)), sc), sc, s.line);
        return flow::normal;
      }
      case stmt_kind::filter_block: {
        std::string captured;
        exec(s.body, child_of(sc), captured);
        out += to_str(apply_filters(s.filters, value(std::move(captured)), sc));
        return flow::normal;
      }
      case stmt_kind::macro: sc->vars[s.text] = make_macro(s, sc); return flow::normal;
      case stmt_kind::call_block: {
        // The call gets `caller`: a macro whose body is the block.
        const value caller = make_macro(s, sc);
        const expression& call = *s.expr;
        const value callee = eval(*call.operands[0], sc);
        call_arguments a = eval_arguments(call, sc);
        a.keyword.emplace_back("caller", caller);
        if (!callee.is_callable()) fail(s.line, "'{% call %}' needs a macro, got " + type_name(callee));
        out += to_str(guarded(s.line, [&] { return callee.as_callable().invoke(a); }));
        return flow::normal;
      }
      case stmt_kind::scope: exec(s.body, child_of(sc), out); return flow::normal;  // a call block in jinja2
      case stmt_kind::break_: return flow::break_loop;
      case stmt_kind::continue_: return flow::continue_loop;
    }
    return flow::normal;
  }

  void bind_targets(const std::vector<std::string>& targets, const value& v, scope& sc, int line) {
    if (targets.size() == 1) {
      sc.vars[targets[0]] = v;
      return;
    }
    std::vector<value> items;
    try {
      items = iterate(v);
    } catch (const builtin_error& e) {
      fail(line, std::string("cannot unpack: ") + e.what());
    }
    if (items.size() != targets.size()) {
      fail(line, "cannot unpack " + std::to_string(items.size()) + " values into " + std::to_string(targets.size()) +
                     " names");
    }
    for (std::size_t i = 0; i < targets.size(); ++i) sc.vars[targets[i]] = items[i];
  }

  void assign(const std::vector<std::string>& targets, const value& v, const scope_ptr& sc, int line) {
    const auto dot = targets[0].find('.');
    if (dot == std::string::npos) {
      bind_targets(targets, v, *sc, line);
      return;
    }
    const std::string ns_name = targets[0].substr(0, dot);
    const value* ns = sc->lookup(ns_name);
    if (!ns || !ns->is_dict() || !ns->as_dict().is_namespace) {
      fail(line, "cannot assign attribute on non-namespace object '" + ns_name + "'");
    }
    ns->as_dict().set(targets[0].substr(dot + 1), v);
  }

  value apply_filters(const std::vector<expr_ptr>& filters, value v, const scope_ptr& sc) {
    for (const auto& f : filters) v = call_filter(*f, v, sc);
    return v;
  }

  void exec_for(const statement& s, const scope_ptr& sc, std::string& out) {
    std::vector<value> items;
    const value iterable = eval(*s.expr, sc);
    try {
      items = iterate(iterable);
    } catch (const builtin_error& e) {
      fail(s.line, e.what());
    }
    if (s.loop_filter) {
      std::vector<value> kept;
      for (auto& item : items) {
        auto filter_scope = child_of(sc);
        bind_targets(s.targets, item, *filter_scope, s.line);
        if (truthy(eval(*s.loop_filter, filter_scope))) kept.push_back(std::move(item));
      }
      items = std::move(kept);
    }
    const auto n = static_cast<std::int64_t>(items.size());
    for (std::int64_t i = 0; i < n; ++i) {
      if (++steps_ > max_steps) fail(s.line, "the template ran more than " + std::to_string(max_steps) + " steps");
      auto iteration = child_of(sc);
      bind_targets(s.targets, items[static_cast<std::size_t>(i)], *iteration, s.line);
      auto loop = std::make_shared<dict_object>();
      loop->is_namespace = true;
      loop->entries = {
          {"index", value(i + 1)},
          {"index0", value(i)},
          {"revindex", value(n - i)},
          {"revindex0", value(n - i - 1)},
          {"first", value(i == 0)},
          {"last", value(i == n - 1)},
          {"length", value(n)},
          {"depth", value(std::int64_t{1})},
          {"depth0", value(std::int64_t{0})},
          {"previtem", i > 0 ? items[static_cast<std::size_t>(i - 1)] : value::undefined("there is no previous item")},
          {"nextitem", i + 1 < n ? items[static_cast<std::size_t>(i + 1)] : value::undefined("there is no next item")},
          {"cycle", make_callable("cycle", [i](const call_arguments& a) {
             if (a.positional.empty()) throw builtin_error("no items for cycling given");
             return a.positional[static_cast<std::size_t>(i) % a.positional.size()];
           })}};
      iteration->vars["loop"] = value(std::move(loop));
      if (exec(s.body, iteration, out) == flow::break_loop) break;
    }
    if (n == 0) exec(s.else_body, child_of(sc), out);
  }

  value make_macro(const statement& s, const scope_ptr& defining_scope) {
    const statement* macro = &s;
    // The scope holds the macro, so the macro holds its scope weakly (no reference cycle).
    std::weak_ptr<scope> weak_scope = defining_scope;
    return make_callable(s.text, [this, macro, weak_scope](const call_arguments& a) -> value {
      const scope_ptr defining = weak_scope.lock();
      if (!defining) throw builtin_error("macro '" + macro->text + "' called after the block defining it ended");
      if (a.positional.size() > macro->params.size() && !macro->uses_varargs) {
        throw builtin_error("macro '" + macro->text + "' takes not more than " + std::to_string(macro->params.size()) +
                            " argument(s)");
      }
      std::vector<value> extra_positional;
      for (std::size_t i = macro->params.size(); i < a.positional.size(); ++i)
        extra_positional.push_back(a.positional[i]);
      auto extra_keywords = make_dict();
      value caller = value::undefined("no caller was given to macro '" + macro->text + "'");
      for (const auto& [k, v] : a.keyword) {
        bool known = false;
        for (const auto& p : macro->params) known = known || p.name == k;
        if (known) continue;
        if (k == "caller" && macro->uses_caller) {
          caller = v;
        } else if (macro->uses_kwargs) {
          extra_keywords.as_dict().set(k, v);
        } else {
          throw builtin_error("macro '" + macro->text + "' takes no keyword argument '" + k + "'");
        }
      }
      if (++depth_ > max_call_depth) {
        --depth_;
        throw builtin_error("macro calls nested too deeply (recursion?)");
      }
      auto call_scope = child_of(defining);
      for (std::size_t i = 0; i < macro->params.size(); ++i) {
        const auto& p = macro->params[i];
        if (const value* given = a.get(i, p.name)) {
          call_scope->vars[p.name] = *given;
        } else if (p.default_value) {
          call_scope->vars[p.name] = eval(*p.default_value, call_scope);
        } else {
          call_scope->vars[p.name] = value::undefined("parameter '" + p.name + "' was not provided");
        }
      }
      if (macro->uses_varargs)
        call_scope->vars["varargs"] = make_list(std::move(extra_positional), sequence_kind::tuple);
      if (macro->uses_kwargs) call_scope->vars["kwargs"] = extra_keywords;
      if (macro->uses_caller) call_scope->vars["caller"] = caller;
      std::string out;
      try {
        exec(macro->body, call_scope, out);
      } catch (...) {
        --depth_;
        throw;
      }
      --depth_;
      return value(std::move(out));
    });
  }

  // ---- expressions ----
  call_arguments eval_arguments(const expression& e, const scope_ptr& sc) {
    call_arguments a;
    a.line = e.line;
    for (std::size_t i = 1; i < e.operands.size(); ++i) a.positional.push_back(eval(*e.operands[i], sc));
    for (const auto& [k, v] : e.keywords) a.keyword.emplace_back(k, eval(*v, sc));
    return a;
  }

  value call_filter(const expression& f, const value& input, const scope_ptr& sc) {
    const call_arguments a = eval_arguments(f, sc);
    try {
      return bounded(f.line, apply_filter(f.name, input, a));
    } catch (const builtin_error& e) {
      fail(f.line, "filter '" + f.name + "': " + e.what());
    }
  }

  static value bounded(int line, value v) {
    if (v.is_string() && v.as_string().size() > max_string_bytes) {
      fail(line, "a string of more than " + std::to_string(max_string_bytes >> 20) + " MiB");
    }
    return v;
  }

  value eval(const expression& e, const scope_ptr& sc) {
    switch (e.kind) {
      case expr_kind::literal: return e.constant;
      case expr_kind::name: {
        if (const value* v = sc->lookup(e.name)) return *v;
        return value::undefined("'" + e.name + "' is undefined");
      }
      case expr_kind::list:
      case expr_kind::tuple: {
        std::vector<value> items;
        for (const auto& o : e.operands) items.push_back(eval(*o, sc));
        return make_list(std::move(items), e.kind == expr_kind::tuple ? sequence_kind::tuple : sequence_kind::list);
      }
      case expr_kind::dict: {
        auto d = make_dict();
        for (std::size_t i = 0; i + 1 < e.operands.size(); i += 2) {
          const value key = eval(*e.operands[i], sc);
          const std::string k = guarded(e.line, [&] {
            try {
              return dict_key(key);
            } catch (const std::invalid_argument& err) {
              throw builtin_error(err.what());
            }
          });
          d.as_dict().set(k, eval(*e.operands[i + 1], sc));
        }
        return d;
      }
      case expr_kind::attribute:
        return guarded(e.line, [&] { return get_attribute(eval(*e.operands[0], sc), e.name); });
      case expr_kind::subscript: {
        const value object = eval(*e.operands[0], sc);
        const value key = eval(*e.operands[1], sc);
        return guarded(e.line, [&] { return get_item(object, key); });
      }
      case expr_kind::slice: {
        const value object = eval(*e.operands[0], sc);
        value bounds[3];
        for (int i = 0; i < 3; ++i) {
          if (e.operands[static_cast<std::size_t>(i) + 1])
            bounds[i] = eval(*e.operands[static_cast<std::size_t>(i) + 1], sc);
        }
        return guarded(e.line, [&] {
          return get_slice(object, e.operands[1] ? &bounds[0] : nullptr, e.operands[2] ? &bounds[1] : nullptr,
                           e.operands[3] ? &bounds[2] : nullptr);
        });
      }
      case expr_kind::call: {
        const value callee = eval(*e.operands[0], sc);
        const call_arguments a = eval_arguments(e, sc);
        if (callee.is_undefined()) fail(e.line, undefined_message(callee));
        if (!callee.is_callable()) fail(e.line, "'" + type_name(callee) + "' object is not callable");
        return bounded(e.line, guarded(e.line, [&] { return callee.as_callable().invoke(a); }));
      }
      case expr_kind::filter: return call_filter(e, eval(*e.operands[0], sc), sc);
      case expr_kind::test: {
        const value subject = eval(*e.operands[0], sc);
        const call_arguments a = eval_arguments(e, sc);
        const bool passed = guarded(e.line, [&] { return apply_test(e.name, subject, a); });
        return e.negated ? !passed : passed;
      }
      case expr_kind::unary: return unary(e, eval(*e.operands[0], sc));
      case expr_kind::binary: {
        if (e.name == "and") {
          value left = eval(*e.operands[0], sc);
          return truthy(left) ? eval(*e.operands[1], sc) : left;
        }
        if (e.name == "or") {
          value left = eval(*e.operands[0], sc);
          return truthy(left) ? left : eval(*e.operands[1], sc);
        }
        const value left = eval(*e.operands[0], sc);
        const value right = eval(*e.operands[1], sc);
        return bounded(e.line, binary(e, left, right));
      }
      case expr_kind::condition: {
        if (truthy(eval(*e.operands[0], sc))) return eval(*e.operands[1], sc);
        if (e.operands[2]) return eval(*e.operands[2], sc);
        return value::undefined("the inline if expression evaluated to false and no else section was defined");
      }
    }
    return value();
  }

  template <class F>
  auto guarded(int line, F&& f) -> decltype(f()) {
    try {
      return f();
    } catch (const builtin_error& err) {
      fail(line, err.what());
    }
  }

  value unary(const expression& e, const value& v) {
    if (e.name == "not") return !truthy(v);
    if (v.is_undefined()) fail(e.line, undefined_message(v));
    if (!v.is_number()) fail(e.line, "bad operand type for unary " + e.name + ": '" + type_name(v) + "'");
    if (e.name == "+") return v.is_bool() ? value(as_integer(v)) : v;
    if (v.is_float()) return -v.as_float();
    return -as_integer(v);
  }

  [[noreturn]] void unsupported(const expression& e, const value& a, const value& b) {
    if (a.is_undefined()) fail(e.line, undefined_message(a));
    if (b.is_undefined()) fail(e.line, undefined_message(b));
    fail(e.line, "unsupported operand type(s) for " + e.name + ": '" + type_name(a) + "' and '" + type_name(b) + "'");
  }

  value binary(const expression& e, const value& a, const value& b) {
    const std::string& op = e.name;
    if (op == "~") return to_str(a) + to_str(b);
    if (op == "==") return equals(a, b);
    if (op == "!=") return !equals(a, b);
    if (op == "in" || op == "not in") {
      const bool found = guarded(e.line, [&] { return contains(b, a); });
      return op == "in" ? found : !found;
    }
    if (op == "<" || op == ">" || op == "<=" || op == ">=") {
      const bool swap = op == ">" || op == "<=";
      const auto r = swap ? less_than(b, a) : less_than(a, b);
      if (!r || a.is_undefined() || b.is_undefined()) {
        if (a.is_undefined()) fail(e.line, undefined_message(a));
        if (b.is_undefined()) fail(e.line, undefined_message(b));
        fail(e.line,
             "'" + op + "' not supported between instances of '" + type_name(a) + "' and '" + type_name(b) + "'");
      }
      return (op == "<" || op == ">") ? *r : !*r;
    }
    if (a.is_number() && b.is_number()) return arithmetic(e, a, b);
    if (op == "+") {
      if (a.is_markup() && b.is_string())
        return value::markup(a.as_string() + (b.is_markup() ? b.as_string() : html_escape(b.as_string())));
      if (b.is_markup() && a.is_string()) return value::markup(html_escape(a.as_string()) + b.as_string());
      if (a.is_string() && b.is_string()) return a.as_string() + b.as_string();
      if (a.is_list() && b.is_list() && !a.as_list().is_generator() && a.as_list().kind == b.as_list().kind) {
        auto items = a.as_list().items;
        items.insert(items.end(), b.as_list().items.begin(), b.as_list().items.end());
        return make_list(std::move(items), a.as_list().kind);
      }
    }
    if (op == "*") {
      const value& seq = a.is_number() ? b : a;
      const value& count = a.is_number() ? a : b;
      if ((count.is_int() || count.is_bool()) &&
          (seq.is_string() || (seq.is_list() && !seq.as_list().is_generator()))) {
        const auto n = std::max<std::int64_t>(0, as_integer(count));
        if (seq.is_string()) {
          if (n * static_cast<std::int64_t>(seq.as_string().size()) > (1 << 24))
            fail(e.line, "string repetition too large");
          std::string out;
          for (std::int64_t i = 0; i < n; ++i) out += seq.as_string();
          return out;
        }
        std::vector<value> items;
        for (std::int64_t i = 0; i < n && items.size() < (1u << 20); ++i) {
          items.insert(items.end(), seq.as_list().items.begin(), seq.as_list().items.end());
        }
        return make_list(std::move(items), seq.as_list().kind);
      }
    }
    if (op == "%" && a.is_string()) return guarded(e.line, [&] { return value(percent_format(a.as_string(), b)); });
    unsupported(e, a, b);
  }

  value arithmetic(const expression& e, const value& a, const value& b) {
    const std::string& op = e.name;
    const bool integral = !a.is_float() && !b.is_float();
    if (op == "/") {
      if (as_double(b) == 0.0) fail(e.line, "division by zero");
      return as_double(a) / as_double(b);
    }
    if (integral) {
      const auto x = as_integer(a);
      const auto y = as_integer(b);
      if (op == "+") return x + y;
      if (op == "-") return x - y;
      if (op == "*") return x * y;
      if (op == "//" || op == "%") {
        if (y == 0) fail(e.line, "integer division or modulo by zero");
        auto q = x / y;
        auto r = x % y;
        if (r != 0 && ((r < 0) != (y < 0))) {
          --q;
          r += y;
        }
        return op == "//" ? q : r;
      }
      if (op == "**") {
        if (y < 0) return std::pow(static_cast<double>(x), static_cast<double>(y));
        std::int64_t result = 1;
        for (std::int64_t i = 0; i < y; ++i) {
          if (std::abs(static_cast<double>(result) * static_cast<double>(x)) > 9.2e18)
            fail(e.line, "integer power too large");
          result *= x;
        }
        return result;
      }
    }
    const double x = as_double(a);
    const double y = as_double(b);
    if (op == "+") return x + y;
    if (op == "-") return x - y;
    if (op == "*") return x * y;
    if (op == "**") return std::pow(x, y);
    if (op == "//" || op == "%") {
      if (y == 0.0) fail(e.line, "float division or modulo by zero");
      double r = std::fmod(x, y);
      if (r != 0.0 && ((r < 0) != (y < 0))) r += y;
      return op == "%" ? r : std::floor(x / y);
    }
    fail(e.line, "unknown operator " + op);
  }

  scope_ptr top_;
  int depth_ = 0;
  std::uint64_t steps_ = 0;
};

}  // namespace

std::string render_template(const template_node& root, const value& context) { return interpreter(context).run(root); }

}  // namespace kvactor::jinja
