// Direct tests of the engine's API and errors (the language itself is checked against jinja2 in
// jinja_oracle_test.cpp): errors carry the template line and name the construct, raise_exception is a
// raised_error, strftime_now honours KVACTOR_TEMPLATE_NOW, key order follows the JSON given.
#include <doctest/doctest.h>

#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>

#include "template/jinja_template.hpp"

namespace {

namespace jinja = kvactor::jinja;
using nlohmann::json;
using nlohmann::ordered_json;

std::string render(const std::string& source, const json& context = json::object()) {
  return jinja::template_program::parse(source).render(context);
}

/// The template_error a parse throws (its line and message), or fails the test.
jinja::template_error parse_error(const std::string& source) {
  try {
    jinja::template_program::parse(source);
  } catch (const jinja::template_error& e) {
    return e;
  }
  FAIL("expected a parse error for: " << source);
  return jinja::template_error(0, "");
}

jinja::template_error render_error(const std::string& source, const json& context = json::object()) {
  const auto program = jinja::template_program::parse(source);
  try {
    program.render(context);
  } catch (const jinja::template_error& e) {
    return e;
  }
  FAIL("expected a render error for: " << source);
  return jinja::template_error(0, "");
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

}  // namespace

TEST_CASE("a chat template renders messages with the generation prompt") {
  const std::string chatml =
      "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + "
      "'\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";
  const json context = {{"messages", {{{"role", "user"}, {"content", "Hi"}}}}, {"add_generation_prompt", true}};
  CHECK(render(chatml, context) == "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
}

TEST_CASE("whitespace: trim_blocks, lstrip_blocks, - and + markers, one trailing newline dropped") {
  CHECK(render("a\n  {% if true %}\n  x\n  {% endif %}\nb\n") == "a\n  x\nb");
  CHECK(render("a  {%- if true -%}  x  {%- endif -%}  b") == "axb");
  CHECK(render("  {%+ if true %}x{% endif %}") == "  x");
  CHECK(render("{% if true +%}\nx{% endif %}") == "\nx");
  CHECK(render("  {{ 1 }}\n") == "  1");
  CHECK(render("x\r\ny") == "x\ny");
}

TEST_CASE("parse errors name the line and the construct") {
  auto e = parse_error("line one\n{% if true %}\nnever closed\n");
  CHECK(e.line() == 2);
  CHECK(contains(e.what(), "line 2: "));
  CHECK(contains(e.what(), "'{% if %}' is never closed"));

  e = parse_error("a\nb\n{{ x | no_such_filter }}");
  CHECK(e.line() == 3);
  CHECK(contains(e.what(), "no filter named 'no_such_filter'"));

  e = parse_error("{% for x in xs %}\n{% include 'other.jinja' %}\n{% endfor %}");
  CHECK(e.line() == 2);
  CHECK(contains(e.what(), "unsupported construct '{% include %}'"));

  e = parse_error("\n\n{% endfor %}");
  CHECK(e.line() == 3);

  e = parse_error("{{ 'unterminated }}");
  CHECK(contains(e.what(), "unterminated"));

  e = parse_error("{% for x in xs recursive %}{% endfor %}");
  CHECK(contains(e.what(), "recursive"));

  e = parse_error("{% break %}");
  CHECK(contains(e.what(), "outside a for loop"));

  e = parse_error("ok\n{{ 1 +* 2 }}");
  CHECK(e.line() == 2);
}

TEST_CASE("render errors carry the line of the failing expression") {
  auto e = render_error("a\n{% set x = 1 %}\n{{ x + none }}");
  CHECK(e.line() == 3);
  CHECK(contains(e.what(), "unsupported operand type(s) for +: 'int' and 'NoneType'"));

  e = render_error("\n{{ missing.attribute }}");
  CHECK(e.line() == 2);
  CHECK(contains(e.what(), "'missing' is undefined"));

  e = render_error("{% for m in messages %}\n{{ m.content.text }}{% endfor %}", {{"messages", {1}}});
  CHECK(e.line() == 2);
  CHECK(contains(e.what(), "has no attribute 'content'"));

  e = render_error("{{ [1] | map('upper') | tojson }}");  // a generator is not JSON serializable
  CHECK(contains(e.what(), "not JSON serializable"));

  e = render_error("{{ messages.append(1) }}", {{"messages", json::array()}});  // immutable sandbox
  CHECK(contains(e.what(), "unsafe"));
}

TEST_CASE("raise_exception is a raised_error with the template's message and line") {
  const auto program = jinja::template_program::parse(
      "{% if messages[0]['role'] != 'user' %}\n{{ raise_exception('Conversation roles must alternate') }}\n{% endif "
      "%}");
  const json context = {{"messages", {{{"role", "assistant"}, {"content", "x"}}}}};
  try {
    program.render(context);
    FAIL("raise_exception did not raise");
  } catch (const jinja::raised_error& e) {
    CHECK(e.line() == 2);
    CHECK(e.message() == "Conversation roles must alternate");
  }
}

TEST_CASE("strftime_now uses KVACTOR_TEMPLATE_NOW when set") {
  setenv("KVACTOR_TEMPLATE_NOW", "2024-02-29T23:59:30", 1);
  CHECK(render("{{ strftime_now('%d %b %Y %H:%M:%S %A') }}") == "29 Feb 2024 23:59:30 Thursday");
  unsetenv("KVACTOR_TEMPLATE_NOW");
  CHECK(render("{{ strftime_now('%Y') | length }}") == "4");
}

TEST_CASE("tojson keeps the key order of an ordered_json context; nlohmann::json iterates sorted") {
  const auto program = jinja::template_program::parse("{{ tool | tojson }}");
  const auto ordered = ordered_json::parse(R"({"tool": {"name": "f", "description": "d", "arguments": {}}})");
  CHECK(program.render(ordered) == R"({"name": "f", "description": "d", "arguments": {}})");
  const auto sorted = json::parse(R"({"tool": {"name": "f", "description": "d", "arguments": {}}})");
  CHECK(program.render(sorted) == R"({"arguments": {}, "description": "d", "name": "f"})");
}

TEST_CASE("tojson writes non-ASCII as is and escapes as json.dumps does") {
  const json context = {{"s", "Grüß \"q\"\n\t\x01"}};
  CHECK(render("{{ s | tojson }}", context) == "\"Grüß \\\"q\\\"\\n\\t\\u0001\"");
  CHECK(render("{{ s | tojson(ensure_ascii=true) }}", {{"s", "é😀"}}) == "\"\\u00e9\\ud83d\\ude00\"");
  CHECK(render("{{ {'a': [1, 2.5]} | tojson(indent=2) }}") == "{\n  \"a\": [\n    1,\n    2.5\n  ]\n}");
}

TEST_CASE("the context must be an object; bad input never crashes") {
  const auto program = jinja::template_program::parse("{{ x }}");
  CHECK_THROWS_AS(program.render(json::array()), jinja::template_error);
  for (const char* bad : {"{{",          "{%",           "{#",           "{{ }}",     "{% %}",      "{% if %}",
                          "{{ ( }}",     "{{ [1, }}",    "{{ {1: } }}",  "{% for %}", "{% set %}",  "{% macro %}",
                          "{{ 'a' ~ }}", "{{ x[ }}",     "{{ x. }}",     "{{ x | }}", "{{ x is }}", "{% endmacro %}",
                          "{{ 1e }}",    "{{ '\\x4' }}", "{% set x = 1", "{{ a if }}"}) {
    CAPTURE(bad);
    CHECK_THROWS_AS(jinja::template_program::parse(bad), jinja::template_error);
  }
}

TEST_CASE("deep nesting in a template is a parse error, not a stack overflow") {
  const std::string brackets = "{{ " + std::string(5000, '(') + "1" + std::string(5000, ')') + " }}";
  CHECK(contains(parse_error(brackets).what(), "nesting deeper than"));
  std::string ifs;
  for (int i = 0; i < 1000; ++i) ifs += "{% if true %}";
  CHECK(contains(parse_error(ifs).what(), "nesting deeper than"));
  CHECK(render(std::string(50, '(').insert(0, "{{ ") + "7" + std::string(50, ')') + " }}") == "7");
}

TEST_CASE("deep macro recursion is an error, not a stack overflow") {
  const auto e = render_error("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}");
  CHECK(contains(e.what(), "nested too deeply"));
}

TEST_CASE("a runaway template ends with an error") {
  const auto e = render_error("{% for i in range(99999) %}{% for j in range(99999) %}{% endfor %}{% endfor %}");
  CHECK(contains(e.what(), "steps"));
}

TEST_CASE("sizes a template asks for are bounded") {
  CHECK(contains(render_error("{{ {} | tojson(indent=2 ** 32) }}").what(), "above 10000"));
  CHECK(contains(render_error("{{ 'x' | indent(99999999) }}").what(), "above 10000"));
  CHECK(contains(
      render_error("{% set ns = namespace(s='ab') %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}")
          .what(),
      "MiB"));
}
