#include "model/model.hpp"

#include "model/weight_types.hpp"

namespace kvactor {

const char* dtype_name(dtype t) {
  switch (t) {
    case dtype::f32: return "f32";
    case dtype::f16: return "f16";
    case dtype::q8_0: return "q8_0";
    case dtype::q4_0: return "q4_0";
    case dtype::q4_1: return "q4_1";
    case dtype::q5_0: return "q5_0";
    case dtype::q5_1: return "q5_1";
    case dtype::q8_1: return "q8_1";
    case dtype::q2_k: return "q2_k";
    case dtype::q3_k: return "q3_k";
    case dtype::q4_k: return "q4_k";
    case dtype::q5_k: return "q5_k";
    case dtype::q6_k: return "q6_k";
    case dtype::q8_k: return "q8_k";
    case dtype::iq4_nl: return "iq4_nl";
    case dtype::bf16: return "bf16";
  }
  return "unknown";
}

// Through the weight type table: 0 for a type kvactor does not read.
int64_t dtype_block_elements(dtype t) {
  const weight_type_info* info = find_weight_type(t);
  return info ? info->block_values : 0;
}

std::size_t dtype_block_bytes(dtype t) {
  const weight_type_info* info = find_weight_type(t);
  return info ? static_cast<std::size_t>(info->block_bytes) : 0;
}

std::size_t row_bytes(dtype t, int64_t cols) {
  const weight_type_info* info = find_weight_type(t);
  if (!info || cols < 0) return 0;
  return static_cast<std::size_t>(cols / info->block_values) * static_cast<std::size_t>(info->block_bytes);
}

const char* llama_layout_gap(const model_weights& w) {
  const model_config& c = w.config;
  if (c.rope != rope_style::adjacent) return "NEOX rotary pairs";
  if (c.head_width != 0 && c.head_width * c.n_heads != c.dim) return "a head_dim other than dim / heads";
  if (c.rope_freq_scale != 1.0f) return "linear RoPE scaling";
  if (!w.rope_freq_factors.empty()) return "rope_freqs.weight frequency factors";
  for (const layer_weights& l : w.layers) {
    if (!l.bq.empty() || !l.bk.empty() || !l.bv.empty()) return "attention biases";
    if (!l.q_norm.empty() || !l.k_norm.empty()) return "per-head Q/K norms";
  }
  return nullptr;
}

}  // namespace kvactor
