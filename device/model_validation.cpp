#include "device/model_validation.hpp"

#include <string>

#include "device/backend.hpp"
#include "device/weight_rows.hpp"

namespace kvactor {

void validate_model(const model_weights& w) {
  const model_config& c = w.config;
  if (c.dim <= 0 || c.hidden_dim <= 0 || c.n_layers <= 0 || c.n_heads <= 0 || c.n_kv_heads <= 0 ||
      c.vocab_size <= 0 || c.max_seq_len <= 0)
    throw backend_error("model config has a non-positive size (dim " + std::to_string(c.dim) + ", hidden " +
                        std::to_string(c.hidden_dim) + ", layers " + std::to_string(c.n_layers) + ", heads " +
                        std::to_string(c.n_heads) + ", kv heads " + std::to_string(c.n_kv_heads) + ", vocab " +
                        std::to_string(c.vocab_size) + ", seq " + std::to_string(c.max_seq_len) + ")");
  if (c.dim % c.n_heads != 0 || c.n_heads % c.n_kv_heads != 0 || c.head_dim() % 2 != 0)
    throw backend_error("unsupported head shape: dim " + std::to_string(c.dim) + ", heads " +
                        std::to_string(c.n_heads) + ", kv heads " + std::to_string(c.n_kv_heads) +
                        " (need dim % heads == 0, heads % kv_heads == 0, even head_dim)");
  if (!(c.norm_eps > 0.0f) || !(c.rope_theta > 0.0f))
    throw backend_error("model config needs norm_eps > 0 and rope_theta > 0");
  if (static_cast<int>(w.layers.size()) != c.n_layers)
    throw backend_error("model has " + std::to_string(w.layers.size()) + " layers of weights, config says " +
                        std::to_string(c.n_layers));
  check_weight_shape(w.tok_embeddings, c.vocab_size, c.dim, "token_embd");
  if (!w.shared_classifier) check_weight_shape(w.output, c.vocab_size, c.dim, "output");
  if (static_cast<int>(w.final_norm.size()) != c.dim) throw backend_error("weight output_norm: wrong size");
  for (int l = 0; l < c.n_layers; ++l) {
    const layer_weights& L = w.layers[static_cast<std::size_t>(l)];
    const std::string p = "blk." + std::to_string(l) + ".";
    if (static_cast<int>(L.attn_norm.size()) != c.dim || static_cast<int>(L.ffn_norm.size()) != c.dim)
      throw backend_error("weight " + p + "attn_norm/ffn_norm: wrong size");
    check_weight_shape(L.wq, c.dim, c.dim, (p + "attn_q").c_str());
    check_weight_shape(L.wk, c.kv_dim(), c.dim, (p + "attn_k").c_str());
    check_weight_shape(L.wv, c.kv_dim(), c.dim, (p + "attn_v").c_str());
    check_weight_shape(L.wo, c.dim, c.dim, (p + "attn_output").c_str());
    check_weight_shape(L.w1, c.hidden_dim, c.dim, (p + "ffn_gate").c_str());
    check_weight_shape(L.w2, c.dim, c.hidden_dim, (p + "ffn_down").c_str());
    check_weight_shape(L.w3, c.hidden_dim, c.dim, (p + "ffn_up").c_str());
  }
}

}  // namespace kvactor
