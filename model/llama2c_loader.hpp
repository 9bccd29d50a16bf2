// llama2.c checkpoints (the "version 0" format of run.c): a 7 x int32 header
// {dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len}, then f32
// weights in this order:
//   token_embedding [vocab, dim]
//   rms_att [L, dim]  wq [L, dim, dim]  wk [L, kv_dim, dim]  wv [L, kv_dim, dim]
//   wo [L, dim, dim]  rms_ffn [L, dim]  w1 [L, hidden, dim]  w2 [L, dim, hidden]
//   w3 [L, hidden, dim]  rms_final [dim]
//   freq_cis_real, freq_cis_imag [seq_len, head_dim/2] each (unused: RoPE is recomputed)
//   wcls [vocab, dim]   only when the header's vocab_size is negative
// Little-endian, as run.c writes it on x86/ARM.
#pragma once

#include <string>

#include "model/model.hpp"

namespace kvactor {

// Throws model_error naming the file when the header is implausible or the file
// size differs from what the header implies.
model_weights load_llama2c(const std::string& path);

}  // namespace kvactor
