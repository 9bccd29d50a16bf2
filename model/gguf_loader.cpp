#include "model/gguf_loader.hpp"

#include <cmath>
#include <cstdint>

#include "model/gguf_reader.hpp"
#include "model/quantization.hpp"
#include "model/tokenizer_gguf.hpp"

namespace kvactor {
namespace {

constexpr uint64_t max_width = 1 << 17;
constexpr uint64_t max_layers = 1 << 10;
constexpr uint64_t max_seq = 1 << 24;
constexpr uint64_t max_vocab = 1 << 22;

int checked_param(const gguf::reader& r, const std::string& key, uint64_t lo, uint64_t hi, uint64_t v) {
  if (v < lo || v > hi)
    r.fail("metadata " + key + " = " + std::to_string(v) + " is outside " + std::to_string(lo) + ".." +
           std::to_string(hi));
  return static_cast<int>(v);
}

std::string shape_text(const std::vector<uint64_t>& ne) {
  std::string s = "{";
  for (std::size_t i = 0; i < ne.size(); ++i) s += (i ? ", " : "") + std::to_string(ne[i]);
  return s + "}";
}

const gguf::tensor_info& require_tensor(const gguf::reader& r, const std::string& name,
                                        const std::vector<uint64_t>& expected_ne) {
  const auto* t = r.find_tensor(name);
  if (!t) r.fail("tensor '" + name + "' is missing");
  if (t->ne != expected_ne)
    r.fail("tensor '" + name + "' has shape " + shape_text(t->ne) + " but the hyper-parameters imply " +
           shape_text(expected_ne));
  if (dtype_block_elements(static_cast<dtype>(t->type)) == 0)
    r.fail("tensor '" + name + "' has unsupported type " + gguf::ggml_type_name(t->type) + " (ggml type " +
           std::to_string(t->type) + ")");
  return *t;
}

// The matrix views the file's mapping in place. Only a F32/F16/BF16 tensor whose
// data is not aligned to its element (possible with general.alignment 1) is copied.
weight_matrix load_matrix(gguf::reader& r, const std::string& name, int64_t rows, int64_t cols) {
  const auto& t = require_tensor(r, name, {static_cast<uint64_t>(cols), static_cast<uint64_t>(rows)});
  weight_matrix m;
  m.type = static_cast<dtype>(t.type);
  m.rows = rows;
  m.cols = cols;
  auto view = r.map_tensor(t);
  const std::size_t element = dtype_block_elements(m.type) == 1 ? dtype_block_bytes(m.type) : 1;
  if (reinterpret_cast<uintptr_t>(view.data) % element != 0)
    m.data.assign(view.data, view.data + view.size);
  else
    m.set_view(std::move(view.keep_alive), view.data, view.size);
  return m;
}

// Norms, biases and rope factors are converted to f32 (the only copies made).
std::vector<float> load_vector(gguf::reader& r, const std::string& name, int64_t n) {
  const auto& t = require_tensor(r, name, {static_cast<uint64_t>(n)});
  const auto view = r.map_tensor(t);
  std::vector<float> out(static_cast<std::size_t>(n));
  dequantize_row(static_cast<dtype>(t.type), view.data, out.data(), n);
  return out;
}

std::vector<float> load_optional_vector(gguf::reader& r, const std::string& name, int64_t n) {
  return r.find_tensor(name) ? load_vector(r, name, n) : std::vector<float>{};
}

// What each supported general.architecture changes in the forward pass (as llama.cpp's
// llm_build_* for it): RoPE pairing, Q/K/V biases, per-head Q/K norms.
struct architecture {
  const char* name;
  rope_style rope;
  bool qkv_bias_required;  // qwen2 always has them; llama may (loaded when present)
  bool qk_norm;            // qwen3
};

constexpr architecture architectures[] = {
    {"llama", rope_style::adjacent, false, false},
    {"qwen2", rope_style::neox, true, false},
    {"qwen3", rope_style::neox, false, true},
};

const architecture& find_architecture(const gguf::reader& r) {
  const std::string name = r.get_string("general.architecture");  // missing or not a string: named as such
  for (const architecture& a : architectures)
    if (name == a.name) return a;
  r.fail("general.architecture '" + name + "' is not supported (supported: llama, qwen2, qwen3)");
}

// Linear RoPE scaling as llama.cpp reads it: rope.scaling.type (none | linear; others
// refused), rope.scaling.factor (or the older rope.scale_linear); freq_scale = 1 / factor.
float read_rope_freq_scale(const gguf::reader& r, const std::string& p) {
  const std::string type_key = p + "rope.scaling.type";
  const std::string type = r.find(type_key) ? r.get_string(type_key) : "";
  if (!type.empty() && type != "none" && type != "linear")
    r.fail("metadata " + type_key + " = '" + type + "' is not supported (supported: none, linear)");
  if (r.find(p + "rope.scaling.original_context_length"))
    (void)r.get_uint(p + "rope.scaling.original_context_length");  // a non-integer is named as such
  if (type == "none") return 1.0f;
  std::string factor_key = p + "rope.scaling.factor";
  if (!r.find(factor_key)) factor_key = p + "rope.scale_linear";
  const double factor = r.get_float(factor_key, 0.0);
  if (!(factor >= 0.0 && factor <= 1024.0))
    r.fail("metadata " + factor_key + " = " + std::to_string(factor) + " is outside 0..1024");
  return factor == 0.0 ? 1.0f : static_cast<float>(1.0 / factor);
}

// The tokenizer stages and their GGUF keys live in tokenizer_gguf.cpp.
tokenizer load_vocab(const gguf::reader& r) { return tokenizer_from_gguf(r); }

}  // namespace

tokenizer load_gguf_tokenizer(const std::string& path) {
  gguf::reader r(path);
  return load_vocab(r);
}

gguf_model load_gguf(const std::string& path) {
  gguf::reader r(path);
  const architecture& a = find_architecture(r);
  const std::string p = std::string(a.name) + ".";  // every hyper-parameter key has the architecture prefix
  const auto param = [&](const std::string& key, uint64_t lo, uint64_t hi) {
    return checked_param(r, p + key, lo, hi, r.get_uint(p + key));
  };
  const auto param_or = [&](const std::string& key, uint64_t lo, uint64_t hi, uint64_t fallback) {
    return checked_param(r, p + key, lo, hi, r.get_uint(p + key, fallback));
  };

  model_config c;
  c.rope = a.rope;
  c.dim = param("embedding_length", 1, max_width);
  c.hidden_dim = param("feed_forward_length", 1, max_width);
  c.n_layers = param("block_count", 1, max_layers);
  c.n_heads = param("attention.head_count", 1, max_width);
  c.n_kv_heads =
      param_or("attention.head_count_kv", 1, static_cast<uint64_t>(c.n_heads), static_cast<uint64_t>(c.n_heads));
  c.max_seq_len = param("context_length", 1, max_seq);
  if (c.n_heads % c.n_kv_heads != 0)
    r.fail(p + "attention.head_count " + std::to_string(c.n_heads) + " is not a multiple of " + p +
           "attention.head_count_kv " + std::to_string(c.n_kv_heads));
  const uint64_t default_head = c.dim % c.n_heads == 0 ? static_cast<uint64_t>(c.dim / c.n_heads) : 0;
  if (!r.find(p + "attention.key_length") && default_head == 0)
    r.fail(p + "embedding_length " + std::to_string(c.dim) + " is not a multiple of " + p + "attention.head_count " +
           std::to_string(c.n_heads) + " and " + p + "attention.key_length is absent");
  c.head_width = param_or("attention.key_length", 2, max_width, default_head);
  const int value_length = param_or("attention.value_length", 1, max_width, static_cast<uint64_t>(c.head_width));
  if (value_length != c.head_width)
    r.fail(p + "attention.value_length " + std::to_string(value_length) + " differs from " + p +
           "attention.key_length " + std::to_string(c.head_width) + " (not supported)");
  if (c.head_width % 2 != 0)
    r.fail(p + "attention.key_length " + std::to_string(c.head_width) + " is odd (RoPE needs pairs)");
  if (static_cast<int64_t>(c.head_width) * c.n_heads > static_cast<int64_t>(max_width))
    r.fail(p + "attention.key_length x head_count is larger than " + std::to_string(max_width));
  const auto rope_dims = r.get_uint(p + "rope.dimension_count", static_cast<uint64_t>(c.head_width));
  if (rope_dims != static_cast<uint64_t>(c.head_width))
    r.fail(p + "rope.dimension_count " + std::to_string(rope_dims) + " differs from the head size " +
           std::to_string(c.head_width) + " (" + a.name + " rotates the whole head; partial RoPE is not supported)");
  c.rope_theta = static_cast<float>(r.get_float(p + "rope.freq_base", 10000.0));
  c.norm_eps = static_cast<float>(r.get_float(p + "attention.layer_norm_rms_epsilon", 1e-5));
  if (!(c.rope_theta > 0.0f && std::isfinite(c.rope_theta))) r.fail(p + "rope.freq_base must be positive and finite");
  if (!(c.norm_eps > 0.0f && c.norm_eps < 1.0f)) r.fail(p + "attention.layer_norm_rms_epsilon must be in (0, 1)");
  c.rope_freq_scale = read_rope_freq_scale(r, p);

  tokenizer tok = load_vocab(r);
  const auto* embd = r.find_tensor("token_embd.weight");
  if (!embd) r.fail("tensor 'token_embd.weight' is missing");
  c.vocab_size = checked_param(r, "vocabulary size", 1, max_vocab, static_cast<uint64_t>(tok.vocab_size()));
  if (r.find(p + "vocab_size") && r.get_uint(p + "vocab_size") != static_cast<uint64_t>(c.vocab_size))
    r.fail(p + "vocab_size " + std::to_string(r.get_uint(p + "vocab_size")) + " differs from the " +
           std::to_string(c.vocab_size) + " tokenizer tokens");

  const int64_t dim = c.dim, hidden = c.hidden_dim, q_dim = c.q_dim(), kv_dim = c.kv_dim(), vocab = c.vocab_size;
  const int64_t head = c.head_dim();
  model_weights w;
  w.config = c;
  w.tok_embeddings = load_matrix(r, "token_embd.weight", vocab, dim);
  w.layers.resize(static_cast<std::size_t>(c.n_layers));
  for (int i = 0; i < c.n_layers; ++i) {
    const std::string b = "blk." + std::to_string(i) + ".";
    auto& l = w.layers[static_cast<std::size_t>(i)];
    l.attn_norm = load_vector(r, b + "attn_norm.weight", dim);
    l.wq = load_matrix(r, b + "attn_q.weight", q_dim, dim);
    l.wk = load_matrix(r, b + "attn_k.weight", kv_dim, dim);
    l.wv = load_matrix(r, b + "attn_v.weight", kv_dim, dim);
    l.wo = load_matrix(r, b + "attn_output.weight", dim, q_dim);
    if (a.qkv_bias_required) {
      l.bq = load_vector(r, b + "attn_q.bias", q_dim);
      l.bk = load_vector(r, b + "attn_k.bias", kv_dim);
      l.bv = load_vector(r, b + "attn_v.bias", kv_dim);
    } else {
      l.bq = load_optional_vector(r, b + "attn_q.bias", q_dim);
      l.bk = load_optional_vector(r, b + "attn_k.bias", kv_dim);
      l.bv = load_optional_vector(r, b + "attn_v.bias", kv_dim);
    }
    if (a.qk_norm) {
      l.q_norm = load_vector(r, b + "attn_q_norm.weight", head);
      l.k_norm = load_vector(r, b + "attn_k_norm.weight", head);
    }
    for (const char* unsupported : {"attn_output.bias", "ffn_gate.bias", "ffn_up.bias", "ffn_down.bias"})
      if (r.find_tensor(b + unsupported)) r.fail("tensor '" + b + unsupported + "' is not supported");
    l.ffn_norm = load_vector(r, b + "ffn_norm.weight", dim);
    l.w1 = load_matrix(r, b + "ffn_gate.weight", hidden, dim);
    l.w2 = load_matrix(r, b + "ffn_down.weight", dim, hidden);
    l.w3 = load_matrix(r, b + "ffn_up.weight", hidden, dim);
  }
  w.final_norm = load_vector(r, "output_norm.weight", dim);
  w.rope_freq_factors = load_optional_vector(r, "rope_freqs.weight", head / 2);
  for (float f : w.rope_freq_factors)
    if (!(f > 0.0f && std::isfinite(f))) r.fail("tensor 'rope_freqs.weight' holds a non-positive or non-finite factor");
  w.shared_classifier = r.find_tensor("output.weight") == nullptr;
  if (!w.shared_classifier) w.output = load_matrix(r, "output.weight", vocab, dim);
  return gguf_model{std::move(w), std::move(tok)};
}

}  // namespace kvactor
