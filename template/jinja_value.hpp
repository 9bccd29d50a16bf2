#pragma once
// Values of the Jinja interpreter: one small variant with Python's data model (what jinja2 sees when
// transformers renders a chat template from JSON). Undefined is distinct from none; lists, dicts and
// callables are shared (reference semantics, as in Python); dicts keep insertion order.
#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace kvactor::jinja {

struct value;

/// An undefined name or attribute; `hint` names it for error messages ("'x' is undefined").
struct undefined_value {
  std::string hint;
};

/// jinja2's Markup (what |safe returns): a str whose `+` escapes the plain str on the other side.
struct markup_value {
  std::string text;
};

/// Python's list, tuple (printed as (a, b)) and generator (what map/select/items return: always
/// true, no len(), not JSON serializable, not subscriptable).
enum class sequence_kind { list, tuple, generator };

struct list_object {
  std::vector<value> items;
  sequence_kind kind = sequence_kind::list;
  bool consumed = false;  // a generator yields its items once
  bool is_tuple() const { return kind == sequence_kind::tuple; }
  bool is_generator() const { return kind == sequence_kind::generator; }
};

struct dict_object {
  std::vector<std::pair<std::string, value>> entries;  // insertion order
  bool is_namespace = false;                           // namespace(): attributes only, assignable by set

  const value* find(const std::string& key) const;
  void set(const std::string& key, value v);
};

/// Arguments of a call: positional then keyword, as written.
struct call_arguments {
  std::vector<value> positional;
  std::vector<std::pair<std::string, value>> keyword;
  int line = 0;

  /// The argument named `name` or at `index` (index < 0: keyword only); nullptr when absent.
  const value* get(std::size_t index, const std::string& name) const;
};

struct callable_object {
  std::string name;
  std::function<value(const call_arguments&)> invoke;
};

using list_ptr = std::shared_ptr<list_object>;
using dict_ptr = std::shared_ptr<dict_object>;
using callable_ptr = std::shared_ptr<callable_object>;

struct value {
  std::variant<undefined_value, std::nullptr_t, bool, std::int64_t, double, std::string, list_ptr, dict_ptr,
               callable_ptr, markup_value>
      data;

  value() : data(undefined_value{}) {}
  value(std::nullptr_t) : data(nullptr) {}
  value(bool b) : data(b) {}
  value(int i) : data(std::int64_t{i}) {}
  value(std::int64_t i) : data(i) {}
  value(double d) : data(d) {}
  value(std::string s) : data(std::move(s)) {}
  value(const char* s) : data(std::string(s)) {}
  value(list_ptr l) : data(std::move(l)) {}
  value(dict_ptr d) : data(std::move(d)) {}
  value(callable_ptr c) : data(std::move(c)) {}
  static value markup(std::string text) {
    value v;
    v.data = markup_value{std::move(text)};
    return v;
  }
  static value undefined(std::string hint) {
    value v;
    v.data = undefined_value{std::move(hint)};
    return v;
  }

  bool is_undefined() const { return std::holds_alternative<undefined_value>(data); }
  bool is_none() const { return std::holds_alternative<std::nullptr_t>(data); }
  bool is_bool() const { return std::holds_alternative<bool>(data); }
  bool is_int() const { return std::holds_alternative<std::int64_t>(data); }
  bool is_float() const { return std::holds_alternative<double>(data); }
  bool is_number() const { return is_int() || is_float() || is_bool(); }
  bool is_string() const { return std::holds_alternative<std::string>(data) || is_markup(); }
  bool is_markup() const { return std::holds_alternative<markup_value>(data); }
  bool is_list() const { return std::holds_alternative<list_ptr>(data); }
  bool is_dict() const { return std::holds_alternative<dict_ptr>(data); }
  bool is_mapping() const { return is_dict() && !as_dict().is_namespace; }
  bool is_callable() const { return std::holds_alternative<callable_ptr>(data); }

  bool as_bool() const { return std::get<bool>(data); }
  std::int64_t as_int() const { return std::get<std::int64_t>(data); }
  double as_float() const { return std::get<double>(data); }
  const std::string& as_string() const {
    return is_markup() ? std::get<markup_value>(data).text : std::get<std::string>(data);
  }
  list_object& as_list() const { return *std::get<list_ptr>(data); }
  dict_object& as_dict() const { return *std::get<dict_ptr>(data); }
  const callable_object& as_callable() const { return *std::get<callable_ptr>(data); }
  const std::string& undefined_hint() const { return std::get<undefined_value>(data).hint; }
};

value make_list(std::vector<value> items = {}, sequence_kind kind = sequence_kind::list);
value make_dict();
value make_callable(std::string name, std::function<value(const call_arguments&)> invoke);

/// Dict keys are strings; other hashable keys (ints, floats, bools, none, as in `{0: 1}`) are stored
/// encoded (Python's 1 == 1.0 == True share a key). dict_key throws std::invalid_argument for
/// unhashable values (lists, dicts).
std::string dict_key(const value& key);
value key_value(const std::string& key);
/// HTML escaping as markupsafe does it (& < > " ').
std::string html_escape(const std::string& s);

/// From JSON, keeping object key order as iterated (ordered_json keeps the document's order).
value from_json(const nlohmann::json& j);
value from_json(const nlohmann::ordered_json& j);

/// Python's truth value (undefined, none, 0, "", [] and {} are false).
bool truthy(const value& v);
/// Python's str(): what `{{ v }}` prints (undefined prints nothing).
std::string to_str(const value& v);
/// Python's repr() (strings quoted), used inside printed lists and dicts.
std::string to_repr(const value& v);
/// Python's float repr: shortest round-trip digits, 1.0, 1e-05, 1e+16.
std::string float_repr(double d);
/// Python type name, for error messages ("int", "str", "dict", ...).
std::string type_name(const value& v);

/// Python ==, deep for lists and dicts; numbers compare across int, float and bool.
bool equals(const value& a, const value& b);
/// Python <; nullopt when the types are not orderable (a TypeError in Python).
std::optional<bool> less_than(const value& a, const value& b);

/// Options of transformers' tojson: json.dumps(x, ensure_ascii=False, indent, separators, sort_keys).
struct json_dump_options {
  std::optional<std::string> indent;  // nullopt: one line
  std::string item_separator = ", ";
  std::string key_separator = ": ";
  bool sort_keys = false;
  bool ensure_ascii = false;
};
/// json.dumps; throws std::invalid_argument naming the type that is not JSON serializable.
std::string dump_json(const value& v, const json_dump_options& options);

// Strings are UTF-8; these count and cut in code points as Python's str does.
std::u32string utf8_decode(const std::string& s);
std::string utf8_encode(const std::u32string& s);
std::size_t utf8_length(const std::string& s);

}  // namespace kvactor::jinja
