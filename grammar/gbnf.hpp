// A parsed GBNF grammar (llama.cpp's dialect) in llama.cpp's flat form: every rule is one run of
// elements, its alternatives separated by `alt` and the run closed by `end`. A character class is
// a `chr`/`chr_not` element followed by `chr_alt` / `chr_range_upper` elements:
//
//   [a-zA-Z_]  ->  chr 'a', chr_range_upper 'z', chr_alt 'A', chr_range_upper 'Z', chr_alt '_'
//
// Repetitions and groups are rewritten into generated rules at parse time, so the matcher only
// knows sequences, alternatives, rule references and classes.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace kvactor::grammar {

enum class element_type : uint8_t {
  end,              // closes a rule
  alt,              // starts the next alternative
  rule_ref,         // value: rule id
  chr,              // value: code point (starts a class)
  chr_not,          // value: code point (starts a negated class)
  chr_range_upper,  // value: upper bound of the range begun by the previous element
  chr_alt,          // value: another code point of the same class
  chr_any,          // `.`: any code point
};

struct element {
  element_type type;
  uint32_t value;
  bool operator==(const element& o) const { return type == o.type && value == o.value; }
};

struct grammar {
  std::vector<std::vector<element>> rules;  // indexed by rule id
  std::vector<std::string> names;           // rule id -> name (generated rules: "name_N")
  uint32_t root = 0;
};

// Parse errors carry the byte offset into the source and a line:column.
class grammar_error : public std::runtime_error {
 public:
  grammar_error(const std::string& message, std::size_t offset) : std::runtime_error(message), offset_(offset) {}
  std::size_t offset() const { return offset_; }

 private:
  std::size_t offset_;
};

// Limits that keep a hostile grammar from exhausting memory (repetition expansion).
inline constexpr uint32_t max_repetition = 10000;
inline constexpr std::size_t max_grammar_elements = 1u << 20;

// Parses GBNF text; `root` names the start rule. Refuses undefined rules, a missing root and left
// recursion (the matcher would never terminate on it), each with a message naming the rule.
grammar parse_gbnf(std::string_view source, std::string_view root = "root");

// The most bytes a complete match of the root can have, or nullopt when it is unbounded (a recursive
// rule reachable from the root, e.g. any `*` or `+`) or over 2^40. A document that is not complete
// after this many generated tokens never will be (a token is at least one byte): with every string
// and array of a JSON schema bounded, max_tokens >= this guarantees the document closes.
std::optional<std::size_t> longest_match_bytes(const grammar& g);

// Writes the grammar back as GBNF (one rule per line; generated rules included). For tests and logs.
std::string to_gbnf(const grammar& g);

}  // namespace kvactor::grammar
