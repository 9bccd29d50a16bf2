// Token masks from the vocabulary trie, checked against the definition: a token is allowed exactly
// when the matcher accepts its bytes (end tokens: exactly when the grammar is complete).
#include <doctest/doctest.h>

#include <memory>
#include <random>
#include <string>
#include <vector>

#include "grammar/gbnf.hpp"
#include "grammar/token_matcher.hpp"

using namespace kvactor::grammar;

namespace {

std::vector<std::string> small_vocabulary() {
  return {"",  "{",   "}", "\"",   "a",    "ab",         "abc",  "b",  "\":", " ", "  ", "1",    "12",
          "x", "{\"", "é", "\xC3", "\xA9", "\xC3\xA9\"", "true", "tr", "ue",  "a", ",",  "\xFF", ":"};
}

// The definition of a mask, by brute force over full token strings.
token_mask brute_force_mask(const grammar_matcher& m, const std::vector<std::string>& vocab,
                            const std::vector<uint32_t>& ends) {
  token_mask mask;
  mask.reset(vocab.size());
  for (uint32_t id = 0; id < vocab.size(); ++id) {
    grammar_matcher copy = m;
    if (!vocab[id].empty() && copy.accept(vocab[id])) mask.allow(id);
  }
  if (m.is_complete())
    for (const uint32_t id : ends) mask.allow(id);
  return mask;
}

}  // namespace

TEST_CASE("the trie walk gives exactly the brute-force mask at every step of a walk") {
  const auto g = std::make_shared<grammar>(
      parse_gbnf("root ::= \"{\" pair (\",\" \" \"? pair)* \"}\"\npair ::= \"\\\"\" [a-cé]* \"\\\":\" \" \"? value\n"
                 "value ::= [0-9]+ | \"true\"\n"));
  const auto vocab = small_vocabulary();
  const std::vector<uint32_t> ends{0};
  const vocabulary_trie trie(vocab, ends);
  CHECK(trie.vocab_size() == vocab.size());
  grammar_matcher m(g);
  token_mask mask;
  const std::vector<std::string> path{"{\"", "ab", "\xC3", "\xA9",       "\":", " ",  "tr", "ue",
                                      ",",   "\"", "é",    "\xC3\xA9\"", ":",   "12", "}"};
  for (const std::string& piece : path) {
    CAPTURE(piece);
    trie.fill_mask(m, mask);
    CHECK(mask.words == brute_force_mask(m, vocab, ends).words);
    CHECK_FALSE(mask.allowed(0));
    REQUIRE(m.accept(piece));
  }
  trie.fill_mask(m, mask);
  CHECK(m.is_complete());
  CHECK(mask.count() == 1);
  CHECK(mask.allowed(0));
}

TEST_CASE("random grammars' masks match brute force along random accepted paths") {
  std::mt19937 rng(7);
  std::vector<std::string> vocab{""};
  const std::string alphabet = "ab(),\xC3\xA9\xCE";
  for (int i = 0; i < 300; ++i) {
    std::string t;
    const int len = 1 + static_cast<int>(rng() % 4);
    for (int k = 0; k < len; ++k) t += alphabet[rng() % alphabet.size()];
    vocab.push_back(t);
  }
  const std::vector<uint32_t> ends{0};
  const vocabulary_trie trie(vocab, ends);
  const std::vector<std::string> grammars{"root ::= \"(\" root \")\" root | \"\"\n",
                                          "root ::= ([ab] | \"é\")+ (\",\" root)?\n", "root ::= [^,()]{1,5} \")\"\n",
                                          "root ::= \"a\"{2,4} ([ab]{0,3} | \"(b)\")\n"};
  for (const auto& text : grammars) {
    CAPTURE(text);
    const auto g = std::make_shared<grammar>(parse_gbnf(text));
    for (int walk = 0; walk < 20; ++walk) {
      grammar_matcher m(g);
      token_mask mask;
      mask_cache cache(4);
      for (int step = 0; step < 12; ++step) {
        trie.fill_mask(m, mask);
        REQUIRE(mask.words == brute_force_mask(m, vocab, ends).words);
        REQUIRE(cache.mask_for(trie, m).words == mask.words);
        std::vector<uint32_t> choices;
        for (uint32_t id = 1; id < vocab.size(); ++id)
          if (mask.allowed(id)) choices.push_back(id);
        if (choices.empty()) break;
        REQUIRE(m.accept(vocab[choices[rng() % choices.size()]]));
      }
    }
  }
}

TEST_CASE("a finished grammar allows only its end tokens; an open one never allows them") {
  const auto g = std::make_shared<grammar>(parse_gbnf("root ::= \"ab\" | \"a\"\n"));
  const std::vector<std::string> vocab{"<eos>", "a", "b", "ab"};
  const vocabulary_trie trie({"", "a", "b", "ab"}, {0});
  grammar_matcher m(g);
  token_mask mask;
  trie.fill_mask(m, mask);
  CHECK_FALSE(mask.allowed(0));
  CHECK(mask.allowed(1));
  CHECK(mask.allowed(3));
  CHECK_FALSE(mask.allowed(2));
  REQUIRE(m.accept("a"));
  trie.fill_mask(m, mask);
  CHECK(mask.allowed(0));  // complete ("a"), and may go on ("ab")
  CHECK(mask.allowed(2));
  CHECK(m.can_continue());
  REQUIRE(m.accept("b"));
  trie.fill_mask(m, mask);
  CHECK(mask.count() == 1);
  CHECK_FALSE(m.can_continue());
}

TEST_CASE("the mask cache returns the computed mask, and hits when a state recurs") {
  const auto g = std::make_shared<grammar>(parse_gbnf("root ::= \"\\\"\" [a-c]* \"\\\"\"\n"));
  const std::vector<std::string> vocab{"", "\"", "a", "b", "ab", "c\"", "d"};
  const vocabulary_trie trie(vocab, {0});
  mask_cache cache(2);
  grammar_matcher m(g);
  token_mask direct;
  for (const std::string piece : {"\"", "a", "b", "ab", "c\""}) {
    trie.fill_mask(m, direct);
    CHECK(cache.mask_for(trie, m).words == direct.words);
    REQUIRE(m.accept(piece));
  }
  CHECK(cache.mask_for(trie, m).allowed(0));
  // Misses: the start, inside the string, the end (a full cache of 2 is cleared first). Every
  // character inside the string leaves the same stacks: the masks before "b", "ab" and "c\"" hit.
  CHECK(cache.misses() == 3);
  CHECK(cache.hits() == 3);
}
