#include "template/jinja_value.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>

namespace kvactor::jinja {

const value* dict_object::find(const std::string& key) const {
  for (const auto& [k, v] : entries) {
    if (k == key) return &v;
  }
  return nullptr;
}

void dict_object::set(const std::string& key, value v) {
  for (auto& [k, old] : entries) {
    if (k == key) {
      old = std::move(v);
      return;
    }
  }
  entries.emplace_back(key, std::move(v));
}

const value* call_arguments::get(std::size_t index, const std::string& name) const {
  if (index < positional.size()) return &positional[index];
  for (const auto& [k, v] : keyword) {
    if (k == name) return &v;
  }
  return nullptr;
}

value make_list(std::vector<value> items, sequence_kind kind) {
  auto l = std::make_shared<list_object>();
  l->items = std::move(items);
  l->kind = kind;
  return value(std::move(l));
}

value make_dict() { return value(std::make_shared<dict_object>()); }

value make_callable(std::string name, std::function<value(const call_arguments&)> invoke) {
  auto c = std::make_shared<callable_object>();
  c->name = std::move(name);
  c->invoke = std::move(invoke);
  return value(std::move(c));
}

namespace {
template <class Json>
value from_any_json(const Json& j) {
  switch (j.type()) {
    case nlohmann::json::value_t::null: return value(nullptr);
    case nlohmann::json::value_t::boolean: return value(j.template get<bool>());
    case nlohmann::json::value_t::number_integer: return value(j.template get<std::int64_t>());
    case nlohmann::json::value_t::number_unsigned: {
      auto u = j.template get<std::uint64_t>();
      if (u > static_cast<std::uint64_t>(INT64_MAX)) return value(static_cast<double>(u));
      return value(static_cast<std::int64_t>(u));
    }
    case nlohmann::json::value_t::number_float: return value(j.template get<double>());
    case nlohmann::json::value_t::string: return value(j.template get<std::string>());
    case nlohmann::json::value_t::array: {
      std::vector<value> items;
      items.reserve(j.size());
      for (const auto& e : j) items.push_back(from_any_json(e));
      return make_list(std::move(items));
    }
    case nlohmann::json::value_t::object: {
      auto d = std::make_shared<dict_object>();
      for (auto it = j.begin(); it != j.end(); ++it) d->entries.emplace_back(it.key(), from_any_json(it.value()));
      return value(std::move(d));
    }
    default: return value(nullptr);  // binary / discarded: not produced by JSON text
  }
}
}  // namespace

value from_json(const nlohmann::json& j) { return from_any_json(j); }
value from_json(const nlohmann::ordered_json& j) { return from_any_json(j); }

bool truthy(const value& v) {
  return std::visit(
      [](const auto& x) -> bool {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, undefined_value> || std::is_same_v<T, std::nullptr_t>)
          return false;
        else if constexpr (std::is_same_v<T, bool>)
          return x;
        else if constexpr (std::is_same_v<T, std::int64_t>)
          return x != 0;
        else if constexpr (std::is_same_v<T, double>)
          return x != 0.0;
        else if constexpr (std::is_same_v<T, std::string>)
          return !x.empty();
        else if constexpr (std::is_same_v<T, list_ptr>)
          return x->is_generator() || !x->items.empty();
        else if constexpr (std::is_same_v<T, dict_ptr>)
          return x->is_namespace || !x->entries.empty();
        else if constexpr (std::is_same_v<T, markup_value>)
          return !x.text.empty();
        else
          return true;
      },
      v.data);
}

std::string float_repr(double d) {
  if (std::isnan(d)) return "nan";
  if (std::isinf(d)) return d > 0 ? "inf" : "-inf";
  if (d == 0.0) return std::signbit(d) ? "-0.0" : "0.0";
  char buf[40];
  int precision = 1;
  for (; precision <= 17; ++precision) {
    std::snprintf(buf, sizeof buf, "%.*e", precision - 1, d);
    if (std::strtod(buf, nullptr) == d) break;
  }
  // buf is d.ddde[+-]XX with `precision` significant digits.
  std::string s(buf);
  const auto e = s.find('e');
  std::string mantissa = s.substr(0, e);
  const int exponent = std::atoi(s.c_str() + e + 1);
  const bool negative = mantissa[0] == '-';
  if (negative) mantissa.erase(0, 1);
  std::string digits;
  for (char c : mantissa) {
    if (c != '.') digits += c;
  }
  while (digits.size() > 1 && digits.back() == '0') digits.pop_back();
  std::string out;
  if (exponent < -4 || exponent >= 16) {
    out = digits.substr(0, 1);
    if (digits.size() > 1) out += "." + digits.substr(1);
    char exp[16];
    std::snprintf(exp, sizeof exp, "e%c%02d", exponent < 0 ? '-' : '+', std::abs(exponent));
    out += exp;
  } else if (exponent < 0) {
    out = "0." + std::string(static_cast<std::size_t>(-exponent - 1), '0') + digits;
  } else {
    const auto int_digits = static_cast<std::size_t>(exponent) + 1;
    if (digits.size() <= int_digits) {
      out = digits + std::string(int_digits - digits.size(), '0') + ".0";
    } else {
      out = digits.substr(0, int_digits) + "." + digits.substr(int_digits);
    }
  }
  return negative ? "-" + out : out;
}

std::u32string utf8_decode(const std::string& s) {
  std::u32string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    int extra = c < 0x80 ? 0 : (c >> 5) == 6 ? 1 : (c >> 4) == 14 ? 2 : (c >> 3) == 30 ? 3 : -1;
    if (extra < 0 || i + static_cast<std::size_t>(extra) >= s.size()) {
      out += static_cast<char32_t>(0xFFFD);
      ++i;
      continue;
    }
    char32_t cp = extra == 0 ? c : extra == 1 ? (c & 0x1F) : extra == 2 ? (c & 0x0F) : (c & 0x07);
    bool ok = true;
    for (int k = 1; k <= extra; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + static_cast<std::size_t>(k)]);
      if ((cc >> 6) != 2) {
        ok = false;
        break;
      }
      cp = (cp << 6) | (cc & 0x3F);
    }
    if (!ok) {
      out += static_cast<char32_t>(0xFFFD);
      ++i;
      continue;
    }
    out += cp;
    i += static_cast<std::size_t>(extra) + 1;
  }
  return out;
}

std::string utf8_encode(const std::u32string& s) {
  std::string out;
  out.reserve(s.size());
  for (char32_t cp : s) {
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xC0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xE0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }
  return out;
}

std::size_t utf8_length(const std::string& s) {
  std::size_t n = 0;
  for (char c : s) {
    if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++n;
  }
  return n;
}

namespace {
std::string string_repr(const std::string& s) {
  const bool has_single = s.find('\'') != std::string::npos;
  const bool has_double = s.find('"') != std::string::npos;
  const char quote = has_single && !has_double ? '"' : '\'';
  std::string out(1, quote);
  for (char32_t cp : utf8_decode(s)) {
    char buf[16];
    if (cp == static_cast<char32_t>(quote) || cp == U'\\') {
      out += '\\';
      out += static_cast<char>(cp);
    } else if (cp == U'\n') {
      out += "\\n";
    } else if (cp == U'\r') {
      out += "\\r";
    } else if (cp == U'\t') {
      out += "\\t";
    } else if (cp < 0x20 || (cp >= 0x7F && cp <= 0xA0) || cp == 0xAD) {
      std::snprintf(buf, sizeof buf, "\\x%02x", static_cast<unsigned>(cp));
      out += buf;
    } else if (cp == 0x2028 || cp == 0x2029 || (cp >= 0x200B && cp <= 0x200F) || cp == 0xFEFF) {
      std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(cp));
      out += buf;
    } else {
      out += utf8_encode(std::u32string(1, cp));
    }
  }
  out += quote;
  return out;
}
}  // namespace

std::string to_repr(const value& v) {
  if (v.is_string()) return string_repr(v.as_string());
  if (v.is_list()) {
    const auto& l = v.as_list();
    if (l.is_generator()) return "<generator object>";
    std::string out = l.is_tuple() ? "(" : "[";
    for (std::size_t i = 0; i < l.items.size(); ++i) {
      if (i) out += ", ";
      out += to_repr(l.items[i]);
    }
    if (l.is_tuple() && l.items.size() == 1) out += ",";
    out += l.is_tuple() ? ")" : "]";
    return out;
  }
  if (v.is_dict()) {
    const auto& d = v.as_dict();
    std::string out = d.is_namespace ? "<Namespace {" : "{";
    bool first = true;
    for (const auto& [k, e] : d.entries) {
      if (!first) out += ", ";
      first = false;
      out += to_repr(key_value(k)) + ": " + to_repr(e);
    }
    return out + (d.is_namespace ? "}>" : "}");
  }
  if (v.is_undefined()) return "Undefined";
  return to_str(v);
}

std::string to_str(const value& v) {
  return std::visit(
      [&](const auto& x) -> std::string {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, undefined_value>)
          return "";
        else if constexpr (std::is_same_v<T, std::nullptr_t>)
          return "None";
        else if constexpr (std::is_same_v<T, bool>)
          return x ? "True" : "False";
        else if constexpr (std::is_same_v<T, std::int64_t>)
          return std::to_string(x);
        else if constexpr (std::is_same_v<T, double>)
          return float_repr(x);
        else if constexpr (std::is_same_v<T, std::string>)
          return x;
        else if constexpr (std::is_same_v<T, markup_value>)
          return x.text;
        else if constexpr (std::is_same_v<T, callable_ptr>)
          return "<function " + x->name + ">";
        else
          return to_repr(v);
      },
      v.data);
}

std::string type_name(const value& v) {
  static const char* const names[] = {"Undefined", "NoneType", "bool", "int",      "float",
                                      "str",       "list",     "dict", "function", "Markup"};
  if (v.is_list() && v.as_list().is_tuple()) return "tuple";
  if (v.is_list() && v.as_list().is_generator()) return "generator";
  if (v.is_dict() && v.as_dict().is_namespace) return "Namespace";
  return names[v.data.index()];
}

namespace {
double number_of(const value& v) {
  if (v.is_bool()) return v.as_bool() ? 1.0 : 0.0;
  if (v.is_int()) return static_cast<double>(v.as_int());
  return v.as_float();
}
}  // namespace

bool equals(const value& a, const value& b) {
  if (a.is_number() && b.is_number()) {
    if (!a.is_float() && !b.is_float()) {
      const auto ai = a.is_bool() ? std::int64_t{a.as_bool()} : a.as_int();
      const auto bi = b.is_bool() ? std::int64_t{b.as_bool()} : b.as_int();
      return ai == bi;
    }
    return number_of(a) == number_of(b);
  }
  if (a.is_string() && b.is_string()) return a.as_string() == b.as_string();
  if (a.data.index() != b.data.index()) return false;
  if (a.is_undefined() || a.is_none()) return true;
  if (a.is_list()) {
    if (a.as_list().is_generator() || b.as_list().is_generator()) return &a.as_list() == &b.as_list();
    if (a.as_list().kind != b.as_list().kind) return false;  // [1] != (1,)
    const auto& x = a.as_list().items;
    const auto& y = b.as_list().items;
    if (x.size() != y.size()) return false;
    for (std::size_t i = 0; i < x.size(); ++i) {
      if (!equals(x[i], y[i])) return false;
    }
    return true;
  }
  if (a.is_dict()) {
    const auto& x = a.as_dict();
    const auto& y = b.as_dict();
    if (x.is_namespace || y.is_namespace) return &x == &y;
    if (x.entries.size() != y.entries.size()) return false;
    for (const auto& [k, e] : x.entries) {
      const value* other = y.find(k);
      if (!other || !equals(e, *other)) return false;
    }
    return true;
  }
  return std::get<callable_ptr>(a.data) == std::get<callable_ptr>(b.data);
}

std::optional<bool> less_than(const value& a, const value& b) {
  if (a.is_number() && b.is_number()) {
    if (!a.is_float() && !b.is_float()) {
      const auto ai = a.is_bool() ? std::int64_t{a.as_bool()} : a.as_int();
      const auto bi = b.is_bool() ? std::int64_t{b.as_bool()} : b.as_int();
      return ai < bi;
    }
    return number_of(a) < number_of(b);
  }
  if (a.is_string() && b.is_string()) return utf8_decode(a.as_string()) < utf8_decode(b.as_string());
  if (a.is_list() && b.is_list()) {
    const auto& x = a.as_list().items;
    const auto& y = b.as_list().items;
    for (std::size_t i = 0; i < x.size() && i < y.size(); ++i) {
      if (equals(x[i], y[i])) continue;
      return less_than(x[i], y[i]);
    }
    return x.size() < y.size();
  }
  return std::nullopt;
}

namespace {
/// One byte of a JSON string as json.dumps writes it (control characters, quote and backslash escaped).
void dump_byte(char c, std::string& out) {
  switch (c) {
    case '"': out += "\\\""; break;
    case '\\': out += "\\\\"; break;
    case '\n': out += "\\n"; break;
    case '\r': out += "\\r"; break;
    case '\t': out += "\\t"; break;
    case '\b': out += "\\b"; break;
    case '\f': out += "\\f"; break;
    default:
      if (static_cast<unsigned char>(c) < 0x20) {
        char buf[8];
        std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(c));
        out += buf;
      } else {
        out += c;
      }
  }
}

void dump_string(const std::string& s, std::string& out, bool ensure_ascii) {
  out += '"';
  if (!ensure_ascii) {
    for (char c : s) dump_byte(c, out);
  } else {
    for (char32_t cp : utf8_decode(s)) {
      char buf[16];
      if (cp < 0x80) {
        dump_byte(static_cast<char>(cp), out);
        continue;
      }
      if (cp >= 0x10000) {
        const char32_t v = cp - 0x10000;
        std::snprintf(buf, sizeof buf, "\\u%04x\\u%04x", static_cast<unsigned>(0xD800 + (v >> 10)),
                      static_cast<unsigned>(0xDC00 + (v & 0x3FF)));
      } else {
        std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(cp));
      }
      out += buf;
    }
  }
  out += '"';
}

void dump(const value& v, const json_dump_options& o, int depth, std::string& out) {
  auto newline = [&](int d) {
    out += '\n';
    for (int i = 0; i < d; ++i) out += *o.indent;
  };
  if (v.is_none()) {
    out += "null";
  } else if (v.is_bool()) {
    out += v.as_bool() ? "true" : "false";
  } else if (v.is_int()) {
    out += std::to_string(v.as_int());
  } else if (v.is_float()) {
    const double d = v.as_float();
    out += std::isnan(d) ? "NaN" : std::isinf(d) ? (d > 0 ? "Infinity" : "-Infinity") : float_repr(d);
  } else if (v.is_string()) {
    dump_string(v.as_string(), out, o.ensure_ascii);
  } else if (v.is_list() && !v.as_list().is_generator()) {
    const auto& items = v.as_list().items;
    if (items.empty()) {
      out += "[]";
      return;
    }
    out += '[';
    for (std::size_t i = 0; i < items.size(); ++i) {
      if (i) out += o.item_separator;
      if (o.indent) newline(depth + 1);
      dump(items[i], o, depth + 1, out);
    }
    if (o.indent) newline(depth);
    out += ']';
  } else if (v.is_mapping()) {
    auto entries = v.as_dict().entries;
    if (entries.empty()) {
      out += "{}";
      return;
    }
    if (o.sort_keys) {
      std::stable_sort(entries.begin(), entries.end(),
                       [](const auto& x, const auto& y) { return utf8_decode(x.first) < utf8_decode(y.first); });
    }
    out += '{';
    for (std::size_t i = 0; i < entries.size(); ++i) {
      if (i) out += o.item_separator;
      if (o.indent) newline(depth + 1);
      const value key = key_value(entries[i].first);
      dump_string(key.is_string() ? key.as_string() : key.is_none() ? "null" : to_str(key), out, o.ensure_ascii);
      out += o.key_separator;
      dump(entries[i].second, o, depth + 1, out);
    }
    if (o.indent) newline(depth);
    out += '}';
  } else {
    throw std::invalid_argument("Object of type " + type_name(v) + " is not JSON serializable");
  }
}
}  // namespace

std::string dict_key(const value& key) {
  if (key.is_string()) return key.as_string();
  if (key.is_none())
    return "\x1f"
           "n";
  if (key.is_bool() || key.is_int())
    return "\x1f"
           "i" +
           std::to_string(key.is_bool() ? std::int64_t{key.as_bool()} : key.as_int());
  if (key.is_float()) {
    const double d = key.as_float();
    if (std::trunc(d) == d && std::fabs(d) < 9.2e18)
      return "\x1f"
             "i" +
             std::to_string(static_cast<std::int64_t>(d));
    return "\x1f"
           "f" +
           float_repr(d);
  }
  throw std::invalid_argument("unhashable type: '" + type_name(key) + "'");
}

value key_value(const std::string& key) {
  if (key.size() < 2 || key[0] != '\x1f') return value(key);
  if (key[1] == 'n') return value(nullptr);
  if (key[1] == 'i') return value(static_cast<std::int64_t>(std::stoll(key.substr(2))));
  if (key[1] == 'f') return value(std::strtod(key.c_str() + 2, nullptr));
  return value(key);
}

std::string html_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&#34;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string dump_json(const value& v, const json_dump_options& options) {
  std::string out;
  dump(v, options, 0, out);
  return out;
}

}  // namespace kvactor::jinja
