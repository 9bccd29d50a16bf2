#include "grammar/output_constraint.hpp"

#include <algorithm>
#include <limits>

#include "model/tokenizer.hpp"

namespace kvactor::grammar {

token_vocabulary::token_vocabulary(std::vector<std::string> token_bytes, std::vector<uint32_t> end_tokens)
    : bytes(std::move(token_bytes)), trie(bytes, std::move(end_tokens)) {}

namespace {

std::size_t utf8_bytes(uint32_t cp) { return cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4; }

constexpr std::size_t unbounded = std::numeric_limits<std::size_t>::max();

std::size_t add(std::size_t a, std::size_t b) { return a == unbounded || b == unbounded ? unbounded : a + b; }

// Longest text of rule `id`; `state`: 0 unvisited, 1 on the current path (recursion), 2 done.
struct longest_text {
  const grammar& g;
  std::vector<int> state;
  std::vector<std::size_t> memo;

  std::size_t rule(uint32_t id) {
    if (state[id] == 2) return memo[id];
    if (state[id] == 1) return unbounded;  // recursion: no bound
    state[id] = 1;
    std::size_t best = 0, run = 0;
    const auto& elements = g.rules[id];
    for (std::size_t i = 0; i < elements.size(); ++i) {
      const element& e = elements[i];
      if (e.type == element_type::end || e.type == element_type::alt) {
        best = std::max(best, run);
        run = 0;
        if (e.type == element_type::end) break;
        continue;
      }
      if (e.type == element_type::rule_ref) {
        run = add(run, rule(e.value));
        continue;
      }
      // A class: its widest code point.
      std::size_t widest = e.type == element_type::chr_not || e.type == element_type::chr_any ? 4 : utf8_bytes(e.value);
      while (i + 1 < elements.size() &&
             (elements[i + 1].type == element_type::chr_alt || elements[i + 1].type == element_type::chr_range_upper)) {
        ++i;
        widest = std::max(widest, utf8_bytes(elements[i].value));
      }
      run = add(run, widest);
    }
    state[id] = 2;
    memo[id] = best;
    return best;
  }
};

}  // namespace

std::optional<std::size_t> max_text_bytes(const grammar& g) {
  longest_text walk{g, std::vector<int>(g.rules.size(), 0), std::vector<std::size_t>(g.rules.size(), 0)};
  const std::size_t n = walk.rule(g.root);
  return n == unbounded ? std::nullopt : std::optional<std::size_t>(n);
}

std::shared_ptr<const token_vocabulary> vocabulary_of(const tokenizer& tok) {
  const std::vector<int32_t> ordinary = tok.encode("x", false, false);
  const int32_t prev = ordinary.empty() ? -1 : ordinary.back();
  std::vector<std::string> bytes(static_cast<std::size_t>(tok.vocab_size()));
  for (int32_t id = 0; id < tok.vocab_size(); ++id) bytes[static_cast<std::size_t>(id)] = tok.decode_piece(prev, id);
  std::vector<uint32_t> ends;
  for (const int32_t id : tok.end_of_generation_ids()) ends.push_back(static_cast<uint32_t>(id));
  return std::make_shared<const token_vocabulary>(std::move(bytes), std::move(ends));
}

std::shared_ptr<const token_vocabulary> lazy_vocabulary::get(const tokenizer& tok) {
  std::call_once(once_, [&] { vocabulary_ = vocabulary_of(tok); });
  return vocabulary_;
}

std::shared_ptr<const output_constraint> make_constraint(std::string gbnf, std::shared_ptr<const grammar> rules,
                                                         std::shared_ptr<const token_vocabulary> vocabulary) {
  auto out = std::make_shared<output_constraint>();
  out->rules = std::move(rules);
  out->gbnf = std::move(gbnf);
  out->vocabulary = std::move(vocabulary);
  grammar_matcher probe(out->rules);  // throws grammar_error when the start state is too ambiguous
  (void)probe;
  return out;
}

std::shared_ptr<const output_constraint> make_constraint(std::string gbnf,
                                                         std::shared_ptr<const token_vocabulary> vocabulary) {
  auto rules = std::make_shared<const grammar>(parse_gbnf(gbnf));
  return make_constraint(std::move(gbnf), std::move(rules), std::move(vocabulary));
}

constrained_decoder::constrained_decoder(std::shared_ptr<const output_constraint> constraint)
    : constraint_(std::move(constraint)), matcher_(constraint_->rules) {}

const token_mask& constrained_decoder::next_mask() { return cache_.mask_for(constraint_->vocabulary->trie, matcher_); }

bool constrained_decoder::is_end(int32_t token) const {
  const auto& ends = constraint_->vocabulary->trie.end_tokens();
  return token >= 0 && std::find(ends.begin(), ends.end(), static_cast<uint32_t>(token)) != ends.end();
}

bool constrained_decoder::accept(int32_t token) {
  const auto& bytes = constraint_->vocabulary->bytes;
  if (token < 0 || static_cast<std::size_t>(token) >= bytes.size()) return false;
  const std::string& piece = bytes[static_cast<std::size_t>(token)];
  if (piece.empty()) return false;  // control tokens are never part of a document
  return matcher_.accept(piece);
}

}  // namespace kvactor::grammar
