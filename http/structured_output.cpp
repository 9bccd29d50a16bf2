#include "http/structured_output.hpp"

#include "grammar/gbnf.hpp"
#include "grammar/grammar_matcher.hpp"
#include "grammar/json_schema.hpp"
#include "http/request_fields.hpp"

namespace kvactor::http::fields {
namespace {

using nlohmann::ordered_json;

template <class Json>
bool given(const Json& obj, const char* key) {
  return obj.contains(key) && !obj.at(key).is_null();
}

std::string schema_gbnf(const ordered_json& rf, const std::string& field) {
  if (!given(rf, "json_schema")) reject(400, "MISSING_FIELD", field + ".json_schema: required with type json_schema");
  const ordered_json& js = rf.at("json_schema");
  const std::string at = field + ".json_schema";
  if (!js.is_object()) reject(400, "INVALID_TYPE", at + ": expected an object, got " + std::string(js.type_name()));
  for (const auto& item : js.items())
    if (item.key() != "name" && item.key() != "description" && item.key() != "schema" && item.key() != "strict")
      reject(400, "UNSUPPORTED_FIELD", at + "." + item.key() + ": not supported by this server");
  if (given(js, "name") && !js.at("name").is_string())
    reject(400, "INVALID_TYPE", at + ".name: expected a string, got " + std::string(js.at("name").type_name()));
  if (given(js, "strict") && !js.at("strict").is_boolean())
    reject(400, "INVALID_TYPE", at + ".strict: expected a boolean, got " + std::string(js.at("strict").type_name()));
  if (!given(js, "schema")) reject(400, "MISSING_FIELD", at + ".schema: required");
  const ordered_json& schema = js.at("schema");
  if (!schema.is_object() && !schema.is_boolean())
    reject(400, "INVALID_TYPE", at + ".schema: expected an object, got " + std::string(schema.type_name()));
  try {
    return grammar::json_schema_to_gbnf(schema);
  } catch (const grammar::schema_error& e) {
    reject(400, "INVALID_SCHEMA", at + ".schema: " + e.what());
  }
}

std::string response_format_gbnf(const ordered_json& rf, const std::string& field) {
  if (!rf.is_object()) reject(400, "INVALID_TYPE", field + ": expected an object, got " + std::string(rf.type_name()));
  for (const auto& item : rf.items())
    if (item.key() != "type" && item.key() != "json_schema")
      reject(400, "UNSUPPORTED_FIELD", field + "." + item.key() + ": not supported by this server");
  if (!given(rf, "type")) reject(400, "MISSING_FIELD", field + ".type: required");
  if (!rf.at("type").is_string())
    reject(400, "INVALID_TYPE", field + ".type: expected a string, got " + std::string(rf.at("type").type_name()));
  const std::string type = rf.at("type").get<std::string>();
  if (type != "json_schema" && given(rf, "json_schema"))
    reject(400, "UNSUPPORTED_FIELD", field + ".json_schema: only with type json_schema");
  if (type == "text") return {};
  if (type == "json_object") return grammar::json_object_gbnf();
  if (type == "json_schema") return schema_gbnf(rf, field);
  reject(400, "OUT_OF_RANGE",
         field + ".type: \"" + type + "\" is not one of \"text\", \"json_object\", \"json_schema\"");
}

// Parses the GBNF and computes its start state, so every grammar the engine gets can run.
std::shared_ptr<const grammar::grammar> parse_checked(const std::string& gbnf, const std::string& field) {
  try {
    auto rules = std::make_shared<const grammar::grammar>(grammar::parse_gbnf(gbnf));
    grammar::grammar_matcher probe(rules);
    (void)probe;
    return rules;
  } catch (const grammar::grammar_error& e) {
    reject(400, "INVALID_GRAMMAR", field + ": " + e.what());
  }
}

}  // namespace

structured_output read_structured_output(std::string_view body, const nlohmann::json& obj, const std::string& where,
                                         bool openai) {
  if (!obj.is_object()) return {};
  const bool has_grammar = given(obj, "grammar");
  const bool has_format = openai && given(obj, "response_format");
  if (!has_grammar && !has_format) return {};
  structured_output out;
  std::string field;
  if (has_grammar) {
    field = where + "grammar";
    const nlohmann::json& g = obj.at("grammar");
    if (!g.is_string()) wrong_type(field, "a string (GBNF)", g);
    out.gbnf = g.get<std::string>();
  }
  if (has_format) {
    // Read again with the client's key order (see the header); the body already parsed once.
    const ordered_json ordered = ordered_json::parse(body.begin(), body.end());
    const std::string format_field = where + "response_format";
    const std::string gbnf = response_format_gbnf(ordered.at("response_format"), format_field);
    if (!gbnf.empty() && !out.gbnf.empty())
      reject(400, "CONFLICTING_FIELDS", format_field + ": give either response_format or grammar, not both");
    if (!gbnf.empty()) {
      out.gbnf = gbnf;
      field = format_field;
    }
  }
  if (out.gbnf.empty()) return {};  // response_format text, or an empty grammar: unconstrained
  out.rules = parse_checked(out.gbnf, field);
  return out;
}

}  // namespace kvactor::http::fields
