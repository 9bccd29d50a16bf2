// GGUF (llama architecture) -> model_weights + tokenizer.
//
// Hyper-parameters: llama.embedding_length, feed_forward_length, block_count,
// attention.head_count, attention.head_count_kv (default: head_count),
// context_length, rope.freq_base (default 10000), attention.layer_norm_rms_epsilon
// (default 1e-5). Tensors (ggml ne = {cols, rows}):
//   token_embd.weight {dim, vocab}      output_norm.weight {dim}   output.weight {dim, vocab} (optional: tied)
//   blk.N.attn_norm {dim}  attn_q {dim, dim}  attn_k/attn_v {dim, kv_dim}  attn_output {dim, dim}
//   blk.N.ffn_norm {dim}   ffn_gate (w1) / ffn_up (w3) {dim, hidden}  ffn_down (w2) {hidden, dim}
// Matrices keep their dtype (F32, F16, Q8_0); norm vectors become f32.
// Tokenizer: tokenizer.ggml.tokens / scores / token_type, bos/eos_token_id
// (SentencePiece "llama" model only).
#pragma once

#include <string>

#include "model/model.hpp"
#include "model/tokenizer.hpp"

namespace kvactor {

struct gguf_model {
  model_weights weights;
  tokenizer tok;
};

// Throws model_error naming the file and what is wrong.
gguf_model load_gguf(const std::string& path);

// Only the tokenizer of a GGUF file (e.g. a vocabulary-only file without tensors).
tokenizer load_gguf_tokenizer(const std::string& path);

}  // namespace kvactor
