// Filters, tests and global functions, with jinja2 3.1's semantics (and transformers' tojson,
// raise_exception and strftime_now).
#include "template/jinja_builtins.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <string_view>

#include "template/jinja_parser.hpp"
#include "template/jinja_template.hpp"

namespace kvactor::jinja {

namespace {

const char* const filter_names[] = {
    "abs",   "attr",   "batch",  "capitalize", "center",  "count",   "d",      "default", "dictsort", "first",
    "float", "indent", "int",    "items",      "join",    "last",    "length", "list",    "lower",    "map",
    "max",   "min",    "reject", "rejectattr", "replace", "reverse", "round",  "safe",    "select",   "selectattr",
    "sort",  "string", "sum",    "title",      "tojson",  "trim",    "unique", "upper",   "wordcount"};

const char* const test_names[] = {
    "boolean",  "callable", "defined",  "divisibleby", "eq",          "equalto", "escaped", "even",
    "false",    "filter",   "float",    "ge",          "greaterthan", "gt",      "in",      "integer",
    "iterable", "le",       "lessthan", "lower",       "lt",          "mapping", "ne",      "none",
    "number",   "odd",      "sameas",   "sequence",    "string",      "test",    "true",    "undefined",
    "upper",    "==",       "!=",       "<",           "<=",          ">",       ">="};

template <std::size_t N>
bool listed(const char* const (&names)[N], const std::string& name) {
  return std::find_if(std::begin(names), std::end(names), [&](const char* n) { return name == n; }) != std::end(names);
}

const value* arg(const call_arguments& a, std::size_t index, const char* name) { return a.get(index, name); }

bool bool_arg(const call_arguments& a, std::size_t index, const char* name, bool fallback) {
  const value* v = arg(a, index, name);
  return v ? truthy(*v) : fallback;
}

std::int64_t int_arg(const call_arguments& a, std::size_t index, const char* name, std::int64_t fallback) {
  const value* v = arg(a, index, name);
  if (!v) return fallback;
  if (v->is_int()) return v->as_int();
  if (v->is_bool()) return v->as_bool();
  throw builtin_error(std::string("argument '") + name + "' must be an integer, not " + type_name(*v));
}

/// Widths (indent, center, tojson's indent) beyond any template's need are refused, not allocated.
std::size_t checked_width(std::int64_t width, const char* what) {
  if (width > 10000) throw builtin_error(std::string(what) + " above 10000");
  return static_cast<std::size_t>(std::max<std::int64_t>(0, width));
}

void at_most(const call_arguments& a, std::size_t n, const std::string& what) {
  if (a.positional.size() > n) throw builtin_error(what + "() got too many arguments");
}

std::size_t checked_length(const value& v) {
  if (v.is_undefined()) return 0;
  if (v.is_string()) return utf8_length(v.as_string());
  if (v.is_list() && !v.as_list().is_generator()) return v.as_list().items.size();
  if (v.is_mapping()) return v.as_dict().entries.size();
  throw builtin_error("object of type '" + type_name(v) + "' has no len()");
}

/// jinja2's environment.getattr for `attribute=` arguments: dotted paths, integer parts as indexes.
value attribute_path(const value& item, const std::string& path) {
  value v = item;
  std::size_t start = 0;
  for (;;) {
    const auto dot = path.find('.', start);
    const std::string part = path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    const bool numeric =
        !part.empty() && std::all_of(part.begin(), part.end(), [](char c) { return c >= '0' && c <= '9'; });
    std::int64_t index = 0;
    if (!numeric) {
      v = get_item(v, value(part));
    } else if (std::from_chars(part.data(), part.data() + part.size(), index).ec == std::errc()) {
      v = get_item(v, value(index));
    } else {
      v = value();  // an index past int64 matches no item: jinja2's lookup gives undefined
    }
    if (dot == std::string::npos) return v;
    start = dot + 1;
  }
}

value lower_if_string(const value& v, bool case_sensitive) {
  if (case_sensitive || !v.is_string()) return v;
  call_arguments none;
  return get_attribute(v, "lower").as_callable().invoke(none);
}

bool python_less(const value& a, const value& b) {
  const auto r = less_than(a, b);
  if (!r)
    throw builtin_error("'<' not supported between instances of '" + type_name(a) + "' and '" + type_name(b) + "'");
  return *r;
}

std::vector<value> sorted(std::vector<value> items, bool reverse, const std::function<value(const value&)>& key) {
  std::vector<std::pair<value, value>> keyed;
  keyed.reserve(items.size());
  for (auto& i : items) keyed.emplace_back(key(i), std::move(i));
  std::stable_sort(keyed.begin(), keyed.end(), [&](const auto& x, const auto& y) {
    return reverse ? python_less(y.first, x.first) : python_less(x.first, y.first);
  });
  std::vector<value> out;
  for (auto& [k, v] : keyed) out.push_back(std::move(v));
  return out;
}

value generator(std::vector<value> items) { return make_list(std::move(items), sequence_kind::generator); }

/// The remaining arguments of select/reject-style filters, starting at `from`.
call_arguments shifted(const call_arguments& a, std::size_t from) {
  call_arguments out;
  out.line = a.line;
  for (std::size_t i = from; i < a.positional.size(); ++i) out.positional.push_back(a.positional[i]);
  out.keyword = a.keyword;
  return out;
}

value select_or_reject(const value& input, const call_arguments& a, bool by_attribute, bool select) {
  std::size_t next = 0;
  std::string attribute;
  if (by_attribute) {
    const value* attr = arg(a, 0, "attribute");
    if (!attr || !attr->is_string()) throw builtin_error("selectattr/rejectattr need an attribute name");
    attribute = attr->as_string();
    next = 1;
  }
  std::string test;
  if (next < a.positional.size()) {
    if (!a.positional[next].is_string()) throw builtin_error("the test name must be a string");
    test = a.positional[next].as_string();
    if (!is_known_test(test)) throw builtin_error("no test named '" + test + "'");
  }
  call_arguments test_args = shifted(a, next + 1);
  if (by_attribute) test_args.keyword.clear();
  std::vector<value> out;
  if (!truthy(input)) return generator({});  // jinja2: `if seq:` before iterating
  for (const auto& item : iterate(input)) {
    const value subject = by_attribute ? attribute_path(item, attribute) : item;
    const bool passed = test.empty() ? truthy(subject) : apply_test(test, subject, test_args);
    if (passed == select) out.push_back(item);
  }
  return generator(std::move(out));
}

value do_map(const value& input, const call_arguments& a) {
  std::vector<value> out;
  if (!truthy(input)) return generator({});  // jinja2: `if value:` before iterating
  if (const value* attr = arg(a, static_cast<std::size_t>(-1), "attribute")) {
    if (!attr->is_string()) throw builtin_error("map(attribute=) needs a string");
    const value* fallback = arg(a, static_cast<std::size_t>(-1), "default");
    for (const auto& item : iterate(input)) {
      value v = attribute_path(item, attr->as_string());
      out.push_back(v.is_undefined() && fallback ? *fallback : v);
    }
    return generator(std::move(out));
  }
  if (a.positional.empty() || !a.positional[0].is_string())
    throw builtin_error("map() needs a filter name or attribute=");
  const std::string filter = a.positional[0].as_string();
  if (!is_known_filter(filter)) throw builtin_error("no filter named '" + filter + "'");
  const call_arguments rest = shifted(a, 1);
  for (const auto& item : iterate(input)) out.push_back(apply_filter(filter, item, rest));
  return generator(std::move(out));
}

value do_tojson(const value& input, const call_arguments& a) {
  json_dump_options o;
  if (const value* indent = arg(a, 0, "indent"); indent && !indent->is_none()) {
    if (indent->is_string()) {
      o.indent = indent->as_string();
    } else if (indent->is_int()) {
      o.indent = std::string(checked_width(indent->as_int(), "tojson indent"), ' ');
    } else {
      throw builtin_error("tojson indent must be an int or a string");
    }
    o.item_separator = ",";
  }
  o.ensure_ascii = bool_arg(a, static_cast<std::size_t>(-1), "ensure_ascii", false);
  if (const value* sep = arg(a, static_cast<std::size_t>(-1), "separators"); sep && !sep->is_none()) {
    if (!sep->is_list() || sep->as_list().items.size() != 2 || !sep->as_list().items[0].is_string() ||
        !sep->as_list().items[1].is_string()) {
      throw builtin_error("tojson separators must be a pair of strings");
    }
    o.item_separator = sep->as_list().items[0].as_string();
    o.key_separator = sep->as_list().items[1].as_string();
  }
  o.sort_keys = bool_arg(a, static_cast<std::size_t>(-1), "sort_keys", false);
  try {
    return dump_json(input, o);
  } catch (const std::invalid_argument& e) {
    throw builtin_error(e.what());
  }
}

value do_indent(const value& input, const call_arguments& a) {
  std::string indentation = "    ";
  if (const value* w = arg(a, 0, "width")) {
    if (w->is_string())
      indentation = w->as_string();
    else
      indentation = std::string(checked_width(int_arg(a, 0, "width", 4), "indent width"), ' ');
  }
  const bool first = bool_arg(a, 1, "first", false);
  const bool blank = bool_arg(a, 2, "blank", false);
  const std::vector<std::string> lines = py_splitlines(to_str(input) + "\n");
  std::string rv;
  if (blank) {
    for (std::size_t i = 0; i < lines.size(); ++i) rv += (i ? "\n" + indentation : "") + lines[i];
  } else {
    rv = lines.empty() ? "" : lines[0];
    for (std::size_t i = 1; i < lines.size(); ++i) rv += "\n" + (lines[i].empty() ? "" : indentation + lines[i]);
  }
  return first ? indentation + rv : rv;
}

value do_int(const value& input, const call_arguments& a) {
  const value fallback = arg(a, 0, "default") ? *arg(a, 0, "default") : value(std::int64_t{0});
  if (input.is_int()) return input;
  if (input.is_bool()) return std::int64_t{input.as_bool()};
  if (input.is_float()) return static_cast<std::int64_t>(std::trunc(input.as_float()));
  if (input.is_string()) {
    const std::string s = py_strip(input.as_string(), nullptr, true, true);
    char* end = nullptr;
    const long long i = std::strtoll(s.c_str(), &end, 10);
    if (!s.empty() && *end == '\0') return static_cast<std::int64_t>(i);
    const double d = std::strtod(s.c_str(), &end);
    if (!s.empty() && *end == '\0' && std::isfinite(d)) return static_cast<std::int64_t>(std::trunc(d));
  }
  return fallback;
}

value do_float(const value& input, const call_arguments& a) {
  const value fallback = arg(a, 0, "default") ? *arg(a, 0, "default") : value(0.0);
  if (input.is_float()) return input;
  if (input.is_int()) return static_cast<double>(input.as_int());
  if (input.is_bool()) return input.as_bool() ? 1.0 : 0.0;
  if (input.is_string()) {
    const std::string s = py_strip(input.as_string(), nullptr, true, true);
    char* end = nullptr;
    const double d = std::strtod(s.c_str(), &end);
    if (!s.empty() && *end == '\0') return d;
  }
  return fallback;
}

value do_round(const value& input, const call_arguments& a) {
  const auto precision = int_arg(a, 0, "precision", 0);
  const value* method_arg = arg(a, 1, "method");
  const std::string method = method_arg && method_arg->is_string() ? method_arg->as_string() : "common";
  if (!input.is_number()) throw builtin_error("round needs a number, not " + type_name(input));
  const double x = input.is_float() ? input.as_float()
                   : input.is_int() ? static_cast<double>(input.as_int())
                                    : input.as_bool();
  const double scale = std::pow(10.0, static_cast<double>(precision));
  double r;
  if (method == "common")
    r = std::nearbyint(x * scale) / scale;  // Python's round: half to even
  else if (method == "ceil")
    r = std::ceil(x * scale) / scale;
  else if (method == "floor")
    r = std::floor(x * scale) / scale;
  else
    throw builtin_error("method must be common, ceil or floor");
  return r;
}

value min_or_max(const value& input, const call_arguments& a, bool want_max) {
  const bool case_sensitive = bool_arg(a, 0, "case_sensitive", false);
  const value* attr = arg(a, 1, "attribute");
  auto items = iterate(input);
  if (items.empty()) return value::undefined("No aggregated item, sequence was empty.");
  auto key = [&](const value& v) {
    return lower_if_string(attr && attr->is_string() ? attribute_path(v, attr->as_string()) : v, case_sensitive);
  };
  value best = items[0];
  for (std::size_t i = 1; i < items.size(); ++i) {
    if (want_max ? python_less(key(best), key(items[i])) : python_less(key(items[i]), key(best))) best = items[i];
  }
  return best;
}

std::string jinja_title(const std::string& s) {
  // jinja2's do_title: words split on runs of [-\s({[<], first letter upper, rest lower.
  std::string out;
  bool word_start = true;
  call_arguments none;
  for (char32_t c : utf8_decode(s)) {
    const std::string ch = utf8_encode(std::u32string(1, c));
    const bool separator = c == '-' || c == '(' || c == '{' || c == '[' || c == '<' || c == ' ' || c == '\t' ||
                           c == '\n' || c == '\r' || c == '\f' || c == '\v';
    if (separator) {
      out += ch;
      word_start = true;
      continue;
    }
    out += get_attribute(value(ch), word_start ? "upper" : "lower").as_callable().invoke(none).as_string();
    word_start = false;
  }
  return out;
}

/// strftime_now's clock: KVACTOR_TEMPLATE_NOW (YYYY-MM-DD[THH:MM[:SS]]) when set, else the local time.
std::tm template_now() {
  std::tm tm{};
  if (const char* fixed = std::getenv("KVACTOR_TEMPLATE_NOW"); fixed && *fixed) {
    int y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0;
    const int n = std::sscanf(fixed, "%d-%d-%d%*c%d:%d:%d", &y, &mo, &d, &h, &mi, &s);
    if (n < 3) throw builtin_error(std::string("KVACTOR_TEMPLATE_NOW is not an ISO date-time: ") + fixed);
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = s;
    const std::time_t t = timegm(&tm);  // normalises and fills the weekday and day of the year
    gmtime_r(&t, &tm);
    return tm;
  }
  const std::time_t t = std::time(nullptr);
  localtime_r(&t, &tm);
  return tm;
}

}  // namespace

/// snprintf into a string of the size it needs (width and precision are capped by the caller).
template <class T>
std::string c_format(const std::string& spec, T argument) {
  const int n = std::snprintf(nullptr, 0, spec.c_str(), argument);
  if (n < 0) throw builtin_error("bad format '" + spec + "'");
  std::string out(static_cast<std::size_t>(n) + 1, '\0');
  std::snprintf(out.data(), out.size(), spec.c_str(), argument);
  out.resize(static_cast<std::size_t>(n));
  return out;
}

std::string percent_format(const std::string& format, const value& args) {
  std::vector<value> positional;
  const bool by_name = args.is_mapping();
  if (args.is_list() && args.as_list().is_tuple())
    positional = args.as_list().items;
  else if (!by_name)
    positional.push_back(args);
  std::size_t next = 0;
  std::string out;
  for (std::size_t i = 0; i < format.size(); ++i) {
    if (format[i] != '%') {
      out += format[i];
      continue;
    }
    if (++i >= format.size()) throw builtin_error("incomplete format");
    if (format[i] == '%') {
      out += '%';
      continue;
    }
    const value* arg_value = nullptr;
    if (format[i] == '(') {
      const auto close = format.find(')', i);
      if (!by_name || close == std::string::npos) throw builtin_error("format requires a mapping");
      arg_value = args.as_dict().find(format.substr(i + 1, close - i - 1));
      if (!arg_value) throw builtin_error("KeyError: '" + format.substr(i + 1, close - i - 1) + "'");
      i = close + 1;
    }
    std::string spec = "%";
    while (i < format.size() && std::string_view("-+ #0").find(format[i]) != std::string_view::npos)
      spec += format[i++];
    while (i < format.size() && std::isdigit(static_cast<unsigned char>(format[i]))) spec += format[i++];
    if (i < format.size() && format[i] == '.') {
      spec += format[i++];
      while (i < format.size() && std::isdigit(static_cast<unsigned char>(format[i]))) spec += format[i++];
    }
    if (i >= format.size()) throw builtin_error("incomplete format");
    for (std::size_t k = 1, digits = 0; k < spec.size(); ++k) {
      digits = std::isdigit(static_cast<unsigned char>(spec[k])) ? digits + 1 : 0;
      if (digits > 4) throw builtin_error("format width or precision above 9999");
    }
    const char conversion = format[i];
    if (!arg_value) {
      if (next >= positional.size()) throw builtin_error("not enough arguments for format string");
      arg_value = &positional[next++];
    }
    const value& v = *arg_value;
    auto number = [&]() -> double {
      if (v.is_int()) return static_cast<double>(v.as_int());
      if (v.is_float()) return v.as_float();
      if (v.is_bool()) return v.as_bool();
      throw builtin_error(std::string("%") + conversion + " format: a real number is required, not " + type_name(v));
    };
    switch (conversion) {
      case 's':
      case 'r': {
        const std::string text = conversion == 's' ? to_str(v) : to_repr(v);
        out += spec == "%" ? text : c_format(spec + "s", text.c_str());
        break;
      }
      case 'd':
      case 'i':
      case 'x':
      case 'X':
      case 'o': {
        if (!v.is_number())
          throw builtin_error(std::string("%") + conversion + " format: a number is required, not " + type_name(v));
        const auto n = v.is_int()    ? v.as_int()
                       : v.is_bool() ? std::int64_t{v.as_bool()}
                                     : static_cast<std::int64_t>(std::trunc(v.as_float()));
        out += c_format(spec + "ll" + (conversion == 'i' ? 'd' : conversion), static_cast<long long>(n));
        break;
      }
      case 'f':
      case 'F':
      case 'e':
      case 'E':
      case 'g':
      case 'G': out += c_format(spec + conversion, number()); break;
      case 'c':
        if (v.is_string() && utf8_length(v.as_string()) == 1)
          out += v.as_string();
        else if (v.is_int())
          out += utf8_encode(std::u32string(1, static_cast<char32_t>(v.as_int())));
        else
          throw builtin_error("%c requires an int or a single character");
        break;
      default: throw builtin_error(std::string("unsupported format character '") + conversion + "'");
    }
  }
  if (!by_name && next < positional.size()) throw builtin_error("not all arguments converted during string formatting");
  return out;
}

bool is_known_filter(const std::string& name) { return listed(filter_names, name); }
bool is_known_test(const std::string& name) { return listed(test_names, name); }

value apply_filter(const std::string& name, const value& input, const call_arguments& a) {
  if (name == "length" || name == "count") return static_cast<std::int64_t>(checked_length(input));
  if (name == "safe") return input.is_markup() ? input : value::markup(to_str(input));
  if (name == "string") return to_str(input);
  if (name == "tojson") return do_tojson(input, a);
  if (name == "default" || name == "d") {
    const value* fallback = arg(a, 0, "default_value");
    const bool boolean = bool_arg(a, 1, "boolean", false);
    if (input.is_undefined() || (boolean && !truthy(input))) return fallback ? *fallback : value(std::string());
    return input;
  }
  if (name == "trim") return py_strip(to_str(input), arg(a, 0, "chars"), true, true);
  if (name == "upper" || name == "lower" || name == "capitalize") {
    call_arguments none;
    return get_attribute(value(to_str(input)), name).as_callable().invoke(none);
  }
  if (name == "title") return jinja_title(to_str(input));
  if (name == "replace") {
    call_arguments r;
    const value* old = arg(a, 0, "old");
    const value* replacement = arg(a, 1, "new");
    if (!old || !replacement) throw builtin_error("replace needs old and new");
    r.positional = {value(to_str(*old)), value(to_str(*replacement))};
    if (const value* count = arg(a, 2, "count"); count && !count->is_none()) r.positional.push_back(*count);
    return get_attribute(value(to_str(input)), "replace").as_callable().invoke(r);
  }
  if (name == "join") {
    const value* sep = arg(a, 0, "d");
    const value* attr = arg(a, 1, "attribute");
    std::string out;
    bool first = true;
    for (const auto& item : iterate(input)) {
      if (!first) out += sep ? to_str(*sep) : "";
      first = false;
      out += to_str(attr && !attr->is_none() ? attribute_path(item, to_str(*attr)) : item);
    }
    return out;
  }
  if (name == "first" || name == "last") {
    auto items = iterate(input);
    if (items.empty()) return value::undefined("No " + name + " item, sequence was empty.");
    return name == "first" ? items.front() : items.back();
  }
  if (name == "list") return make_list(iterate(input));
  if (name == "items") {
    if (input.is_undefined()) return generator({});
    if (!input.is_mapping()) throw builtin_error("items filter needs a mapping, not " + type_name(input));
    std::vector<value> out;
    for (const auto& [k, v] : input.as_dict().entries)
      out.push_back(make_list({key_value(k), v}, sequence_kind::tuple));
    return generator(std::move(out));
  }
  if (name == "dictsort") {
    if (!input.is_mapping()) throw builtin_error("dictsort needs a mapping, not " + type_name(input));
    const bool case_sensitive = bool_arg(a, 0, "case_sensitive", false);
    const value* by = arg(a, 1, "by");
    const bool by_value = by && by->is_string() && by->as_string() == "value";
    if (by && !(by->is_string() && (by->as_string() == "key" || by->as_string() == "value"))) {
      throw builtin_error("You can only sort by either 'key' or 'value'");
    }
    const bool reverse = bool_arg(a, 2, "reverse", false);
    std::vector<value> pairs;
    for (const auto& [k, v] : input.as_dict().entries)
      pairs.push_back(make_list({key_value(k), v}, sequence_kind::tuple));
    return make_list(sorted(std::move(pairs), reverse, [&](const value& p) {
      return lower_if_string(p.as_list().items[by_value ? 1 : 0], case_sensitive);
    }));
  }
  if (name == "sort") {
    const bool reverse = bool_arg(a, 0, "reverse", false);
    const bool case_sensitive = bool_arg(a, 1, "case_sensitive", false);
    const value* attr = arg(a, 2, "attribute");
    return make_list(sorted(iterate(input), reverse, [&](const value& v) {
      return lower_if_string(attr && !attr->is_none() ? attribute_path(v, to_str(*attr)) : v, case_sensitive);
    }));
  }
  if (name == "unique") {
    const bool case_sensitive = bool_arg(a, 0, "case_sensitive", false);
    const value* attr = arg(a, 1, "attribute");
    std::vector<value> seen;
    std::vector<value> out;
    for (const auto& item : iterate(input)) {
      const value key =
          lower_if_string(attr && !attr->is_none() ? attribute_path(item, to_str(*attr)) : item, case_sensitive);
      if (std::none_of(seen.begin(), seen.end(), [&](const value& s) { return equals(s, key); })) {
        seen.push_back(key);
        out.push_back(item);
      }
    }
    return generator(std::move(out));
  }
  if (name == "reverse") {
    if (input.is_string()) {
      auto u = utf8_decode(input.as_string());
      std::reverse(u.begin(), u.end());
      return utf8_encode(u);
    }
    auto items = iterate(input);
    std::reverse(items.begin(), items.end());
    return generator(std::move(items));
  }
  if (name == "select" || name == "reject") return select_or_reject(input, a, false, name == "select");
  if (name == "selectattr" || name == "rejectattr") return select_or_reject(input, a, true, name == "selectattr");
  if (name == "map") return do_map(input, a);
  if (name == "indent") return do_indent(input, a);
  if (name == "int") return do_int(input, a);
  if (name == "float") return do_float(input, a);
  if (name == "round") return do_round(input, a);
  if (name == "abs") {
    if (input.is_int()) return input.as_int() < 0 ? -input.as_int() : input.as_int();
    if (input.is_float()) return std::fabs(input.as_float());
    if (input.is_bool()) return std::int64_t{input.as_bool()};
    throw builtin_error("bad operand type for abs(): '" + type_name(input) + "'");
  }
  if (name == "wordcount") {
    std::int64_t n = 0;
    bool in_word = false;
    for (char32_t c : utf8_decode(to_str(input))) {
      const bool word =
          c == '_' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c > 0x7F;
      if (word && !in_word) ++n;
      in_word = word;
    }
    return n;
  }
  if (name == "min" || name == "max") return min_or_max(input, a, name == "max");
  if (name == "sum") {
    const value* attr = arg(a, 0, "attribute");
    value total = arg(a, 1, "start") ? *arg(a, 1, "start") : value(std::int64_t{0});
    for (const auto& item : iterate(input)) {
      const value v = attr && !attr->is_none() ? attribute_path(item, to_str(*attr)) : item;
      if (!total.is_number() || !v.is_number()) throw builtin_error("sum needs numbers");
      if (total.is_float() || v.is_float()) {
        auto num = [](const value& x) {
          return x.is_float() ? x.as_float() : x.is_int() ? static_cast<double>(x.as_int()) : x.as_bool();
        };
        total = num(total) + num(v);
      } else {
        total = (total.is_int() ? total.as_int() : total.as_bool()) + (v.is_int() ? v.as_int() : v.as_bool());
      }
    }
    return total;
  }
  if (name == "batch") {
    const auto size = int_arg(a, 0, "linecount", 0);
    if (size <= 0) throw builtin_error("batch needs a positive size");
    const value* fill = arg(a, 1, "fill_with");
    std::vector<value> out;
    std::vector<value> current;
    for (const auto& item : iterate(input)) {
      current.push_back(item);
      if (static_cast<std::int64_t>(current.size()) == size) {
        out.push_back(make_list(std::move(current)));
        current.clear();
      }
    }
    if (!current.empty()) {
      while (fill && !fill->is_none() && static_cast<std::int64_t>(current.size()) < size) current.push_back(*fill);
      out.push_back(make_list(std::move(current)));
    }
    return generator(std::move(out));
  }
  if (name == "attr") {
    const value* attr = arg(a, 0, "name");
    if (!attr || !attr->is_string()) throw builtin_error("attr needs a name");
    return get_attribute(input, attr->as_string());
  }
  if (name == "center") {
    const auto width = static_cast<std::int64_t>(checked_width(int_arg(a, 0, "width", 80), "center width"));
    std::string s = to_str(input);
    const auto len = static_cast<std::int64_t>(utf8_length(s));
    if (len >= width) return s;
    const auto total = width - len;
    const auto left = total / 2 + (total & width & 1);
    return std::string(static_cast<std::size_t>(left), ' ') + s +
           std::string(static_cast<std::size_t>(total - left), ' ');
  }
  throw builtin_error("no filter named '" + name + "'");
}

bool apply_test(const std::string& name, const value& v, const call_arguments& a) {
  auto other = [&]() -> const value& {
    if (a.positional.empty()) throw builtin_error("test '" + name + "' needs an argument");
    return a.positional[0];
  };
  const bool unary = name == "defined" || name == "undefined" || name == "none" || name == "string" ||
                     name == "number" || name == "integer" || name == "float" || name == "mapping" ||
                     name == "iterable" || name == "sequence" || name == "boolean" || name == "true" ||
                     name == "false" || name == "odd" || name == "even" || name == "callable" || name == "lower" ||
                     name == "upper" || name == "escaped";
  if (unary)
    at_most(a, 0, name);
  else
    at_most(a, 1, name);
  if (name == "defined") return !v.is_undefined();
  if (name == "undefined") return v.is_undefined();
  if (name == "none") return v.is_none();
  if (name == "string") return v.is_string();
  if (name == "number") return v.is_number();
  if (name == "integer") return v.is_int();
  if (name == "float") return v.is_float();
  if (name == "boolean") return v.is_bool();
  if (name == "true") return v.is_bool() && v.as_bool();
  if (name == "false") return v.is_bool() && !v.as_bool();
  if (name == "mapping") return v.is_mapping();
  if (name == "iterable") return v.is_undefined() || v.is_string() || v.is_list() || v.is_mapping();
  if (name == "sequence")
    return v.is_undefined() || v.is_string() || (v.is_list() && !v.as_list().is_generator()) || v.is_mapping();
  if (name == "callable") return v.is_callable();
  if (name == "escaped") return false;
  if (name == "odd" || name == "even") {
    if (!v.is_int() && !v.is_bool()) throw builtin_error("test '" + name + "' needs an integer");
    const auto i = v.is_int() ? v.as_int() : v.as_bool();
    return ((i % 2) != 0) == (name == "odd");
  }
  if (name == "divisibleby") {
    const value& d = other();
    if (!(v.is_int() || v.is_bool()) || !(d.is_int() || d.is_bool())) throw builtin_error("divisibleby needs integers");
    const auto divisor = d.is_int() ? d.as_int() : d.as_bool();
    if (divisor == 0) throw builtin_error("integer division or modulo by zero");
    return (v.is_int() ? v.as_int() : v.as_bool()) % divisor == 0;
  }
  if (name == "lower" || name == "upper") {
    if (!v.is_string()) return false;
    call_arguments none;
    return truthy(get_attribute(v, name == "lower" ? "islower" : "isupper").as_callable().invoke(none));
  }
  if (name == "equalto" || name == "eq" || name == "==") return equals(v, other());
  if (name == "ne" || name == "!=") return !equals(v, other());
  if (name == "sameas") {
    const value& o = other();
    if (v.data.index() != o.data.index()) return false;
    if (v.is_none() || v.is_undefined()) return true;
    if (v.is_bool()) return v.as_bool() == o.as_bool();
    if (v.is_list()) return &v.as_list() == &o.as_list();
    if (v.is_dict()) return &v.as_dict() == &o.as_dict();
    return equals(v, o);
  }
  if (name == "lt" || name == "lessthan" || name == "<") return python_less(v, other());
  if (name == "gt" || name == "greaterthan" || name == ">") return python_less(other(), v);
  if (name == "le" || name == "<=") return !python_less(other(), v);
  if (name == "ge" || name == ">=") return !python_less(v, other());
  if (name == "in") return contains(other(), v);
  if (name == "filter") return v.is_string() && is_known_filter(v.as_string());
  if (name == "test") return v.is_string() && is_known_test(v.as_string());
  throw builtin_error("no test named '" + name + "'");
}

void install_globals(dict_object& globals) {
  globals.set("range", make_callable("range", [](const call_arguments& a) {
                std::int64_t start = 0;
                std::int64_t stop = 0;
                std::int64_t step = 1;
                auto integer = [](const value& v) {
                  if (v.is_int()) return v.as_int();
                  if (v.is_bool()) return std::int64_t{v.as_bool()};
                  throw builtin_error("range() needs integers, not " + type_name(v));
                };
                if (a.positional.size() == 1) {
                  stop = integer(a.positional[0]);
                } else if (a.positional.size() == 2 || a.positional.size() == 3) {
                  start = integer(a.positional[0]);
                  stop = integer(a.positional[1]);
                  if (a.positional.size() == 3) step = integer(a.positional[2]);
                } else {
                  throw builtin_error("range expected 1 to 3 arguments");
                }
                if (step == 0) throw builtin_error("range() arg 3 must not be zero");
                std::vector<value> out;
                for (auto i = start; step > 0 ? i < stop : i > stop; i += step) {
                  if (out.size() >= 100000) throw builtin_error("range too big (the sandbox allows 100000 items)");
                  out.emplace_back(i);
                }
                return make_list(std::move(out));
              }));
  globals.set("namespace", make_callable("namespace", [](const call_arguments& a) {
                auto ns = std::make_shared<dict_object>();
                ns->is_namespace = true;
                for (const auto& p : a.positional) {
                  if (!p.is_mapping()) throw builtin_error("namespace() takes a mapping or keyword arguments");
                  for (const auto& [k, v] : p.as_dict().entries) ns->set(k, v);
                }
                for (const auto& [k, v] : a.keyword) ns->set(k, v);
                return value(std::move(ns));
              }));
  globals.set("dict", make_callable("dict", [](const call_arguments& a) {
                auto d = make_dict();
                for (const auto& p : a.positional) {
                  if (!p.is_mapping()) throw builtin_error("dict() takes a mapping or keyword arguments");
                  for (const auto& [k, v] : p.as_dict().entries) d.as_dict().set(k, v);
                }
                for (const auto& [k, v] : a.keyword) d.as_dict().set(k, v);
                return d;
              }));
  globals.set("raise_exception", make_callable("raise_exception", [](const call_arguments& a) -> value {
                throw raised_error(a.line, a.positional.empty() ? std::string() : to_str(a.positional[0]));
              }));
  globals.set("strftime_now", make_callable("strftime_now", [](const call_arguments& a) -> value {
                if (a.positional.empty() || !a.positional[0].is_string())
                  throw builtin_error("strftime_now needs a format string");
                const std::tm tm = template_now();
                const std::string& format = a.positional[0].as_string();
                if (format.empty()) return std::string();
                // strftime reports 0 both for "too small" and for an empty result: grow, then give up.
                for (std::size_t size = 256; size <= (1u << 16); size *= 4) {
                  std::string out(size, '\0');
                  const std::size_t n = std::strftime(out.data(), out.size(), format.c_str(), &tm);
                  if (n > 0) return out.substr(0, n);
                }
                return std::string();
              }));
}

}  // namespace kvactor::jinja
