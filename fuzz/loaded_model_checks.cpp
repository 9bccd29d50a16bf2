#include "fuzz/loaded_model_checks.hpp"

#include <string>
#include <vector>

#include "fuzz/fuzz_target.hpp"

namespace kvactor::fuzz {
namespace {

void check_matrix(const weight_matrix& m) {
  FUZZ_CHECK(m.rows >= 0 && m.cols >= 0, "a matrix with a negative shape");
  if (m.type == dtype::q8_0) FUZZ_CHECK(m.cols % q8_0_block == 0, "a q8_0 row that is not whole blocks");
  FUZZ_CHECK(m.byte_size() == static_cast<std::size_t>(m.rows) * row_bytes(m.type, m.cols),
             "a matrix whose bytes do not match its shape");
}

}  // namespace

void check_weights(const model_weights& w) {
  const model_config& c = w.config;
  FUZZ_CHECK(c.dim > 0 && c.n_layers > 0 && c.vocab_size > 0, "a model with empty dimensions");
  FUZZ_CHECK(static_cast<int>(w.layers.size()) == c.n_layers, "layers do not match n_layers");
  FUZZ_CHECK(static_cast<int>(w.final_norm.size()) == c.dim, "final norm does not match dim");
  check_matrix(w.tok_embeddings);
  FUZZ_CHECK(w.tok_embeddings.rows == c.vocab_size && w.tok_embeddings.cols == c.dim, "embedding shape");
  if (!w.shared_classifier) check_matrix(w.output);
  for (const layer_weights& l : w.layers) {
    FUZZ_CHECK(static_cast<int>(l.attn_norm.size()) == c.dim && static_cast<int>(l.ffn_norm.size()) == c.dim,
               "norm vectors do not match dim");
    for (const weight_matrix* m : {&l.wq, &l.wk, &l.wv, &l.wo, &l.w1, &l.w2, &l.w3}) check_matrix(*m);
  }
}

void check_tokenizer(const tokenizer& tok) {
  FUZZ_CHECK(tok.vocab_size() > 0, "an empty vocabulary was accepted");
  for (const char* text : {"Once upon a time", "", "\xff\xfe caf\xc3\xa9"}) {
    for (int32_t id : tok.encode(text, true, true))
      FUZZ_CHECK(id >= 0 && id < tok.vocab_size(), "encode left the vocabulary");
    (void)tok.decode(tok.encode(text, true, false));
  }
}

}  // namespace kvactor::fuzz
