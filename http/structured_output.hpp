// Structured output fields (issue 21): `response_format` (OpenAI: text, json_object,
// json_schema) and `grammar` (llama.cpp's GBNF), read into the GBNF the request's tokens must
// follow. Pure parsing, like the rest of http/request_*: the grammar is parsed here, so a bad
// one is a 400 naming the field and the construct before any engine work starts.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace kvactor::grammar {
struct grammar;
}

namespace kvactor::http {

struct structured_output {
  std::string gbnf;                               // "" = unconstrained
  std::shared_ptr<const grammar::grammar> rules;  // parse_gbnf(gbnf)
  bool empty() const { return gbnf.empty(); }
};

namespace fields {

// Reads `grammar` and, when `openai`, `response_format` from `obj`, whose fields are named
// `where` + key in messages. `openai` reads the top level of the body: `body` is its text. A JSON
// schema's properties are generated in the order the client wrote them, which the parsed
// document (keys sorted) has lost, so the body is read again, ordered, for response_format.
// Refused with a 400 naming the field: wrong types, unknown keys, an unsupported type or schema
// construct (INVALID_SCHEMA), GBNF the parser refuses (INVALID_GRAMMAR), both fields at once
// (CONFLICTING_FIELDS).
structured_output read_structured_output(std::string_view body, const nlohmann::json& obj, const std::string& where,
                                         bool openai);

}  // namespace fields
}  // namespace kvactor::http
