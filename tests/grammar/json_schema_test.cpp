// JSON Schema -> GBNF against a corpus (tests/grammar/schema_corpus.json): each valid document is
// accepted exactly, each invalid one refused, each bad schema refused with a message naming the
// construct. Documents are checked by the matcher, byte by byte, as generation would feed it.
#include <doctest/doctest.h>

#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "grammar/gbnf.hpp"
#include "grammar/grammar_matcher.hpp"
#include "grammar/json_schema.hpp"
#include "grammar/regex_to_gbnf.hpp"

using namespace kvactor::grammar;
using ordered_json = nlohmann::ordered_json;

namespace {

ordered_json corpus() {
  std::ifstream in(KVACTOR_SCHEMA_CORPUS);
  REQUIRE(in.good());
  return ordered_json::parse(in);
}

bool accepts(const std::shared_ptr<const grammar>& g, const std::string& doc) {
  grammar_matcher m(g);
  return m.accept(doc) && m.is_complete();
}

}  // namespace

TEST_CASE("every corpus schema converts, parses, and accepts exactly its valid documents") {
  int schemas = 0, documents = 0;
  for (const auto& entry : corpus()) {
    if (entry.contains("error")) continue;
    const std::string name = entry["name"].get<std::string>();
    CAPTURE(name);
    const std::string text = json_schema_to_gbnf(entry["schema"]);
    CAPTURE(text);
    const auto g = std::make_shared<grammar>(parse_gbnf(text));
    for (const auto& doc : entry["valid"]) {
      CAPTURE(doc);
      CHECK(accepts(g, doc.get<std::string>()));
      ++documents;
    }
    for (const auto& doc : entry["invalid"]) {
      CAPTURE(doc);
      CHECK_FALSE(accepts(g, doc.get<std::string>()));
      ++documents;
    }
    ++schemas;
  }
  CHECK(schemas >= 20);
  CHECK(documents >= 100);
}

TEST_CASE("unsupported and unsatisfiable schemas are refused, naming the construct") {
  int refused = 0;
  for (const auto& entry : corpus()) {
    if (!entry.contains("error")) continue;
    const std::string name = entry["name"].get<std::string>();
    CAPTURE(name);
    std::string message;
    try {
      json_schema_to_gbnf(entry["schema"]);
    } catch (const schema_error& e) {
      message = e.what();
    }
    CAPTURE(message);
    CHECK(message.find(entry["error"].get<std::string>()) != std::string::npos);
    ++refused;
  }
  CHECK(refused >= 15);
}

TEST_CASE("properties keep the schema's order, not sorted order") {
  const auto schema = ordered_json::parse(R"({"type":"object","properties":{"zeta":{"type":"integer"},
      "alpha":{"type":"integer"}},"required":["zeta","alpha"]})");
  const auto g = std::make_shared<grammar>(parse_gbnf(json_schema_to_gbnf(schema)));
  CHECK(accepts(g, R"({"zeta": 1, "alpha": 2})"));
  CHECK_FALSE(accepts(g, R"({"alpha": 2, "zeta": 1})"));
}

TEST_CASE("json_object mode is any object with compact whitespace") {
  const auto g = std::make_shared<grammar>(parse_gbnf(json_object_gbnf()));
  CHECK(accepts(g, R"({})"));
  CHECK(accepts(g, R"({"a": [1, {"b": null}], "c":"d"})"));
  CHECK_FALSE(accepts(g, R"([1])"));
  CHECK_FALSE(accepts(g, R"("x")"));
  CHECK_FALSE(accepts(g, R"({"a":  1})"));
  CHECK_FALSE(accepts(g, "{\"a\":\n1}"));
}

TEST_CASE("every integer range is exact: checked number by number") {
  for (const auto& [lo, hi] : std::vector<std::pair<int, int>>{
           {0, 0}, {-5, 5}, {7, 7}, {13, 47}, {-200, -199}, {95, 1005}, {-1, 0}, {-999, 1000}}) {
    CAPTURE(lo);
    CAPTURE(hi);
    const auto schema = ordered_json{{"type", "integer"}, {"minimum", lo}, {"maximum", hi}};
    const auto g = std::make_shared<grammar>(parse_gbnf(json_schema_to_gbnf(schema)));
    for (int v = -1100; v <= 1100; ++v) {
      CAPTURE(v);
      REQUIRE(accepts(g, std::to_string(v)) == (v >= lo && v <= hi));
    }
    CHECK_FALSE(accepts(g, "-0"));
    CHECK_FALSE(accepts(g, "00"));
  }
}

TEST_CASE("gbnf_literal round-trips through the parser") {
  const std::string bytes = "q\"\\\n\x01 é";
  const auto g = std::make_shared<grammar>(parse_gbnf("root ::= " + gbnf_literal(bytes) + "\n"));
  CHECK(accepts(g, bytes));
}

TEST_CASE("a bounded schema has a computable byte bound that its longest documents reach") {
  const auto bounded = ordered_json::parse(R"({"type":"object","properties":{
      "id":{"type":"integer","minimum":0,"maximum":999},
      "tags":{"type":"array","items":{"type":"string","maxLength":3},"maxItems":2},
      "ok":{"type":"boolean"}},"required":["id","tags","ok"]})");
  const auto g = std::make_shared<grammar>(parse_gbnf(json_schema_to_gbnf(bounded)));
  const auto bound = longest_match_bytes(*g);
  REQUIRE(bound.has_value());
  // Longest document: a 3-digit id, two 3-character strings of 6-byte escapes (\uXXXX), "false".
  const std::string longest = R"({"id": 999, "tags": ["\u00e9\u00e9\u00e9", "\u00e9\u00e9\u00e9"], "ok": false})";
  CHECK(accepts(g, longest));
  CHECK(*bound == longest.size());
  CHECK_FALSE(longest_match_bytes(*std::make_shared<grammar>(parse_gbnf(json_object_gbnf()))).has_value());
  const auto unbounded_string = ordered_json::parse(R"({"type":"array","items":{"type":"string"},"maxItems":2})");
  CHECK_FALSE(longest_match_bytes(parse_gbnf(json_schema_to_gbnf(unbounded_string))).has_value());
  CHECK(longest_match_bytes(parse_gbnf("root ::= \"a\" [\\U0001F600] (\"bc\" | \"d\")?\n")) ==
        std::optional<std::size_t>(7));
}
