// GBNF parsing (llama.cpp's dialect) and the pushdown matcher over bytes.
#include <doctest/doctest.h>

#include <memory>
#include <string>

#include "grammar/gbnf.hpp"
#include "grammar/grammar_matcher.hpp"

using namespace kvactor::grammar;

namespace {

std::shared_ptr<const grammar> compile(const std::string& text) { return std::make_shared<grammar>(parse_gbnf(text)); }

// Does the grammar accept exactly `text` (all of it, and complete afterwards)?
bool matches(const std::shared_ptr<const grammar>& g, const std::string& text) {
  grammar_matcher m(g);
  return m.accept(text) && m.is_complete();
}

std::string parse_error(const std::string& text) {
  try {
    parse_gbnf(text);
  } catch (const grammar_error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("literals, alternation, grouping and rule references") {
  const auto g =
      compile("root ::= greeting \" \" (\"world\" | name)\ngreeting ::= \"hi\" | \"hello\"\nname ::= [A-Z] [a-z]+\n");
  CHECK(matches(g, "hi world"));
  CHECK(matches(g, "hello Bob"));
  CHECK_FALSE(matches(g, "hello bob"));
  CHECK_FALSE(matches(g, "hello"));
  CHECK_FALSE(matches(g, "hey world"));
  grammar_matcher m(g);
  CHECK(m.accept("hello W"));
  CHECK_FALSE(m.is_complete());
  CHECK_FALSE(m.accept("!"));
  CHECK(m.accept("orld"));  // a refused byte left the state as it was
  CHECK(m.is_complete());
  CHECK(m.can_continue());  // [a-z]+ may go on
  grammar_matcher done(g);
  CHECK(done.accept("hi world"));
  CHECK(done.is_complete());
  CHECK_FALSE(done.can_continue());
}

TEST_CASE("repetition: * + ? and {m}, {m,}, {m,n}") {
  CHECK(matches(compile("root ::= \"a\"*"), ""));
  CHECK(matches(compile("root ::= \"a\"*"), "aaaa"));
  CHECK_FALSE(matches(compile("root ::= \"a\"+"), ""));
  CHECK(matches(compile("root ::= \"ab\"+"), "ababab"));
  CHECK_FALSE(matches(compile("root ::= \"ab\"+"), "aba"));
  CHECK(matches(compile("root ::= \"x\" \"y\"? \"z\""), "xz"));
  CHECK(matches(compile("root ::= \"x\" \"y\"? \"z\""), "xyz"));
  const auto exact = compile("root ::= [0-9]{3}");
  CHECK(matches(exact, "123"));
  CHECK_FALSE(matches(exact, "12"));
  CHECK_FALSE(matches(exact, "1234"));
  const auto at_least = compile("root ::= [0-9]{2,}");
  CHECK_FALSE(matches(at_least, "1"));
  CHECK(matches(at_least, "12345"));
  const auto range = compile("root ::= (\"a\" | \"b\"){1,3} \".\"");
  CHECK_FALSE(matches(range, "."));
  CHECK(matches(range, "a."));
  CHECK(matches(range, "bab."));
  CHECK_FALSE(matches(range, "abab."));
  CHECK(matches(compile("root ::= \"q\"{0} \"r\""), "r"));
}

TEST_CASE("character classes: ranges, negation, any, escapes and code points") {
  const auto hex = compile("root ::= [0-9a-fA-F]+");
  CHECK(matches(hex, "09afAF"));
  CHECK_FALSE(matches(hex, "g"));
  const auto not_quote = compile("root ::= \"\\\"\" [^\"\\\\]* \"\\\"\"");
  CHECK(matches(not_quote, "\"abc é\""));
  CHECK_FALSE(matches(not_quote, "\"a\"b\""));
  CHECK(matches(compile("root ::= .+"), "any thing ✓"));
  CHECK(matches(compile("root ::= \"\\x41\\u00e9\\U0001F600\\n\\t\""), "Aé😀\n\t"));
  CHECK(matches(compile("root ::= [\\u0391-\\u03A9]+"), "ΑΒΩ"));
  CHECK_FALSE(matches(compile("root ::= [\\u0391-\\u03A9]+"), "ABC"));
  CHECK(matches(compile("root ::= [\\]\\[-]+"), "[-]"));
  CHECK(matches(compile("root ::= \"é\""), "é"));
}

TEST_CASE("comments, blank lines and multi-line groups") {
  const auto g =
      compile("# a comment\n\nroot ::= (\n  \"a\"   # trailing comment\n  | \"b\"\n)\n\n# another\nunused ::= \"z\"\n");
  CHECK(matches(g, "a"));
  CHECK(matches(g, "b"));
  CHECK_FALSE(matches(g, "z"));
}

TEST_CASE("code points split across tokens are carried as partial UTF-8") {
  const auto g = compile("root ::= \"é\" [α-γ]");
  grammar_matcher m(g);
  CHECK(m.accept("\xC3"));
  CHECK_FALSE(m.is_complete());
  CHECK(m.accept("\xA9\xCE"));
  CHECK_FALSE(m.accept("\xB4"));  // δ is U+03B4: outside [α-γ]
  CHECK(m.accept("\xB2"));        // β
  CHECK(m.is_complete());
  grammar_matcher n(g);
  CHECK_FALSE(n.accept("\xCE"));  // no class can start with U+0380..U+03BF here
  CHECK_FALSE(n.accept("\xFF"));  // never valid UTF-8
  grammar_matcher any(compile("root ::= .+"));
  CHECK_FALSE(any.accept("\xE0\x80\xA0"));      // an overlong space
  CHECK_FALSE(any.accept("\xC0\xA0"));          // an overlong space, two bytes
  CHECK_FALSE(any.accept("\xED\xA0\x80"));      // a surrogate
  CHECK_FALSE(any.accept("\xF4\x90\x80\x80"));  // over U+10FFFF
  CHECK(any.accept("\xF0\x9F\x98\x80"));        // U+1F600
  grammar_matcher negated(compile("root ::= [^\\u0080-\\u07FF]"));
  CHECK_FALSE(negated.accept("\xC3"));  // every two-byte code point is excluded
  CHECK(negated.accept("\xE2"));
}

TEST_CASE("errors name the problem and its position") {
  CHECK(parse_error("root ::= foo\n").find("undefined rule 'foo'") != std::string::npos);
  CHECK(parse_error("root ::= foo\n").find("line 1, column 10") != std::string::npos);
  CHECK(parse_error("rot ::= \"a\"\n").find("no rule 'root'") != std::string::npos);
  CHECK(parse_error("").find("no rule 'root'") != std::string::npos);
  CHECK(parse_error("root ::= \"abc\n").find("unterminated string") != std::string::npos);
  CHECK(parse_error("root ::= [abc\n").find("unterminated character class") != std::string::npos);
  CHECK(parse_error("root ::= []\n").find("empty character class") != std::string::npos);
  CHECK(parse_error("root ::= [z-a]\n").find("upper bound below") != std::string::npos);
  CHECK(parse_error("root ::= \"a\"{3,2}\n").find("maximum below its minimum") != std::string::npos);
  CHECK(parse_error("root ::= \"a\"{99999}\n").find("over 10000") != std::string::npos);
  CHECK(parse_error("root ::= *\n").find("expected an item before '*'") != std::string::npos);
  CHECK(parse_error("root = \"a\"\n").find("expected '::='") != std::string::npos);
  CHECK(parse_error("root ::= \"\\q\"\n").find("unknown escape") != std::string::npos);
  CHECK(parse_error("root ::= (\"a\"\n").find("expected ')'") != std::string::npos);
  CHECK(parse_error("root ::= \"a\" )\n").find("end of the line") != std::string::npos);
  CHECK(parse_error("root ::= \"a\"\nroot ::= \"b\"\n").find("defined twice") != std::string::npos);
  CHECK(parse_error("root ::= \"\\U00110000\"\n").find("over U+10FFFF") != std::string::npos);
  CHECK(parse_error("root ::= \"\xFF\"\n").find("invalid UTF-8") != std::string::npos);
  CHECK(parse_error("root ::= (((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((("
                    "((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((("
                    "((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((\"a\"")
            .find("nested deeper") != std::string::npos);
  CHECK(parse_error("root ::= \"a\"{10000} \"b\"{10000} \"c\"{10000} \"d\"{10000}\n").find("too large") ==
        std::string::npos);
  CHECK(parse_error("root ::= \"" + std::string(120, 'a') + "\"{10000}\n").find("too large") != std::string::npos);
}

TEST_CASE("left recursion is refused, including through nullable prefixes") {
  CHECK(parse_error("root ::= root \"a\" | \"b\"\n").find("left recursion in rule 'root'") != std::string::npos);
  CHECK(parse_error("root ::= a\na ::= b \"x\"\nb ::= \"\" | root\n").find("left recursion") != std::string::npos);
  CHECK(parse_error("root ::= (\"a\"?)*\n").find("left recursion") != std::string::npos);
  CHECK(parse_error("root ::= \"a\" root | \"b\"\n").empty());  // right recursion is fine
}

TEST_CASE("to_gbnf writes a grammar that parses to the same language") {
  const auto g = compile("root ::= (\"a\" | [^x-z\\n]){2,3} \"\\\"\" .?\n");
  const auto again = std::make_shared<grammar>(parse_gbnf(to_gbnf(*g), g->names[g->root]));
  for (const std::string s : {"aa\"", "ab\"", "aaa\"q", "a\"", "ax\"", "aaaa\"", "a\n\""}) {
    CAPTURE(s);
    CHECK(matches(g, s) == matches(again, s));
  }
  CHECK(matches(again, "aQ\"!"));
}

TEST_CASE("a highly ambiguous grammar is refused by the matcher, not run in quadratic memory") {
  const auto g = compile("root ::= (\"a\"?){0,5000} \"b\"\n");
  CHECK_THROWS_AS(grammar_matcher{g}, grammar_error);
  const auto fine = compile("root ::= (\"a\"?){0,20} \"b\"\n");
  CHECK(matches(fine, "aaab"));
}
