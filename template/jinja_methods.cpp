// Attribute and item access, iteration, and the methods of str / dict / list values.
#include <algorithm>
#include <charconv>

#include "template/jinja_builtins.hpp"

namespace kvactor::jinja {

namespace {

bool py_isspace(char32_t c) {
  return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

const std::string& string_arg(const value* v, const char* method) {
  if (!v || !v->is_string()) {
    throw builtin_error(std::string(method) + "() argument must be str, not " + (v ? type_name(*v) : "missing"));
  }
  return v->as_string();
}

std::int64_t int_arg(const value* v, std::int64_t fallback, const char* method) {
  if (!v || v->is_none()) return fallback;
  if (v->is_int()) return v->as_int();
  if (v->is_bool()) return v->as_bool();
  throw builtin_error(std::string(method) + "() argument must be an integer, not " + type_name(*v));
}

std::vector<std::string> split_whitespace(const std::string& s, std::int64_t maxsplit) {
  std::vector<std::string> out;
  const auto u = utf8_decode(s);
  std::size_t i = 0;
  while (i < u.size()) {
    while (i < u.size() && py_isspace(u[i])) ++i;
    if (i >= u.size()) break;
    if (maxsplit >= 0 && static_cast<std::int64_t>(out.size()) == maxsplit) {
      std::size_t end = u.size();
      while (end > i && py_isspace(u[end - 1])) --end;
      out.push_back(utf8_encode(u.substr(i, end - i)));
      return out;
    }
    std::size_t j = i;
    while (j < u.size() && !py_isspace(u[j])) ++j;
    out.push_back(utf8_encode(u.substr(i, j - i)));
    i = j;
  }
  return out;
}

std::vector<std::string> split_on(const std::string& s, const std::string& sep, std::int64_t maxsplit) {
  if (sep.empty()) throw builtin_error("empty separator");
  std::vector<std::string> out;
  std::size_t start = 0;
  for (;;) {
    if (maxsplit >= 0 && static_cast<std::int64_t>(out.size()) == maxsplit) break;
    const auto p = s.find(sep, start);
    if (p == std::string::npos) break;
    out.push_back(s.substr(start, p - start));
    start = p + sep.size();
  }
  out.push_back(s.substr(start));
  return out;
}

std::vector<std::string> rsplit_on(const std::string& s, const std::string& sep, std::int64_t maxsplit) {
  if (sep.empty()) throw builtin_error("empty separator");
  std::vector<std::string> out;
  std::size_t end = s.size();
  for (;;) {
    if (maxsplit >= 0 && static_cast<std::int64_t>(out.size()) == maxsplit) break;
    if (end < sep.size()) break;
    const auto p = s.rfind(sep, end - sep.size());
    if (p == std::string::npos) break;
    out.push_back(s.substr(p + sep.size(), end - p - sep.size()));
    end = p;
  }
  out.push_back(s.substr(0, end));
  std::reverse(out.begin(), out.end());
  return out;
}

value string_list(const std::vector<std::string>& parts) {
  std::vector<value> items;
  items.reserve(parts.size());
  for (const auto& p : parts) items.emplace_back(p);
  return make_list(std::move(items));
}

char32_t ascii_upper(char32_t c) { return c >= 'a' && c <= 'z' ? c - 32 : c; }
char32_t ascii_lower(char32_t c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; }

/// Latin-1, Greek and Cyrillic case mapping beyond ASCII (what chat text plausibly needs).
char32_t to_upper(char32_t c) {
  if (c < 0x80) return ascii_upper(c);
  if ((c >= 0xE0 && c <= 0xFE && c != 0xF7) || (c >= 0x3B1 && c <= 0x3C9 && c != 0x3C2)) return c - 32;
  if (c >= 0x430 && c <= 0x44F) return c - 32;
  if (c >= 0x450 && c <= 0x45F) return c - 80;
  return c;
}
char32_t to_lower(char32_t c) {
  if (c < 0x80) return ascii_lower(c);
  if ((c >= 0xC0 && c <= 0xDE && c != 0xD7) || (c >= 0x391 && c <= 0x3A9 && c != 0x3A2)) return c + 32;
  if (c >= 0x410 && c <= 0x42F) return c + 32;
  if (c >= 0x400 && c <= 0x40F) return c + 80;
  return c;
}
bool is_cased_letter(char32_t c) { return to_upper(c) != c || to_lower(c) != c; }

bool prefix_match(const std::string& s, const value& prefix, bool at_end, const char* method) {
  auto one = [&](const value& p) {
    const std::string& x = string_arg(&p, method);
    if (x.size() > s.size()) return false;
    return at_end ? s.compare(s.size() - x.size(), x.size(), x) == 0 : s.compare(0, x.size(), x) == 0;
  };
  if (prefix.is_list() && prefix.as_list().is_tuple()) {
    for (const auto& p : prefix.as_list().items) {
      if (one(p)) return true;
    }
    return false;
  }
  return one(prefix);
}

/// str.format with automatic ({}) or numbered ({0}) or named ({name}) fields, no format specs.
std::string py_format(const std::string& fmt, const call_arguments& args) {
  std::string out;
  std::size_t auto_index = 0;
  for (std::size_t i = 0; i < fmt.size(); ++i) {
    const char c = fmt[i];
    if (c == '{' && i + 1 < fmt.size() && fmt[i + 1] == '{') {
      out += '{';
      ++i;
    } else if (c == '}' && i + 1 < fmt.size() && fmt[i + 1] == '}') {
      out += '}';
      ++i;
    } else if (c == '{') {
      const auto close = fmt.find('}', i);
      if (close == std::string::npos) throw builtin_error("Single '{' encountered in format string");
      const std::string field = fmt.substr(i + 1, close - i - 1);
      if (field.find_first_of(":!.[") != std::string::npos) {
        throw builtin_error("unsupported format field '{" + field + "}'");
      }
      const value* v = nullptr;
      if (field.empty()) {
        v = auto_index < args.positional.size() ? &args.positional[auto_index] : nullptr;
        ++auto_index;
      } else if (std::all_of(field.begin(), field.end(), [](char d) { return d >= '0' && d <= '9'; })) {
        std::size_t n = 0;
        const bool fits = std::from_chars(field.data(), field.data() + field.size(), n).ec == std::errc();
        v = fits && n < args.positional.size() ? &args.positional[n] : nullptr;
      } else {
        v = args.get(static_cast<std::size_t>(-1), field);
      }
      if (!v) throw builtin_error("format string field '{" + field + "}' has no argument");
      out += to_str(*v);
      i = close;
    } else if (c == '}') {
      throw builtin_error("Single '}' encountered in format string");
    } else {
      out += c;
    }
  }
  return out;
}

value string_method(const std::string& s, const std::string& name, const call_arguments& a) {
  if (name == "strip" || name == "lstrip" || name == "rstrip") {
    return py_strip(s, a.get(0, "chars"), name != "rstrip", name != "lstrip");
  }
  if (name == "split" || name == "rsplit") {
    const value* sep = a.get(0, "sep");
    const auto maxsplit = int_arg(a.get(1, "maxsplit"), -1, name.c_str());
    if (!sep || sep->is_none()) {
      if (name == "rsplit" && maxsplit >= 0)
        throw builtin_error("rsplit() on whitespace with maxsplit is not supported");
      return string_list(split_whitespace(s, maxsplit));
    }
    const auto& sp = string_arg(sep, name.c_str());
    return string_list(name == "split" ? split_on(s, sp, maxsplit) : rsplit_on(s, sp, maxsplit));
  }
  if (name == "splitlines") return string_list(py_splitlines(s));
  if (name == "startswith" || name == "endswith") {
    const value* p = a.get(0, "prefix");
    if (!p) throw builtin_error(name + "() takes at least 1 argument (0 given)");
    return prefix_match(s, *p, name == "endswith", name.c_str());
  }
  if (name == "replace") {
    const auto& old = string_arg(a.get(0, "old"), "replace");
    const auto& replacement = string_arg(a.get(1, "new"), "replace");
    auto count = int_arg(a.get(2, "count"), -1, "replace");
    if (old.empty()) {
      const auto u = utf8_decode(s);
      std::string out;
      for (std::size_t i = 0; i <= u.size(); ++i) {
        if (count-- != 0) out += replacement;
        if (i < u.size()) out += utf8_encode(u.substr(i, 1));
      }
      return out;
    }
    std::string out;
    std::size_t start = 0;
    for (;;) {
      const auto p = count == 0 ? std::string::npos : s.find(old, start);
      if (p == std::string::npos) break;
      out += s.substr(start, p - start) + replacement;
      start = p + old.size();
      if (count > 0) --count;
    }
    return out + s.substr(start);
  }
  if (name == "upper" || name == "lower") {
    auto u = utf8_decode(s);
    for (auto& c : u) c = name == "upper" ? to_upper(c) : to_lower(c);
    return utf8_encode(u);
  }
  if (name == "title") {
    auto u = utf8_decode(s);
    bool previous_cased = false;
    for (auto& c : u) {
      const bool cased = is_cased_letter(c);
      c = cased ? (previous_cased ? to_lower(c) : to_upper(c)) : c;
      previous_cased = cased;
    }
    return utf8_encode(u);
  }
  if (name == "capitalize") {
    auto u = utf8_decode(s);
    for (std::size_t i = 0; i < u.size(); ++i) u[i] = i == 0 ? to_upper(u[i]) : to_lower(u[i]);
    return utf8_encode(u);
  }
  if (name == "find" || name == "rfind" || name == "index" || name == "rindex" || name == "count") {
    const auto& sub = string_arg(a.get(0, "sub"), name.c_str());
    if (a.positional.size() > 1) throw builtin_error(name + "() with start/end is not supported");
    if (name == "count") {
      if (sub.empty()) return static_cast<std::int64_t>(utf8_length(s) + 1);
      std::int64_t n = 0;
      for (auto p = s.find(sub); p != std::string::npos; p = s.find(sub, p + sub.size())) ++n;
      return n;
    }
    const auto p = (name == "find" || name == "index") ? s.find(sub) : s.rfind(sub);
    if (p == std::string::npos) {
      if (name == "index" || name == "rindex") throw builtin_error("substring not found");
      return std::int64_t{-1};
    }
    return static_cast<std::int64_t>(utf8_length(s.substr(0, p)));
  }
  if (name == "format") return py_format(s, a);
  if (name == "join") {
    const value* items = a.get(0, "iterable");
    if (!items) throw builtin_error("join() takes exactly one argument (0 given)");
    std::string out;
    bool first = true;
    for (const auto& item : iterate(*items)) {
      if (!item.is_string()) throw builtin_error("sequence item: expected str instance, " + type_name(item) + " found");
      if (!first) out += s;
      first = false;
      out += item.as_string();
    }
    return out;
  }
  if (name == "isdigit" || name == "isalpha" || name == "isalnum" || name == "isspace" || name == "islower" ||
      name == "isupper") {
    const auto u = utf8_decode(s);
    if (u.empty()) return false;
    bool any_cased = false;
    for (char32_t c : u) {
      const bool digit = c >= '0' && c <= '9';
      const bool alpha = is_cased_letter(c) || c > 0x7F;
      if (name == "isdigit" && !digit) return false;
      if (name == "isalpha" && !alpha) return false;
      if (name == "isalnum" && !digit && !alpha) return false;
      if (name == "isspace" && !py_isspace(c)) return false;
      if (name == "islower" && to_lower(c) != c) return false;
      if (name == "isupper" && to_upper(c) != c) return false;
      any_cased = any_cased || is_cased_letter(c);
    }
    return (name == "islower" || name == "isupper") ? any_cased : true;
  }
  throw builtin_error("str has no method '" + name + "'");
}

bool is_string_method(const std::string& name) {
  static const char* const names[] = {"strip",    "lstrip",  "rstrip",  "split",   "rsplit", "splitlines", "startswith",
                                      "endswith", "replace", "upper",   "lower",   "title",  "capitalize", "find",
                                      "rfind",    "index",   "rindex",  "count",   "format", "join",       "isdigit",
                                      "isalpha",  "isalnum", "isspace", "islower", "isupper"};
  return std::find(std::begin(names), std::end(names), name) != std::end(names);
}

value items_of(const dict_object& d) {
  std::vector<value> items;
  items.reserve(d.entries.size());
  for (const auto& [k, v] : d.entries) items.push_back(make_list({key_value(k), v}, sequence_kind::tuple));
  return make_list(std::move(items));
}

value dict_method(const value& self, const std::string& name, const call_arguments& a) {
  const auto& d = self.as_dict();
  if (name == "get") {
    const value* key = a.get(0, "key");
    if (!key) throw builtin_error("get expected at least 1 argument, got 0");
    const value* fallback = a.get(1, "default");
    const value* found = nullptr;
    try {
      found = d.find(dict_key(*key));
    } catch (const std::invalid_argument& e) {
      throw builtin_error(e.what());
    }
    return found ? *found : fallback ? *fallback : value(nullptr);
  }
  if (name == "items") return items_of(d);
  if (name == "keys" || name == "values") {
    std::vector<value> out;
    for (const auto& [k, v] : d.entries) out.push_back(name == "keys" ? key_value(k) : v);
    return make_list(std::move(out));
  }
  if (name == "copy") {
    auto copy = make_dict();
    copy.as_dict().entries = d.entries;
    return copy;
  }
  throw builtin_error("dict has no method '" + name + "'");
}

value list_method(const value& self, const std::string& name, const call_arguments& a) {
  const auto& items = self.as_list().items;
  const value* x = a.get(0, "value");
  if (name == "copy") return make_list(items);
  if (!x) throw builtin_error(name + "() takes exactly one argument (0 given)");
  if (name == "count") {
    return static_cast<std::int64_t>(
        std::count_if(items.begin(), items.end(), [&](const value& v) { return equals(v, *x); }));
  }
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (equals(items[i], *x)) return static_cast<std::int64_t>(i);
  }
  throw builtin_error(to_repr(*x) + " is not in list");
}

value bound(const value& self, const std::string& name,
            value (*method)(const value&, const std::string&, const call_arguments&)) {
  return make_callable(name, [self, name, method](const call_arguments& a) { return method(self, name, a); });
}

value unsafe(const value& object, const std::string& name) {
  return value::undefined("access to attribute '" + name + "' of '" + type_name(object) + "' object is unsafe");
}

bool one_of(const std::string& name, std::initializer_list<const char*> names) {
  for (const char* n : names) {
    if (name == n) return true;
  }
  return false;
}

std::int64_t normalise_index(std::int64_t i, std::size_t size) {
  return i < 0 ? i + static_cast<std::int64_t>(size) : i;
}

}  // namespace

std::vector<std::string> py_splitlines(const std::string& s) {
  std::vector<std::string> lines;
  std::string line;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\n' || s[i] == '\r') {
      if (s[i] == '\r' && i + 1 < s.size() && s[i + 1] == '\n') ++i;
      lines.push_back(line);
      line.clear();
    } else {
      line += s[i];
    }
  }
  if (!line.empty()) lines.push_back(line);
  return lines;
}

std::string py_strip(const std::string& s, const value* chars, bool left, bool right) {
  const auto u = utf8_decode(s);
  std::u32string set;
  const bool whitespace = !chars || chars->is_none();
  if (!whitespace) set = utf8_decode(string_arg(chars, "strip"));
  auto strip_this = [&](char32_t c) { return whitespace ? py_isspace(c) : set.find(c) != std::u32string::npos; };
  std::size_t begin = 0;
  std::size_t end = u.size();
  if (left) {
    while (begin < end && strip_this(u[begin])) ++begin;
  }
  if (right) {
    while (end > begin && strip_this(u[end - 1])) --end;
  }
  return utf8_encode(u.substr(begin, end - begin));
}

std::string undefined_message(const value& v) {
  const auto& hint = v.undefined_hint();
  return hint.empty() ? "undefined value" : hint;
}

value get_attribute(const value& object, const std::string& name) {
  if (object.is_undefined()) throw builtin_error(undefined_message(object));
  const bool private_name = !name.empty() && name[0] == '_';  // the sandbox hides _attributes
  if (private_name && !object.is_mapping()) return unsafe(object, name);
  if (object.is_string()) {
    if (is_string_method(name)) {
      const std::string s = object.as_string();
      return make_callable(name, [s, name](const call_arguments& a) { return string_method(s, name, a); });
    }
  } else if (object.is_dict()) {
    const auto& d = object.as_dict();
    if (!d.is_namespace && !private_name) {
      if (one_of(name, {"get", "items", "keys", "values", "copy"})) return bound(object, name, dict_method);
      if (one_of(name, {"pop", "popitem", "update", "setdefault", "clear", "fromkeys"})) return unsafe(object, name);
    }
    if (const value* v = d.find(name)) return *v;
  } else if (object.is_list() && !object.as_list().is_generator()) {
    if (one_of(name, {"index", "count"}) || (name == "copy" && !object.as_list().is_tuple())) {
      return bound(object, name, list_method);
    }
    if (one_of(name, {"append", "pop", "extend", "insert", "remove", "sort", "reverse", "clear"}) &&
        !object.as_list().is_tuple()) {
      return unsafe(object, name);
    }
  }
  return value::undefined("'" + type_name(object) + " object' has no attribute '" + name + "'");
}

value get_item(const value& object, const value& key) {
  if (object.is_undefined()) throw builtin_error(undefined_message(object));
  if (object.is_mapping()) {
    try {
      if (const value* v = object.as_dict().find(dict_key(key))) return *v;
    } catch (const std::invalid_argument& e) {
      throw builtin_error(e.what());
    }
  } else if (object.is_list() && !object.as_list().is_generator() && (key.is_int() || key.is_bool())) {
    const auto& items = object.as_list().items;
    const auto i = normalise_index(key.is_int() ? key.as_int() : key.as_bool(), items.size());
    if (i >= 0 && static_cast<std::size_t>(i) < items.size()) return items[static_cast<std::size_t>(i)];
  } else if (object.is_string() && (key.is_int() || key.is_bool())) {
    const auto u = utf8_decode(object.as_string());
    const auto i = normalise_index(key.is_int() ? key.as_int() : key.as_bool(), u.size());
    if (i >= 0 && static_cast<std::size_t>(i) < u.size()) return utf8_encode(u.substr(static_cast<std::size_t>(i), 1));
  }
  if (key.is_string()) return get_attribute(object, key.as_string());
  return value::undefined("'" + type_name(object) + " object' has no element " + to_repr(key));
}

value get_slice(const value& object, const value* start, const value* stop, const value* step) {
  if (object.is_undefined()) throw builtin_error(undefined_message(object));
  auto bound_of = [](const value* v, const char* what) -> std::optional<std::int64_t> {
    if (!v || v->is_none()) return std::nullopt;
    if (v->is_int()) return v->as_int();
    if (v->is_bool()) return std::int64_t{v->as_bool()};
    throw builtin_error(std::string("slice ") + what + " must be an integer or None");
  };
  const auto step_value = bound_of(step, "step").value_or(1);
  if (step_value == 0) throw builtin_error("slice step cannot be zero");
  std::size_t size = 0;
  std::u32string chars;
  if (object.is_string()) {
    chars = utf8_decode(object.as_string());
    size = chars.size();
  } else if (object.is_list() && !object.as_list().is_generator()) {
    size = object.as_list().items.size();
  } else {
    throw builtin_error("'" + type_name(object) + "' object is not subscriptable");
  }
  const auto n = static_cast<std::int64_t>(size);
  auto clamp = [&](std::optional<std::int64_t> b, std::int64_t fallback) {
    if (!b) return fallback;
    std::int64_t i = *b < 0 ? *b + n : *b;
    if (step_value > 0) return std::clamp<std::int64_t>(i, 0, n);
    return std::clamp<std::int64_t>(i, -1, n - 1);
  };
  const auto first = clamp(bound_of(start, "start"), step_value > 0 ? 0 : n - 1);
  const auto last = clamp(bound_of(stop, "stop"), step_value > 0 ? n : -1);
  std::vector<std::size_t> picked;
  for (auto i = first; step_value > 0 ? i < last : i > last; i += step_value)
    picked.push_back(static_cast<std::size_t>(i));
  if (object.is_string()) {
    std::u32string out;
    for (auto i : picked) out += chars[i];
    return utf8_encode(out);
  }
  std::vector<value> out;
  for (auto i : picked) out.push_back(object.as_list().items[i]);
  return make_list(std::move(out), object.as_list().is_tuple() ? sequence_kind::tuple : sequence_kind::list);
}

std::vector<value> iterate(const value& v) {
  if (v.is_undefined()) return {};
  if (v.is_list()) {
    auto& l = v.as_list();
    if (!l.is_generator()) return l.items;
    if (l.consumed) return {};
    l.consumed = true;
    return std::move(l.items);
  }
  if (v.is_mapping()) {
    std::vector<value> keys;
    for (const auto& [k, e] : v.as_dict().entries) keys.push_back(key_value(k));
    return keys;
  }
  if (v.is_string()) {
    std::vector<value> chars;
    for (char32_t c : utf8_decode(v.as_string())) chars.emplace_back(utf8_encode(std::u32string(1, c)));
    return chars;
  }
  throw builtin_error("'" + type_name(v) + "' object is not iterable");
}

bool contains(const value& container, const value& item) {
  if (container.is_string()) {
    if (!item.is_string()) throw builtin_error("'in <string>' requires string as left operand, not " + type_name(item));
    return container.as_string().find(item.as_string()) != std::string::npos;
  }
  if (container.is_mapping()) {
    try {
      return container.as_dict().find(dict_key(item)) != nullptr;
    } catch (const std::invalid_argument& e) {
      throw builtin_error(e.what());
    }
  }
  for (const auto& e : iterate(container)) {
    if (equals(e, item)) return true;
  }
  return false;
}

}  // namespace kvactor::jinja
