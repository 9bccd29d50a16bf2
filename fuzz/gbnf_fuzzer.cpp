// GBNF grammars come from request bodies (`grammar`): the parser must refuse any bytes with a
// grammar_error that carries its position, and a grammar it accepts must print back (to_gbnf) to a
// grammar that parses again and accepts the same inputs. The matcher then runs over the input's own
// bytes, and a token mask over a small vocabulary must equal the brute-force mask (also through
// mask_cache's interned-state walk).
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz/fuzz_target.hpp"
#include "grammar/gbnf.hpp"
#include "grammar/grammar_matcher.hpp"
#include "grammar/token_matcher.hpp"

namespace {

namespace g = kvactor::grammar;

const std::vector<std::string>& vocabulary() {
  static const std::vector<std::string> v{"",   "a", "b",    "ab",   "\"",       "{", "}", "[",  "]",    " ",   "0",
                                          "12", "x", "\xC3", "\xA9", "\xC3\xA9", ":", ",", "\n", "true", "\xFF"};
  return v;
}

void check_masks(const std::shared_ptr<const g::grammar>& grammar, std::string_view input) {
  static const g::vocabulary_trie trie(vocabulary(), {0});
  g::grammar_matcher m(grammar);
  g::token_mask mask;
  g::mask_cache cache(4);
  for (std::size_t i = 0; i < input.size() && i < 16; ++i) {
    trie.fill_mask(m, mask);
    FUZZ_CHECK(cache.mask_for(trie, m).words == mask.words, "a cached (interned-state) mask that differs");
    for (uint32_t id = 1; id < vocabulary().size(); ++id) {
      g::grammar_matcher copy = m;
      FUZZ_CHECK(mask.allowed(id) == copy.accept(vocabulary()[id]), "a trie mask that differs from brute force");
    }
    FUZZ_CHECK(mask.allowed(0) == m.is_complete(), "the end token allowed other than at completion");
    if (!m.accept(input.substr(i, 1))) break;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 4096) return 0;
  const std::string_view source(reinterpret_cast<const char*>(data), size);
  std::shared_ptr<const g::grammar> grammar;
  try {
    grammar = std::make_shared<g::grammar>(g::parse_gbnf(source));
  } catch (const g::grammar_error& e) {
    FUZZ_CHECK(e.offset() <= size, "a parse error past the end of the input");
    FUZZ_CHECK(std::string(e.what()).rfind("line ", 0) == 0, "a parse error that does not start with its line");
    return 0;
  }
  std::shared_ptr<const g::grammar> again;
  try {
    again = std::make_shared<g::grammar>(g::parse_gbnf(g::to_gbnf(*grammar), grammar->names[grammar->root]));
  } catch (const g::grammar_error&) {
    FUZZ_CHECK(false, "to_gbnf wrote a grammar that does not parse");
  }
  try {
    g::grammar_matcher a(grammar), b(again);
    for (std::size_t i = 0; i < source.size() && i < 64; ++i) {
      const bool took = a.accept(source.substr(i, 1));
      FUZZ_CHECK(took == b.accept(source.substr(i, 1)), "the reprinted grammar accepts different bytes");
      if (!took) break;
      FUZZ_CHECK(a.is_complete() == b.is_complete(), "the reprinted grammar completes differently");
    }
    check_masks(grammar, source);
  } catch (const g::grammar_error& e) {
    FUZZ_CHECK(std::string(e.what()).find("too ambiguous") != std::string::npos, "an unexpected matcher error");
  }
  return 0;
}
