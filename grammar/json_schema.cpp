#include "grammar/json_schema.hpp"

#include <cctype>
#include <cmath>
#include <cstdio>
#include <map>
#include <set>
#include <vector>

#include "grammar/regex_to_gbnf.hpp"

namespace kvactor::grammar {
namespace {

using json = nlohmann::ordered_json;

// Integers (and numbers' integral parts) have at most 16 digits, so every value is bounded.
constexpr int64_t integer_limit = 9999999999999999;

const std::map<std::string, std::string>& primitives() {
  static const std::map<std::string, std::string> rules{
      {"ws", "\" \"?"},
      {"json-char", "[^\"\\\\\\x00-\\x1F] | \"\\\\\" ([\"\\\\/bfnrt] | \"u\" [0-9a-fA-F]{4})"},
      {"string", "\"\\\"\" json-char* \"\\\"\""},
      {"integral", "\"0\" | [1-9] [0-9]{0,15}"},
      {"integer", "\"-\"? integral"},
      {"number", "\"-\"? unsigned-number"},
      {"unsigned-number", "integral (\".\" [0-9]{1,16})? ([eE] [-+]? [0-9]{1,3})?"},
      {"boolean", "\"true\" | \"false\""},
      {"null", "\"null\""},
      {"value", "object | array | string | number | boolean | null"},
      {"object", "\"{\" (string \":\" ws value (\",\" ws string \":\" ws value)*)? \"}\""},
      {"array", "\"[\" (value (\",\" ws value)*)? \"]\""},
      // Real calendar days, except February 29 (leap years are not worth their grammar); no year 0000.
      {"date", "year \"-\" (month-31 \"-\" (day-30 | \"31\") | month-30 \"-\" day-30 | \"02-\" day-28)"},
      {"year", "[1-9] [0-9]{3} | \"0\" ([1-9] [0-9]{2} | \"0\" ([1-9] [0-9] | \"0\" [1-9]))"},
      {"month-31", "\"01\" | \"03\" | \"05\" | \"07\" | \"08\" | \"10\" | \"12\""},
      {"month-30", "\"04\" | \"06\" | \"09\" | \"11\""},
      {"day-28", "\"0\" [1-9] | \"1\" [0-9] | \"2\" [0-8]"},
      {"day-30", "day-28 | \"29\" | \"30\""},
      {"time",
       "([01] [0-9] | \"2\" [0-3]) \":\" [0-5] [0-9] \":\" [0-5] [0-9] (\".\" [0-9]{1,6})? "
       "(\"Z\" | [+-] ([01] [0-9] | \"2\" [0-3]) \":\" [0-5] [0-9])"},
      {"date-time", "date \"T\" time"},
      {"uuid", "[0-9a-f]{8} \"-\" [0-9a-f]{4} \"-\" [0-9a-f]{4} \"-\" [0-9a-f]{4} \"-\" [0-9a-f]{12}"},
  };
  return rules;
}

// Which primitives each primitive uses (so that only what is used is written).
const std::map<std::string, std::vector<std::string>>& primitive_uses() {
  static const std::map<std::string, std::vector<std::string>> uses{
      {"string", {"json-char"}},
      {"integer", {"integral"}},
      {"number", {"unsigned-number"}},
      {"unsigned-number", {"integral"}},
      {"value", {"object", "array", "string", "number", "boolean", "null"}},
      {"object", {"string", "ws", "value"}},
      {"array", {"value", "ws"}},
      {"date-time", {"date", "time"}},
      {"date", {"year", "month-31", "month-30", "day-28", "day-30"}},
      {"day-30", {"day-28"}}};
  return uses;
}

bool all_of_digit(const std::string& s, char d) { return s.find_first_not_of(d) == std::string::npos; }

// Equal-length decimal strings a <= b: a GBNF sequence for every string of that length in [a, b].
std::string digit_range(const std::string& a, const std::string& b) {
  if (a.empty()) return "";
  const std::size_t n = a.size() - 1;
  const std::string rest = n ? " [0-9]{" + std::to_string(n) + "}" : "";
  if (a == b) return gbnf_literal(a);
  if (a[0] == b[0]) return gbnf_literal(a.substr(0, 1)) + " " + digit_range(a.substr(1), b.substr(1));
  const bool low_full = all_of_digit(a.substr(1), '0'), high_full = all_of_digit(b.substr(1), '9');
  std::vector<std::string> parts;
  if (!low_full) parts.push_back(gbnf_literal(a.substr(0, 1)) + " " + digit_range(a.substr(1), std::string(n, '9')));
  const char lo = static_cast<char>(a[0] + (low_full ? 0 : 1)), hi = static_cast<char>(b[0] - (high_full ? 0 : 1));
  if (lo <= hi) parts.push_back(std::string("[") + lo + "-" + hi + "]" + rest);
  if (!high_full) parts.push_back(gbnf_literal(b.substr(0, 1)) + " " + digit_range(std::string(n, '0'), b.substr(1)));
  std::string out = "(";
  for (std::size_t i = 0; i < parts.size(); ++i) out += (i ? " | " : "") + parts[i];
  return out + ")";
}

// Every non-negative integer in [lo, hi] without leading zeros.
std::string natural_range(int64_t lo, int64_t hi) {
  std::vector<std::string> parts;
  int64_t length_start = 0, length_end = 9;
  while (length_start <= hi) {
    const int64_t a = std::max(lo, length_start), b = std::min(hi, length_end);
    if (a <= b) parts.push_back(digit_range(std::to_string(a), std::to_string(b)));
    if (length_end >= integer_limit) break;
    length_start = length_end + 1;
    length_end = length_end * 10 + 9;
  }
  std::string out = "(";
  for (std::size_t i = 0; i < parts.size(); ++i) out += (i ? " | " : "") + parts[i];
  return out + ")";
}

std::string integer_range(int64_t lo, int64_t hi) {
  std::vector<std::string> parts;
  if (lo < 0) parts.push_back("\"-\" " + natural_range(std::max<int64_t>(1, -std::min<int64_t>(hi, -1)), -lo));
  if (hi >= 0) parts.push_back(natural_range(std::max<int64_t>(lo, 0), hi));
  return parts.size() == 1 ? parts[0] : "(" + parts[0] + " | " + parts[1] + ")";
}

std::string sanitize(const std::string& hint) {
  std::string out;
  for (const char c : hint) out += std::isalnum(static_cast<unsigned char>(c)) ? c : '-';
  return out.empty() ? "x" : out.substr(0, 40);
}

class schema_converter {
 public:
  explicit schema_converter(const json& root) : root_(root) {}

  std::string convert() {
    const std::string body = visit(root_, "", "root");
    std::string out = "root ::= " + body + "\n";
    for (const auto& [name, text] : rules_) out += name + " ::= " + text + "\n";
    for (const auto& name : used_primitives_) out += name + " ::= " + primitives().at(name) + "\n";
    return out;
  }

 private:
  [[noreturn]] static void fail(const std::string& path, const std::string& what) {
    throw schema_error("schema" + (path.empty() ? std::string() : " at " + path) + ": " + what);
  }

  std::string use(const std::string& primitive) {
    if (used_primitives_.insert(primitive).second) {
      const auto it = primitive_uses().find(primitive);
      if (it != primitive_uses().end())
        for (const auto& dependency : it->second) use(dependency);
    }
    return primitive;
  }

  // A named rule for `body` (one per distinct body).
  std::string rule(const std::string& hint, const std::string& body) {
    const auto found = by_body_.find(body);
    if (found != by_body_.end()) return found->second;
    std::string name = sanitize(hint) + "-r" + std::to_string(rules_.size());
    rules_.emplace_back(name, body);
    by_body_.emplace(body, name);
    return name;
  }

  std::string visit(const json& s, const std::string& path, const std::string& hint);
  std::string visit_ref(const std::string& ref, const std::string& path);
  std::string visit_choice(const json& options, const std::string& path, const std::string& hint, const char* key);
  std::string visit_type(const json& s, const std::string& type, const std::string& path, const std::string& hint);
  std::string visit_object(const json& s, const std::string& path, const std::string& hint);
  std::string visit_array(const json& s, const std::string& path, const std::string& hint);
  std::string visit_string(const json& s, const std::string& path);
  std::string visit_integer(const json& s, const std::string& path);
  std::string visit_number(const json& s, const std::string& path);
  void check_keywords(const json& s, const std::string& path, const std::string& type) const;
  static int64_t count(const json& s, const char* key, const std::string& path, int64_t fallback);

  const json& root_;
  std::vector<std::pair<std::string, std::string>> rules_;
  std::map<std::string, std::string> by_body_;
  std::map<std::string, std::string> refs_;
  std::set<std::string> used_primitives_;
};

bool is_annotation(const std::string& key) {
  static const std::set<std::string> annotations{"title",    "description", "$schema",    "$id",      "$comment",
                                                 "examples", "default",     "deprecated", "readOnly", "writeOnly",
                                                 "$defs",    "definitions", "type"};
  return annotations.count(key) > 0;
}

// Keywords each type understands; annotations are allowed everywhere.
void schema_converter::check_keywords(const json& s, const std::string& path, const std::string& type) const {
  static const std::map<std::string, std::set<std::string>> by_type{
      {"object", {"properties", "required", "additionalProperties"}},
      {"array", {"items", "minItems", "maxItems"}},
      {"string", {"minLength", "maxLength", "pattern", "format"}},
      {"integer", {"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"}},
      {"number", {"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"}},
      {"boolean", {}},
      {"null", {}}};
  for (const auto& item : s.items()) {
    if (is_annotation(item.key())) continue;
    bool known = false;
    for (const auto& [t, keys] : by_type)
      if ((type.empty() || type == t) && keys.count(item.key())) known = true;
    if (!known) fail(path, "'" + item.key() + "' is not supported" + (type.empty() ? "" : " for type " + type));
  }
}

int64_t schema_converter::count(const json& s, const char* key, const std::string& path, int64_t fallback) {
  if (!s.contains(key)) return fallback;
  const json& v = s[key];
  if (!v.is_number_integer() || v.get<int64_t>() < 0 || v.get<int64_t>() > 100000)
    fail(path, std::string("'") + key + "' must be an integer from 0 to 100000");
  return v.get<int64_t>();
}

std::string schema_converter::visit(const json& s, const std::string& path, const std::string& hint) {
  if (s.is_boolean()) {
    if (!s.get<bool>()) fail(path, "the schema false is unsatisfiable");
    return use("value");
  }
  if (!s.is_object()) fail(path, "a schema must be an object or a boolean");
  if (s.contains("$ref")) {
    for (const auto& item : s.items())
      if (item.key() != "$ref" && !is_annotation(item.key()))
        fail(path, "'" + item.key() + "' next to '$ref' is not supported");
    if (!s["$ref"].is_string()) fail(path, "'$ref' must be a string");
    return visit_ref(s["$ref"].get<std::string>(), path);
  }
  if (s.contains("const")) return gbnf_literal(s["const"].dump());
  if (s.contains("enum")) {
    if (!s["enum"].is_array() || s["enum"].empty()) fail(path + "/enum", "'enum' must be a non-empty array");
    std::string out = "(";
    for (std::size_t i = 0; i < s["enum"].size(); ++i) out += (i ? " | " : "") + gbnf_literal(s["enum"][i].dump());
    return out + ")";
  }
  for (const char* key : {"anyOf", "oneOf", "allOf"})
    if (s.contains(key)) return visit_choice(s[key], path + "/" + key, hint, key);
  if (!s.contains("type")) {
    check_keywords(s, path, "");
    if (s.contains("properties") || s.contains("additionalProperties")) return visit_object(s, path, hint);
    if (s.contains("items")) return visit_array(s, path, hint);
    for (const auto& item : s.items())
      if (!is_annotation(item.key())) fail(path, "'" + item.key() + "' needs a 'type'");
    return use("value");
  }
  const json& type = s["type"];
  if (type.is_string()) return visit_type(s, type.get<std::string>(), path, hint);
  if (!type.is_array() || type.empty()) fail(path + "/type", "'type' must be a string or a non-empty array");
  std::string out = "(";
  for (std::size_t i = 0; i < type.size(); ++i) {
    if (!type[i].is_string()) fail(path + "/type", "'type' entries must be strings");
    out += (i ? " | " : "") + visit_type(s, type[i].get<std::string>(), path, hint);
  }
  return out + ")";
}

std::string schema_converter::visit_ref(const std::string& ref, const std::string& path) {
  const auto known = refs_.find(ref);
  if (known != refs_.end()) return known->second;
  std::string key;
  for (const char* prefix : {"#/$defs/", "#/definitions/"})
    if (ref.rfind(prefix, 0) == 0) key = std::string(prefix).substr(2, std::string(prefix).size() - 3);
  if (key.empty()) fail(path, "'$ref' \"" + ref + "\": only #/$defs/... and #/definitions/... are supported");
  const std::string name = ref.substr(key.size() + 3);
  if (!root_.contains(key) || !root_[key].is_object() || !root_[key].contains(name))
    fail(path, "'$ref' \"" + ref + "\" names no definition");
  // Named before visiting, so recursive definitions refer to themselves.
  const std::string rule_name = sanitize(name) + "-d" + std::to_string(refs_.size());
  refs_.emplace(ref, rule_name);
  rules_.emplace_back(rule_name, "");
  const std::size_t slot = rules_.size() - 1;
  const std::string body = visit(root_[key][name], "/" + key + "/" + name, name);
  rules_[slot].second = body;
  return rule_name;
}

std::string schema_converter::visit_choice(const json& options, const std::string& path, const std::string& hint,
                                           const char* key) {
  if (!options.is_array() || options.empty()) fail(path, std::string("'") + key + "' must be a non-empty array");
  if (std::string(key) == "allOf") {
    if (options.size() != 1) fail(path, "'allOf' with more than one schema is not supported");
    return visit(options[0], path + "/0", hint);
  }
  std::string out = "(";
  for (std::size_t i = 0; i < options.size(); ++i)
    out += (i ? " | " : "") + visit(options[i], path + "/" + std::to_string(i), hint);
  return out + ")";
}

std::string schema_converter::visit_type(const json& s, const std::string& type, const std::string& path,
                                         const std::string& hint) {
  check_keywords(s, path, type);
  if (type == "object") return visit_object(s, path, hint);
  if (type == "array") return visit_array(s, path, hint);
  if (type == "string") return visit_string(s, path);
  if (type == "integer") return visit_integer(s, path);
  if (type == "number") return visit_number(s, path);
  if (type == "boolean" || type == "null") return use(type);
  fail(path + "/type", "unknown type '" + type + "'");
}

std::string schema_converter::visit_object(const json& s, const std::string& path, const std::string& hint) {
  const json empty = json::object();
  const json& props = s.contains("properties") ? s["properties"] : empty;
  if (!props.is_object()) fail(path + "/properties", "'properties' must be an object");
  std::set<std::string> required;
  if (s.contains("required")) {
    if (!s["required"].is_array()) fail(path + "/required", "'required' must be an array of names");
    for (const auto& r : s["required"]) {
      if (!r.is_string()) fail(path + "/required", "'required' must be an array of names");
      if (!props.contains(r.get<std::string>()))
        fail(path + "/required", "required property '" + r.get<std::string>() + "' is not in 'properties'");
      required.insert(r.get<std::string>());
    }
  }
  const json additional = s.contains("additionalProperties") ? s["additionalProperties"] : json(false);
  if (props.empty() && !(additional.is_boolean() && !additional.get<bool>())) {
    // Only additional properties: a map from any key to values of that schema.
    const std::string value = visit(additional, path + "/additionalProperties", hint + "-value");
    const std::string kv = use("string") + " \":\" " + use("ws") + " " + value;
    return rule(hint, "\"{\" (" + kv + " (\",\" ws " + kv + ")*)? \"}\"");
  }
  // Declared properties only (extra keys are never generated), in the schema's order. head(i): the
  // properties from i on when none is written yet; later ones are preceded by ", ".
  std::vector<std::string> kvs;
  std::vector<bool> needed;
  for (const auto& p : props.items()) {
    const std::string value = visit(p.value(), path + "/properties/" + p.key(), p.key());
    kvs.push_back(gbnf_literal(json(p.key()).dump()) + " \":\" " + use("ws") + " " + value);
    needed.push_back(required.count(p.key()) > 0);
  }
  std::string head = "\"\"";
  for (std::size_t i = kvs.size(); i-- > 0;) {
    std::string tail;
    for (std::size_t j = i + 1; j < kvs.size(); ++j)
      tail += needed[j] ? " \",\" ws " + kvs[j] : " (\",\" ws " + kvs[j] + ")?";
    const std::string with = kvs[i] + tail;
    head = needed[i] ? rule(hint + "-props", with) : rule(hint + "-props", with + " | " + head);
  }
  return rule(hint, "\"{\" " + head + " \"}\"");
}

std::string schema_converter::visit_array(const json& s, const std::string& path, const std::string& hint) {
  const std::string item = s.contains("items") ? visit(s["items"], path + "/items", hint + "-item") : use("value");
  const int64_t lo = count(s, "minItems", path, 0), hi = count(s, "maxItems", path, -1);
  if (hi >= 0 && lo > hi) fail(path, "minItems > maxItems is unsatisfiable");
  if (hi == 0) return "\"[]\"";
  use("ws");
  const std::string more = "(\",\" ws " + item + ")";
  std::string body;
  if (lo == 0) {
    body = "(" + item + " " + more + (hi < 0 ? "*" : "{0," + std::to_string(hi - 1) + "}") + ")?";
  } else {
    body = item + " " + more + "{" + std::to_string(lo - 1) + "," + (hi < 0 ? "" : std::to_string(hi - 1)) + "}";
  }
  return rule(hint + "-array", "\"[\" " + body + " \"]\"");
}

std::string schema_converter::visit_string(const json& s, const std::string& path) {
  const bool has_length = s.contains("minLength") || s.contains("maxLength");
  if (s.contains("pattern")) {
    if (has_length || s.contains("format")) fail(path, "'pattern' with minLength/maxLength/format is not supported");
    if (!s["pattern"].is_string()) fail(path + "/pattern", "'pattern' must be a string");
    return rule("pattern", "\"\\\"\" " + regex_to_gbnf(s["pattern"].get<std::string>()) + " \"\\\"\"");
  }
  if (s.contains("format")) {
    if (has_length) fail(path, "'format' with minLength/maxLength is not supported");
    const json& f = s["format"];
    if (!f.is_string() || !(f == "date" || f == "time" || f == "date-time" || f == "uuid"))
      fail(path + "/format", "format " + f.dump() + " is not supported (date, time, date-time, uuid are)");
    return rule("format", "\"\\\"\" " + use(f.get<std::string>()) + " \"\\\"\"");
  }
  if (!has_length) return use("string");
  const int64_t lo = count(s, "minLength", path, 0), hi = count(s, "maxLength", path, -1);
  if (hi >= 0 && lo > hi) fail(path, "minLength > maxLength is unsatisfiable");
  use("json-char");
  return rule("string",
              "\"\\\"\" json-char{" + std::to_string(lo) + "," + (hi < 0 ? "" : std::to_string(hi)) + "} \"\\\"\"");
}

std::string schema_converter::visit_integer(const json& s, const std::string& path) {
  int64_t lo = -integer_limit, hi = integer_limit;
  for (const char* key : {"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"}) {
    if (!s.contains(key)) continue;
    if (!s[key].is_number()) fail(path + "/" + key, std::string("'") + key + "' must be a number");
    const double v = s[key].get<double>();
    const std::string k = key;
    double bound = k == "minimum"            ? std::ceil(v)
                   : k == "maximum"          ? std::floor(v)
                   : k == "exclusiveMinimum" ? std::floor(v) + 1
                                             : std::ceil(v) - 1;
    bound = std::max(std::min(bound, 1e17), -1e17);
    const auto b = static_cast<int64_t>(bound);
    if (k == "minimum" || k == "exclusiveMinimum")
      lo = std::max(lo, b);
    else
      hi = std::min(hi, b);
  }
  if (lo > hi) fail(path, "an integer range with no integer in it (minimum above maximum)");
  if (lo == -integer_limit && hi == integer_limit) return use("integer");
  return rule("integer", integer_range(lo, hi));
}

std::string schema_converter::visit_number(const json& s, const std::string& path) {
  const bool bounded = s.contains("maximum") || s.contains("exclusiveMinimum") || s.contains("exclusiveMaximum");
  if (bounded || (s.contains("minimum") && s["minimum"] != 0))
    fail(path, "'minimum'/'maximum' on type number are not supported (except minimum 0); use type integer");
  return s.contains("minimum") ? use("unsigned-number") : use("number");
}

}  // namespace

std::string gbnf_literal(const std::string& bytes) {
  std::string out = "\"";
  for (const char c : bytes) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20 || u == 0x7F) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02X", u);
      out += buf;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

std::string json_schema_to_gbnf(const nlohmann::ordered_json& schema) { return schema_converter(schema).convert(); }

std::string json_object_gbnf() {
  return json_schema_to_gbnf(nlohmann::ordered_json::parse(R"({"type":"object","additionalProperties":true})"));
}

}  // namespace kvactor::grammar
