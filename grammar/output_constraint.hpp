// Structured output during generation: what a constrained request carries into the engine
// (output_constraint) and the per-request state that turns it into one token mask per step
// (constrained_decoder).
//
//   HTTP edge: response_format / grammar ─► GBNF ─► output_constraint (parsed once, shared)
//   request actor: constrained_decoder ─► mask for the next token ─► sequence_step::allowed_tokens
//                  sampled token ─► accept(token) ─► finished() ends the request ("stop")
//
// The decoder belongs to its request actor alone, so masks depend on nothing but that request's own
// tokens: a constrained request samples the same tokens alone and in any batch.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "grammar/gbnf.hpp"
#include "grammar/grammar_matcher.hpp"
#include "grammar/token_matcher.hpp"

namespace kvactor {
class tokenizer;
}

namespace kvactor::grammar {

// A model's vocabulary as the grammar sees it: each token's bytes and their trie. Built once per
// model (the trie of a 128K vocabulary takes tens of milliseconds) and shared by every request.
struct token_vocabulary {
  // token_bytes[id]: the text token id appends (tokenizer::decode_piece after an ordinary token);
  // "" for control tokens, which a grammar never allows. end_tokens: allowed exactly when the
  // grammar is complete (the tokenizer's end-of-generation ids).
  token_vocabulary(std::vector<std::string> token_bytes, std::vector<uint32_t> end_tokens);

  std::vector<std::string> bytes;
  vocabulary_trie trie;
};

// The tokenizer's vocabulary: each token's decode_piece after an ordinary token (so a leading
// space stays), end tokens = its end-of-generation ids.
std::shared_ptr<const token_vocabulary> vocabulary_of(const tokenizer& tok);

// Builds the vocabulary on first use (from any thread) and shares it afterwards.
class lazy_vocabulary {
 public:
  std::shared_ptr<const token_vocabulary> get(const tokenizer& tok);

 private:
  std::once_flag once_;
  std::shared_ptr<const token_vocabulary> vocabulary_;
};

struct output_constraint {
  std::string gbnf;  // the grammar's source: what the cluster forwards and inspect shows
  std::shared_ptr<const grammar> rules;
  std::shared_ptr<const token_vocabulary> vocabulary;
};

// The most bytes of text the grammar accepts (its longest document), or nullopt when that is
// unbounded (a repetition without a maximum, recursion). Every token adds at least one byte, so
// a request with max_tokens >= this always ends with the document complete ("stop").
std::optional<std::size_t> max_text_bytes(const grammar& g);

// Parses `gbnf` and checks that its start state can be computed. Throws grammar_error (with the
// line and column) for a grammar the parser or the matcher refuses.
std::shared_ptr<const output_constraint> make_constraint(std::string gbnf,
                                                         std::shared_ptr<const token_vocabulary> vocabulary);
// The same with the grammar already parsed from `gbnf`.
std::shared_ptr<const output_constraint> make_constraint(std::string gbnf, std::shared_ptr<const grammar> rules,
                                                         std::shared_ptr<const token_vocabulary> vocabulary);

class constrained_decoder {
 public:
  explicit constrained_decoder(std::shared_ptr<const output_constraint> constraint);

  // Which tokens may come next (the end tokens exactly when the grammar is complete). Empty
  // (count() == 0) when no token of the vocabulary can continue the grammar.
  const token_mask& next_mask();
  // An end token: allowed only when the grammar is complete, so sampling one ends the document.
  bool is_end(int32_t token) const;
  // Takes the token's bytes; false (state unchanged) if the grammar refuses them.
  bool accept(int32_t token);
  // The grammar is complete and nothing can follow: the text so far is exactly the document.
  bool finished() const { return matcher_.is_complete() && !matcher_.can_continue(); }
  bool complete() const { return matcher_.is_complete(); }
  const mask_cache& cache() const { return cache_; }

 private:
  std::shared_ptr<const output_constraint> constraint_;
  grammar_matcher matcher_;
  mask_cache cache_;
};

}  // namespace kvactor::grammar
