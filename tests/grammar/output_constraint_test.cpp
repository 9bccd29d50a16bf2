// output_constraint and constrained_decoder: the per-request side of structured output that the
// request actor runs (mask for the next token, accept the sampled one, stop when complete).
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "grammar/output_constraint.hpp"
#include "model/tokenizer.hpp"

using namespace kvactor;
using namespace kvactor::grammar;

namespace {

std::shared_ptr<const token_vocabulary> tiny() {
  //                                 0    1    2    3    4     5
  return std::make_shared<const token_vocabulary>(std::vector<std::string>{"", "{", "}", "a", "ab", "a}"},
                                                  std::vector<uint32_t>{0});
}

std::vector<uint32_t> allowed(const token_mask& m, std::size_t n) {
  std::vector<uint32_t> out;
  for (uint32_t id = 0; id < n; ++id)
    if (m.allowed(id)) out.push_back(id);
  return out;
}

}  // namespace

TEST_CASE("constrained_decoder: masks follow the grammar, end tokens only when complete, finished at the end") {
  constrained_decoder d(make_constraint(R"(root ::= "{" "a"* "}")", tiny()));
  CHECK(allowed(d.next_mask(), 6) == std::vector<uint32_t>{1});
  CHECK_FALSE(d.accept(3));  // "a" before "{": refused, state unchanged
  CHECK(d.accept(1));
  CHECK(allowed(d.next_mask(), 6) == std::vector<uint32_t>{2, 3, 5});  // "ab" needs a "b"
  CHECK(d.accept(3));
  CHECK_FALSE(d.complete());
  CHECK(d.accept(5));  // "a}" closes it
  CHECK(d.complete());
  CHECK(d.finished());
  CHECK(d.is_end(0));
  CHECK_FALSE(d.is_end(1));
  CHECK_FALSE(d.accept(0));   // control tokens carry no text
  CHECK_FALSE(d.accept(-1));  // out of range
  CHECK_FALSE(d.accept(6));
}

TEST_CASE("constrained_decoder: a complete grammar that can go on allows the end tokens and more") {
  constrained_decoder d(make_constraint(R"(root ::= "a"+)", tiny()));
  CHECK(d.accept(3));
  CHECK(d.complete());
  CHECK_FALSE(d.finished());
  CHECK(allowed(d.next_mask(), 6) == std::vector<uint32_t>{0, 3});
}

TEST_CASE("make_constraint refuses what the parser or the matcher refuses") {
  CHECK_THROWS_AS(make_constraint("root ::= undefined_rule", tiny()), grammar_error);
  CHECK_THROWS_AS(make_constraint("root ::= (\"a\"?){0,2000}", tiny()), grammar_error);
  const auto c = make_constraint("root ::= \"}\"", tiny());
  CHECK(c->gbnf == "root ::= \"}\"");
  CHECK(static_cast<bool>(c->vocabulary));
}

TEST_CASE("vocabulary_of: each token's text after an ordinary token, control tokens empty, end ids") {
  const auto tok = tokenizer::load_llama2c(std::string(KVACTOR_MODELS_DIR) + "/tok512.bin", 512);
  const auto v = vocabulary_of(tok);
  REQUIRE(v->bytes.size() == 512u);
  const int32_t x = tok.encode("x", false, false).back();
  for (int32_t id = 0; id < 512; ++id) CHECK(v->bytes[static_cast<std::size_t>(id)] == tok.decode_piece(x, id));
  CHECK(v->bytes[static_cast<std::size_t>(tok.bos_id())].empty());
  CHECK(v->bytes[static_cast<std::size_t>(tok.eos_id())].empty());
  int spaced = 0;  // pieces "▁word": the leading space stays
  for (int32_t id = 0; id < 512; ++id) {
    const std::string text = tok.token_text(id);
    if (text.size() <= 3 || text.rfind("\xE2\x96\x81", 0) != 0 || text.find("\xE2\x96\x81", 3) != std::string::npos)
      continue;
    ++spaced;
    CHECK(v->bytes[static_cast<std::size_t>(id)] == " " + text.substr(3));
  }
  CHECK(spaced > 50);
  REQUIRE(v->trie.end_tokens().size() == tok.end_of_generation_ids().size());
  CHECK(v->trie.end_tokens().front() == static_cast<uint32_t>(tok.end_of_generation_ids().front()));
  lazy_vocabulary lazy;
  const bool shared = lazy.get(tok) == lazy.get(tok);  // built once, then shared
  CHECK(shared);
}

TEST_CASE("max_text_bytes: the longest document in bytes, or none when unbounded") {
  auto bound = [](const char* gbnf) { return max_text_bytes(parse_gbnf(gbnf)); };
  CHECK(bound(R"(root ::= "ab" | "c")") == std::optional<std::size_t>{2});
  CHECK(bound(R"(root ::= [a-z]{1,5} "!")") == std::optional<std::size_t>{6});
  CHECK(bound("root ::= [a\\u00e4]") == std::optional<std::size_t>{2});  // ä is two bytes
  CHECK(bound("root ::= [^a] .") == std::optional<std::size_t>{8});
  CHECK(bound(R"(root ::= x x
x ::= "abc"?)") == std::optional<std::size_t>{6});
  CHECK_FALSE(bound(R"(root ::= "a"*)").has_value());
  CHECK_FALSE(bound(R"g(root ::= "(" root ")" | "")g").has_value());
  CHECK_FALSE(bound(R"(root ::= "x" | "y"+)").has_value());
}
