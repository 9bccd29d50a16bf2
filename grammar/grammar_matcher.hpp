// The pushdown matcher over a parsed grammar, as llama.cpp runs it: the state is a set of stacks of
// positions into the grammar's rules; the top of every stack is a character class (a stack that is
// empty means the root rule is complete). Input arrives as bytes: a code point split across tokens is
// carried as a partial UTF-8 sequence, and a partial is kept only while some class can still match it.
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "grammar/gbnf.hpp"

namespace kvactor::grammar {

using grammar_stack = std::vector<const element*>;

// A grammar whose state needs more stacks than this (a highly ambiguous one, e.g. ("a"?){0,2000})
// throws grammar_error from the matcher instead of using quadratic memory and time.
inline constexpr std::size_t max_stacks = 1024;

struct match_state {
  std::vector<grammar_stack> stacks;  // sorted, no duplicates
  uint32_t partial_value = 0;         // bits of a code point begun but not finished
  int partial_remaining = 0;          // continuation bytes it still needs
  int partial_length = 0;             // bytes in its whole sequence (overlong forms are refused)
};

// The state before any input.
match_state initial_state(const grammar& g);
// The state after one more byte into `out`; false (out unspecified) when no stack can take it.
// initial_state, step_byte and grammar_matcher's constructor and accept() may throw grammar_error
// (max_stacks).
bool step_byte(const grammar& g, const match_state& in, uint8_t byte, match_state& out);
inline bool state_is_complete(const match_state& s) {
  return s.partial_remaining == 0 && !s.stacks.empty() && s.stacks.front().empty();
}
// True when some stack can still take input (false: the only way on is to stop).
inline bool state_can_continue(const match_state& s) { return !s.stacks.empty() && !s.stacks.back().empty(); }

// A request's grammar state: the grammar (shared, immutable) and where the output is in it.
class grammar_matcher {
 public:
  explicit grammar_matcher(std::shared_ptr<const grammar> g);

  // Takes the bytes if the grammar allows all of them; otherwise leaves the state as it was.
  bool accept(std::string_view bytes);
  bool is_complete() const { return state_is_complete(state_); }
  bool can_continue() const { return state_can_continue(state_); }

  const grammar& rules() const { return *g_; }
  const match_state& state() const { return state_; }

 private:
  std::shared_ptr<const grammar> g_;
  match_state state_;
  match_state scratch_;
};

}  // namespace kvactor::grammar
