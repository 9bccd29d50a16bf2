// The proof of the Jinja engine: every template in ../shared/templates is rendered with every
// conversation of conversations.json by kvactor and by Python's jinja2 (render_with_jinja2.py, one
// process for all renders, configured as transformers configures it), and the outputs must be equal
// byte for byte. Where jinja2 raises, kvactor must raise too. A template kvactor refuses must be
// refused at parse time with a template_error naming the line; anything else is a failure.
#include <doctest/doctest.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>

#include "template/jinja_template.hpp"

namespace {

using nlohmann::ordered_json;
namespace jinja = kvactor::jinja;

constexpr const char* fixed_now = "2026-07-26T10:30:00";

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

/// One python process renders everything (templates x conversations, and the language snippets).
const ordered_json& oracle() {
  static const ordered_json result = [] {
    setenv("KVACTOR_TEMPLATE_NOW", fixed_now, 1);
    const std::string command = std::string(KVACTOR_PYTHON) + " " + KVACTOR_JINJA_ORACLE + " " + KVACTOR_TEMPLATES_DIR +
                                " " + KVACTOR_JINJA_CASES + " " + KVACTOR_JINJA_SNIPPETS;
    FILE* pipe = popen(command.c_str(), "r");
    REQUIRE_MESSAGE(pipe != nullptr, "cannot run ", command);
    std::string output;
    char buf[65536];
    for (std::size_t n; (n = fread(buf, 1, sizeof buf, pipe)) > 0;) output.append(buf, n);
    const int status = pclose(pipe);
    REQUIRE_MESSAGE(status == 0, command, " failed (is python3-jinja2 installed?)");
    return ordered_json::parse(output);
  }();
  return result;
}

/// Where two renders first differ, with some context, for the failure message.
std::string first_difference(const std::string& expected, const std::string& actual) {
  std::size_t i = 0;
  while (i < expected.size() && i < actual.size() && expected[i] == actual[i]) ++i;
  const std::size_t from = i > 40 ? i - 40 : 0;
  return "first difference at byte " + std::to_string(i) +
         "\n  jinja2:  " + ordered_json(expected.substr(from, 120)).dump() +
         "\n  kvactor: " + ordered_json(actual.substr(from, 120)).dump();
}

}  // namespace

TEST_CASE("every chat template renders byte-identical to Python's jinja2 or is refused at parse time") {
  const auto cases = ordered_json::parse(read_file(KVACTOR_JINJA_CASES));
  const auto& expected_templates = oracle().at("templates");
  REQUIRE(expected_templates.size() > 0);

  int identical = 0;
  int refused = 0;
  int renders_compared = 0;
  int raises_matched = 0;
  std::string refusals;
  std::chrono::steady_clock::duration engine_time{};
  for (const auto& [name, expected] : expected_templates.items()) {
    const std::string source = read_file(std::filesystem::path(KVACTOR_TEMPLATES_DIR) / name);
    std::optional<jinja::template_program> program;
    try {
      program = jinja::template_program::parse(source);
    } catch (const jinja::template_error& e) {
      CHECK_MESSAGE(e.line() >= 0, name);
      CHECK_MESSAGE(std::string(e.what()).rfind("line ", 0) == 0, name);
      if (expected.contains("parse_error")) {
        ++identical;  // both refuse the template
      } else {
        ++refused;
        refusals += "  " + name + ": " + e.what() + "\n";
      }
      continue;
    }
    if (expected.contains("parse_error")) {
      FAIL_CHECK(name, ": jinja2 refuses it (", expected["parse_error"].get<std::string>(), ") but kvactor parsed it");
      continue;
    }
    bool all_equal = true;
    for (const auto& c : cases) {
      const std::string case_name = c.at("name").get<std::string>();
      const auto& want = expected.at("cases").at(case_name);
      std::string got;
      std::string error;
      const auto started = std::chrono::steady_clock::now();
      try {
        got = program->render(c.at("context"));
      } catch (const jinja::template_error& e) {
        error = e.what();
      }
      engine_time += std::chrono::steady_clock::now() - started;
      if (want.contains("error")) {
        if (error.empty()) {
          all_equal = false;
          FAIL_CHECK(name, " / ", case_name, ": jinja2 raises (", want["error"].get<std::string>(),
                     ") but kvactor rendered:\n", got);
        } else {
          ++raises_matched;
        }
        continue;
      }
      if (!error.empty()) {
        all_equal = false;
        FAIL_CHECK(name, " / ", case_name, ": kvactor raised '", error, "' where jinja2 rendered");
        continue;
      }
      ++renders_compared;
      const std::string& expected_text = want.at("output").get_ref<const std::string&>();
      if (got != expected_text) {
        all_equal = false;
        FAIL_CHECK(name, " / ", case_name, ": ", first_difference(expected_text, got));
      }
    }
    if (all_equal) ++identical;
  }
  MESSAGE("jinja2 ", oracle().at("jinja2").get<std::string>(), ": ", expected_templates.size(), " templates, ",
          identical, " byte-identical on every case, ", refused, " refused at parse time; ", renders_compared,
          " renders compared, ", raises_matched, " raises matched; kvactor rendered them all in ",
          std::chrono::duration_cast<std::chrono::microseconds>(engine_time).count() / 1000.0, " ms\n", refusals);
  CHECK(identical + refused == static_cast<int>(expected_templates.size()));
}

// The language pieces, each checked against jinja2: whitespace control, literals, operators, filters,
// tests, loops, scoping, macros, errors. Where jinja2 refuses at compile time kvactor must refuse at
// parse time; where it raises while rendering kvactor must raise.
TEST_CASE("language snippets render as jinja2 renders them") {
  const auto snippets = ordered_json::parse(read_file(KVACTOR_JINJA_SNIPPETS));
  const auto& expected = oracle().at("snippets");
  REQUIRE(expected.size() == snippets.size());
  for (std::size_t i = 0; i < snippets.size(); ++i) {
    const std::string source = snippets[i].at("template").get<std::string>();
    const auto& want = expected[i];
    CAPTURE(source);
    std::optional<jinja::template_program> program;
    try {
      program = jinja::template_program::parse(source);
    } catch (const jinja::template_error& e) {
      CHECK_MESSAGE(want.contains("parse_error"), "kvactor refused at parse: ", e.what(), "; jinja2: ", want.dump());
      continue;
    }
    if (want.contains("parse_error")) {
      FAIL_CHECK("jinja2 refuses at compile time (", want["parse_error"].get<std::string>(), "), kvactor parsed it");
      continue;
    }
    std::string got;
    std::string error;
    try {
      got = program->render(snippets[i].at("context"));
    } catch (const jinja::template_error& e) {
      error = e.what();
    }
    if (want.contains("error")) {
      CHECK_MESSAGE(!error.empty(), "jinja2 raises (", want["error"].get<std::string>(), "), kvactor rendered ", got);
    } else if (!error.empty()) {
      FAIL_CHECK("kvactor raised '", error, "' where jinja2 rendered ", ordered_json(want["output"]).dump());
    } else {
      CHECK_MESSAGE(got == want["output"].get<std::string>(), first_difference(want["output"].get<std::string>(), got));
    }
  }
}
