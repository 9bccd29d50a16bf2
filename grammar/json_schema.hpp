// JSON Schema -> GBNF, for response_format json_schema. Output JSON is compact: no space inside
// brackets, at most one space after ':' and ','. Properties come in the schema's order (parse the
// schema with nlohmann::ordered_json). Supported (grammar/README.md lists the details):
//   type (one or a list), object properties/required/additionalProperties, array items/minItems/
//   maxItems, string enum/const/minLength/maxLength/pattern (anchored regex subset)/format
//   (date, time, date-time, uuid), integer minimum/maximum/exclusive* (exact ranges), number
//   (minimum 0 only), boolean, null, anyOf/oneOf, allOf of one schema, $ref to #/$defs or
//   #/definitions, enum/const of any JSON value.
// Anything else throws schema_error naming the construct and where it is ("/properties/age").
#pragma once

#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>

namespace kvactor::grammar {

class schema_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// GBNF whose `root` accepts exactly the documents the converter generates for the schema.
std::string json_schema_to_gbnf(const nlohmann::ordered_json& schema);

// response_format json_object: any JSON object, compact whitespace.
std::string json_object_gbnf();

// A GBNF string literal for the bytes (quotes included).
std::string gbnf_literal(const std::string& bytes);

}  // namespace kvactor::grammar
