#include "device/model_validation.hpp"

#include <string>

#include "device/backend.hpp"
#include "device/weight_rows.hpp"

namespace kvactor {

void validate_model(const model_weights& w) {
  const model_config& c = w.config;
  if (c.dim <= 0 || c.hidden_dim <= 0 || c.n_layers <= 0 || c.n_heads <= 0 || c.n_kv_heads <= 0 || c.vocab_size <= 0 ||
      c.max_seq_len <= 0)
    throw backend_error("model config has a non-positive size (dim " + std::to_string(c.dim) + ", hidden " +
                        std::to_string(c.hidden_dim) + ", layers " + std::to_string(c.n_layers) + ", heads " +
                        std::to_string(c.n_heads) + ", kv heads " + std::to_string(c.n_kv_heads) + ", vocab " +
                        std::to_string(c.vocab_size) + ", seq " + std::to_string(c.max_seq_len) + ")");
  if ((c.head_width == 0 && c.dim % c.n_heads != 0) || c.head_width < 0 || c.n_heads % c.n_kv_heads != 0 ||
      c.head_dim() <= 0 || c.head_dim() % 2 != 0)
    throw backend_error(
        "unsupported head shape: dim " + std::to_string(c.dim) + ", heads " + std::to_string(c.n_heads) +
        ", kv heads " + std::to_string(c.n_kv_heads) + ", head_dim " + std::to_string(c.head_dim()) +
        " (need heads % kv_heads == 0, an even head_dim, and dim % heads == 0 unless head_dim is given)");
  if (!(c.rope_freq_scale > 0.0f)) throw backend_error("model config needs rope_freq_scale > 0");
  if (!w.rope_freq_factors.empty() && static_cast<int>(w.rope_freq_factors.size()) != c.head_dim() / 2)
    throw backend_error("weight rope_freqs: " + std::to_string(w.rope_freq_factors.size()) +
                        " factors, head_dim / 2 is " + std::to_string(c.head_dim() / 2));
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
    check_weight_shape(L.wq, c.q_dim(), c.dim, (p + "attn_q").c_str());
    check_weight_shape(L.wk, c.kv_dim(), c.dim, (p + "attn_k").c_str());
    check_weight_shape(L.wv, c.kv_dim(), c.dim, (p + "attn_v").c_str());
    check_weight_shape(L.wo, c.dim, c.q_dim(), (p + "attn_output").c_str());
    const auto check_optional = [&](const std::vector<float>& v, int n, const char* name) {
      if (!v.empty() && static_cast<int>(v.size()) != n)
        throw backend_error("weight " + p + name + ": " + std::to_string(v.size()) + " values, expected " +
                            std::to_string(n));
    };
    check_optional(L.bq, c.q_dim(), "attn_q.bias");
    check_optional(L.bk, c.kv_dim(), "attn_k.bias");
    check_optional(L.bv, c.kv_dim(), "attn_v.bias");
    check_optional(L.q_norm, c.head_dim(), "attn_q_norm");
    check_optional(L.k_norm, c.head_dim(), "attn_k_norm");
    check_weight_shape(L.w1, c.hidden_dim, c.dim, (p + "ffn_gate").c_str());
    check_weight_shape(L.w2, c.dim, c.hidden_dim, (p + "ffn_down").c_str());
    check_weight_shape(L.w3, c.hidden_dim, c.dim, (p + "ffn_up").c_str());
  }
}

}  // namespace kvactor
