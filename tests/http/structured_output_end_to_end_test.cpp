// Structured output over HTTP on the real engine (stories260K, issue 21): response_format
// (json_object, json_schema) on both OpenAI endpoints and `grammar` there and in /generate's
// sampling_params, streamed and not; every sample of a bounded schema is a valid document, in
// the schema's property order; bad grammars and schemas are 400s naming the field.
#include <doctest/doctest.h>

#include <set>

#include <nlohmann/json.hpp>

#include "actors/gateway.hpp"
#include "http/server.hpp"
#include "tests/http/stories_served.hpp"

using namespace kvactor;
using namespace kvactor::test;
using json = nlohmann::ordered_json;  // request bodies keep the order written here

namespace {

// Written with "name" first: alphabetical order would put "age" first.
const json person_schema = json::parse(R"({"type": "object",
    "properties": {"name": {"type": "string", "maxLength": 8},
                   "age": {"type": "integer", "minimum": 0, "maximum": 99}},
    "required": ["name", "age"]})");

json person_format() {
  return {{"type", "json_schema"}, {"json_schema", {{"name", "person"}, {"strict", true}, {"schema", person_schema}}}};
}

void check_person(const std::string& text) {
  CAPTURE(text);
  const json doc = json::parse(text, nullptr, false);
  REQUIRE(doc.is_object());
  CHECK(doc.size() == 2);
  CHECK(doc.at("name").is_string());
  CHECK(doc.at("age").is_number_integer());
  CHECK(doc.at("age").get<int>() >= 0);
  CHECK(doc.at("age").get<int>() <= 99);
  CHECK(text.find("\"name\"") < text.find("\"age\""));  // the schema's order
  CHECK(text.find("  ") == std::string::npos);          // compact: at most one space
}

}  // namespace

TEST_CASE("structured e2e: json_schema on completions and chat, greedy and sampled, every sample valid") {
  stories_served<json> s;
  json body = {
      {"prompt", "Once upon a time"}, {"max_tokens", 80}, {"temperature", 0}, {"response_format", person_format()}};
  const json greedy = s.post("/v1/completions", body);
  CHECK(greedy["choices"][0]["finish_reason"] == "stop");
  check_person(greedy["choices"][0]["text"].get<std::string>());
  // Streamed: the same text in pieces, the same finish.
  std::string streamed;
  std::string finish;
  for (const json& c : s.stream("/v1/completions", body)) {
    if (c.contains("choices") && !c["choices"].empty()) {
      streamed += c["choices"][0]["text"].get<std::string>();
      if (!c["choices"][0]["finish_reason"].is_null()) finish = c["choices"][0]["finish_reason"];
    }
  }
  CHECK(streamed == greedy["choices"][0]["text"]);
  CHECK(finish == "stop");
  // Sampled, many seeds at once (n), all valid documents.
  body["temperature"] = 1.2;
  body["seed"] = 5;
  body["n"] = 12;
  const json sampled = s.post("/v1/completions", body);
  REQUIRE(sampled["choices"].size() == 12);
  std::set<std::string> distinct;
  for (const json& c : sampled["choices"]) {
    CHECK(c["finish_reason"] == "stop");
    check_person(c["text"].get<std::string>());
    distinct.insert(c["text"].get<std::string>());
  }
  CHECK(distinct.size() > 1);
  // Chat: the same on the assistant's content.
  const json chat = s.post("/v1/chat/completions", {{"messages", {{{"role", "user"}, {"content", "Who?"}}}},
                                                    {"max_tokens", 80},
                                                    {"temperature", 0.7},
                                                    {"seed", 3},
                                                    {"response_format", person_format()}});
  CHECK(chat["choices"][0]["finish_reason"] == "stop");
  check_person(chat["choices"][0]["message"]["content"].get<std::string>());
}

TEST_CASE("structured e2e: json_object, grammar on every endpoint, length mid-document, text = unconstrained") {
  stories_served<json> s;
  // json_object cut by max_tokens: "length", and the text is where the document was cut.
  const json cut = s.post("/v1/chat/completions", {{"messages", {{{"role", "user"}, {"content", "Hi"}}}},
                                                   {"max_tokens", 3},
                                                   {"response_format", {{"type", "json_object"}}}});
  const std::string cut_text = cut["choices"][0]["message"]["content"];
  CHECK(cut_text.rfind('{', 0) == 0);
  if (cut["choices"][0]["finish_reason"] == "length") CHECK(cut["usage"]["completion_tokens"] == 3);
  // GBNF on completions (top level) and /generate (sampling_params).
  const std::string yes_no = R"(root ::= " " ("yes" | "no") ".")";
  const json c = s.post("/v1/completions",
                        {{"prompt", "Is the sun hot?"}, {"max_tokens", 10}, {"temperature", 0}, {"grammar", yes_no}});
  const std::string text = c["choices"][0]["text"];
  CHECK((text == " yes." || text == " no."));
  CHECK(c["choices"][0]["finish_reason"] == "stop");
  const json g = s.post("/generate", {{"text", "Is the sun hot?"}, {"sampling_params", {{"grammar", yes_no}}}});
  CHECK(g["responses"][0]["responses"][0]["text"] == text);
  // A list of sampling_params: each prompt its own grammar (or none).
  const json two =
      s.post("/generate",
             {{"text", {"Is it?", "Is it?"}},
              {"sampling_params",
               {{{"grammar", R"(root ::= " maybe")"}, {"max_completion_tokens", 8}}, {{"max_completion_tokens", 3}}}}});
  CHECK(two["responses"][0]["responses"][0]["text"] == " maybe");
  // response_format text is no constraint: the same answer as without it.
  const json plain = s.post("/v1/completions", {{"prompt", "Once upon a time"}, {"max_tokens", 8}, {"temperature", 0}});
  const json as_text = s.post(
      "/v1/completions",
      {{"prompt", "Once upon a time"}, {"max_tokens", 8}, {"temperature", 0}, {"response_format", {{"type", "text"}}}});
  CHECK(as_text["choices"][0]["text"] == plain["choices"][0]["text"]);
}

TEST_CASE("structured e2e: bad grammars and schemas are 400s naming the field and the construct") {
  stories_served<json> s;
  auto refused = [&](const std::string& target, const json& body, int status, const std::string& code,
                     const std::string& param, const std::string& needle) {
    CAPTURE(body.dump());
    const http_result r = s.call(target, body);
    CHECK(r.status == status);
    const json e = json::parse(r.body, nullptr, false);
    REQUIRE(e.contains("error"));
    CHECK(e["error"]["code"] == code);
    CHECK(e["error"]["param"] == param);
    CHECK(e["error"]["message"].get<std::string>().find(needle) != std::string::npos);
  };
  const json base = {{"prompt", "Hi"}, {"max_tokens", 4}};
  auto with = [&](const char* key, const json& v) {
    json b = base;
    b[key] = v;
    return b;
  };
  refused("/v1/completions", with("grammar", "root ::= missing"), 400, "INVALID_GRAMMAR", "grammar", "missing");
  refused("/v1/completions", with("grammar", 5), 400, "INVALID_TYPE", "grammar", "GBNF");
  refused("/v1/completions", with("grammar", "root ::= (\"a\"?){0,3000}"), 400, "INVALID_GRAMMAR", "grammar",
          "ambiguous");
  refused("/v1/completions", with("response_format", {{"type", "xml"}}), 400, "OUT_OF_RANGE", "response_format.type",
          "xml");
  refused("/v1/completions", with("response_format", "json"), 400, "INVALID_TYPE", "response_format", "object");
  refused("/v1/completions", with("response_format", {{"type", "json_schema"}}), 400, "MISSING_FIELD",
          "response_format.json_schema", "required");
  refused("/v1/completions",
          with("response_format",
               {{"type", "json_schema"}, {"json_schema", {{"schema", {{"type", "string"}, {"format", "email"}}}}}}),
          400, "INVALID_SCHEMA", "response_format.json_schema.schema", "email");
  refused("/v1/completions", with("response_format", {{"type", "json_object"}, {"schema", {{"type", "object"}}}}), 400,
          "UNSUPPORTED_FIELD", "response_format.schema", "not supported");
  json both = with("grammar", "root ::= \"a\"");
  both["response_format"] = {{"type", "json_object"}};
  refused("/v1/completions", both, 400, "CONFLICTING_FIELDS", "response_format", "not both");
  refused("/v1/chat/completions",
          {{"messages", {{{"role", "user"}, {"content", "Hi"}}}}, {"grammar", "root ::= [z-a]"}}, 400,
          "INVALID_GRAMMAR", "grammar", "");
  refused("/generate", {{"text", "Hi"}, {"sampling_params", {{"grammar", "root ::= \"unterminated"}}}}, 400,
          "INVALID_GRAMMAR", "sampling_params.grammar", "");
  refused("/generate", {{"text", "Hi"}, {"sampling_params", {{"response_format", {{"type", "json_object"}}}}}}, 400,
          "UNSUPPORTED_FIELD", "sampling_params.response_format", "");
  // Nothing was left running: every page is free again.
  const http_result m = http_call(s.server.port(), "GET", "/v1/inspect/cache", "");
  REQUIRE(m.status == 200);
  CHECK(json::parse(m.body)["invariants_ok"] == true);
}
