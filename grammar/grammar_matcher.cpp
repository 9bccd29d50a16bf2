#include "grammar/grammar_matcher.hpp"

#include <algorithm>
#include <utility>

namespace kvactor::grammar {
namespace {

bool is_end(const element* e) { return e->type == element_type::end || e->type == element_type::alt; }

// Walks the class starting at `pos`; returns whether `cp` is in it and the element after the class.
std::pair<bool, const element*> match_char(const element* pos, uint32_t cp) {
  const bool positive = pos->type != element_type::chr_not;
  bool found = false;
  do {
    if (pos->type == element_type::chr_any) {
      found = true;
      ++pos;
    } else if (pos[1].type == element_type::chr_range_upper) {
      found = found || (pos->value <= cp && cp <= pos[1].value);
      pos += 2;
    } else {
      found = found || pos->value == cp;
      ++pos;
    }
  } while (pos->type == element_type::chr_alt);
  return {found == positive, pos};
}

// The ranges a class lists, merged and sorted.
std::vector<std::pair<uint32_t, uint32_t>> class_ranges(const element* pos) {
  std::vector<std::pair<uint32_t, uint32_t>> ranges;
  do {
    if (pos->type == element_type::chr_any) {
      ranges.push_back({0, 0x10FFFF});
      ++pos;
    } else if (pos[1].type == element_type::chr_range_upper) {
      ranges.push_back({pos->value, pos[1].value});
      pos += 2;
    } else {
      ranges.push_back({pos->value, pos->value});
      ++pos;
    }
  } while (pos->type == element_type::chr_alt);
  std::sort(ranges.begin(), ranges.end());
  return ranges;
}

// Can some code point in [low, high] match the class at `pos`?
bool class_meets(const element* pos, uint32_t low, uint32_t high) {
  const auto ranges = class_ranges(pos);
  if (pos->type != element_type::chr_not) {
    return std::any_of(ranges.begin(), ranges.end(), [&](auto r) { return r.first <= high && low <= r.second; });
  }
  uint32_t next = low;  // first code point of [low, high] not yet known to be excluded
  for (const auto& [a, b] : ranges) {
    if (a > next) return true;
    if (b >= next) {
      if (b >= high) return false;
      next = b + 1;
    }
  }
  return next <= high;
}

void emit_stack(const grammar_stack& stack, std::vector<grammar_stack>& out, std::size_t& n) {
  if (n >= 8 * max_stacks)  // before duplicates are removed
    throw grammar_error("the grammar is too ambiguous: over " + std::to_string(max_stacks) + " parse stacks", 0);
  if (n < out.size())
    out[n].assign(stack.begin(), stack.end());
  else
    out.push_back(stack);
  ++n;
}

// Expands rule references on top of `stack` until every stack's top is a class (or it is empty),
// writing the results into out[n...]: existing vectors are overwritten, so a reused state allocates
// only when it grows (the mask walk derives thousands of states per step).
// A depth-first walk with its own frame stack, not recursion: a chain of nullable rules
// (`("a"?){0,5000}` nests 5,000 of them) is as deep as the grammar is long.
void advance(const grammar& g, grammar_stack& stack, std::vector<grammar_stack>& out, std::size_t& n) {
  struct frame {
    const element* ref;  // the rule reference being expanded (restored on the stack when done)
    const element* alt;  // the alternative being walked
    std::size_t base;    // the stack's size below the reference
  };
  thread_local std::vector<frame> frames;
  frames.clear();
  // Pushes the continuation after the frame's reference, then its current alternative.
  const auto enter_alternative = [&](const frame& f) {
    stack.resize(f.base);
    if (!is_end(f.ref + 1)) stack.push_back(f.ref + 1);
    if (!is_end(f.alt)) stack.push_back(f.alt);
  };
  while (true) {
    if (stack.empty() || stack.back()->type != element_type::rule_ref) {
      emit_stack(stack, out, n);
      // Back up to the innermost frame with another alternative left.
      while (!frames.empty()) {
        frame& f = frames.back();
        while (!is_end(f.alt)) ++f.alt;
        if (f.alt->type == element_type::end) {
          stack.resize(f.base);
          stack.push_back(f.ref);
          frames.pop_back();
          continue;
        }
        ++f.alt;
        enter_alternative(f);
        break;
      }
      if (frames.empty()) return;
      continue;
    }
    const element* ref = stack.back();
    stack.pop_back();
    frames.push_back({ref, g.rules[ref->value].data(), stack.size()});
    enter_alternative(frames.back());
  }
}

// Keeps the first n stacks, sorted and without duplicates.
void normalise(std::vector<grammar_stack>& stacks, std::size_t n) {
  if (n > 1) {
    std::sort(stacks.begin(), stacks.begin() + static_cast<std::ptrdiff_t>(n));
    n = static_cast<std::size_t>(std::unique(stacks.begin(), stacks.begin() + static_cast<std::ptrdiff_t>(n)) -
                                 stacks.begin());
  }
  stacks.resize(n);
  if (stacks.size() > max_stacks)
    throw grammar_error("the grammar is too ambiguous: over " + std::to_string(max_stacks) + " parse stacks", 0);
}

void accept_code_point(const grammar& g, const match_state& in, uint32_t cp, match_state& out) {
  out.partial_value = 0;
  out.partial_remaining = 0;
  out.partial_length = 0;
  thread_local grammar_stack next;
  std::size_t n = 0;
  for (const grammar_stack& s : in.stacks) {
    if (s.empty()) continue;
    const auto [ok, after] = match_char(s.back(), cp);
    if (!ok) continue;
    next.assign(s.begin(), s.end() - 1);
    if (!is_end(after)) next.push_back(after);
    advance(g, next, out.stacks, n);
  }
  normalise(out.stacks, n);
}

// The smallest code point a sequence of n bytes may encode (shorter forms are overlong).
uint32_t minimum_code_point(int length) { return length == 2 ? 0x80 : length == 3 ? 0x800 : 0x10000; }

bool is_surrogate(uint32_t cp) { return cp >= 0xD800 && cp <= 0xDFFF; }

bool partial_possible(const match_state& s) {
  const int bits = 6 * s.partial_remaining;
  const uint32_t low = std::max(s.partial_value << bits, minimum_code_point(s.partial_length));
  const uint32_t high = (s.partial_value << bits) | ((1u << bits) - 1);
  if (low > 0x10FFFF || low > high || (is_surrogate(low) && is_surrogate(high))) return false;
  return std::any_of(s.stacks.begin(), s.stacks.end(), [&](const grammar_stack& st) {
    return !st.empty() && class_meets(st.back(), low, std::min<uint32_t>(high, 0x10FFFF));
  });
}

}  // namespace

match_state initial_state(const grammar& g) {
  match_state s;
  const element root{element_type::rule_ref, g.root};
  // advance() reads the element after the reference: give it an end marker.
  const element wrapper[2] = {root, {element_type::end, 0}};
  grammar_stack start{&wrapper[0]};
  std::size_t n = 0;
  advance(g, start, s.stacks, n);
  normalise(s.stacks, n);
  return s;
}

bool step_byte(const grammar& g, const match_state& in, uint8_t byte, match_state& out) {
  if (in.partial_remaining == 0) {
    if (byte < 0x80) {
      accept_code_point(g, in, byte, out);
      return !out.stacks.empty();
    }
    const int extra = byte >= 0xF0 && byte < 0xF5   ? 3
                      : byte >= 0xE0 && byte < 0xF0 ? 2
                      : byte >= 0xC2 && byte < 0xE0 ? 1
                                                    : 0;
    if (extra == 0) return false;
    out.stacks = in.stacks;
    out.partial_value = byte & (0x3Fu >> extra);
    out.partial_remaining = extra;
    out.partial_length = extra + 1;
    return partial_possible(out);
  }
  if ((byte & 0xC0) != 0x80) return false;
  const uint32_t value = (in.partial_value << 6) | (byte & 0x3F);
  if (in.partial_remaining == 1) {
    if (value < minimum_code_point(in.partial_length) || is_surrogate(value) || value > 0x10FFFF) return false;
    accept_code_point(g, in, value, out);
    return !out.stacks.empty();
  }
  out.stacks = in.stacks;
  out.partial_value = value;
  out.partial_remaining = in.partial_remaining - 1;
  out.partial_length = in.partial_length;
  return partial_possible(out);
}

grammar_matcher::grammar_matcher(std::shared_ptr<const grammar> g) : g_(std::move(g)), state_(initial_state(*g_)) {}

bool grammar_matcher::accept(std::string_view bytes) {
  match_state current = state_;
  for (const char c : bytes) {
    if (!step_byte(*g_, current, static_cast<uint8_t>(c), scratch_)) return false;
    std::swap(current, scratch_);
  }
  state_ = std::move(current);
  return true;
}

}  // namespace kvactor::grammar
