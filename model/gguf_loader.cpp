#include "model/gguf_loader.hpp"

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
  if (t->type != 0 && t->type != 1 && t->type != 8)
    r.fail("tensor '" + name + "' has unsupported type " + gguf::ggml_type_name(t->type) + " (ggml type " +
           std::to_string(t->type) + "); supported: F32, F16, Q8_0");
  return *t;
}

weight_matrix load_matrix(gguf::reader& r, const std::string& name, int64_t rows, int64_t cols) {
  const auto& t = require_tensor(r, name, {static_cast<uint64_t>(cols), static_cast<uint64_t>(rows)});
  weight_matrix m;
  m.type = static_cast<dtype>(t.type);
  m.rows = rows;
  m.cols = cols;
  m.data = r.read_tensor(t);
  return m;
}

std::vector<float> load_vector(gguf::reader& r, const std::string& name, int64_t n) {
  const auto& t = require_tensor(r, name, {static_cast<uint64_t>(n)});
  const auto bytes = r.read_tensor(t);
  std::vector<float> out(static_cast<std::size_t>(n));
  dequantize_row(static_cast<dtype>(t.type), bytes.data(), out.data(), n);
  return out;
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
  const std::string arch = r.get_string("general.architecture");  // missing or not a string: named as such
  if (arch != "llama") r.fail("architecture '" + arch + "' is not supported (only 'llama')");

  model_config c;
  c.dim = checked_param(r, "llama.embedding_length", 1, max_width, r.get_uint("llama.embedding_length"));
  c.hidden_dim = checked_param(r, "llama.feed_forward_length", 1, max_width, r.get_uint("llama.feed_forward_length"));
  c.n_layers = checked_param(r, "llama.block_count", 1, max_layers, r.get_uint("llama.block_count"));
  c.n_heads = checked_param(r, "llama.attention.head_count", 1, static_cast<uint64_t>(c.dim),
                            r.get_uint("llama.attention.head_count"));
  c.n_kv_heads = checked_param(r, "llama.attention.head_count_kv", 1, static_cast<uint64_t>(c.n_heads),
                               r.get_uint("llama.attention.head_count_kv", static_cast<uint64_t>(c.n_heads)));
  c.max_seq_len = checked_param(r, "llama.context_length", 1, max_seq, r.get_uint("llama.context_length"));
  c.rope_theta = static_cast<float>(r.get_float("llama.rope.freq_base", 10000.0));
  c.norm_eps = static_cast<float>(r.get_float("llama.attention.layer_norm_rms_epsilon", 1e-5));
  if (!(c.rope_theta > 0.0f)) r.fail("llama.rope.freq_base must be positive");
  if (!(c.norm_eps > 0.0f && c.norm_eps < 1.0f)) r.fail("llama.attention.layer_norm_rms_epsilon must be in (0, 1)");
  if (c.dim % c.n_heads != 0) r.fail("embedding_length is not a multiple of head_count");
  if (c.n_heads % c.n_kv_heads != 0) r.fail("head_count is not a multiple of head_count_kv");
  if (c.head_dim() % 2 != 0) r.fail("head size " + std::to_string(c.head_dim()) + " is odd (RoPE needs pairs)");
  const auto rope_dims = r.get_uint("llama.rope.dimension_count", static_cast<uint64_t>(c.head_dim()));
  if (rope_dims != static_cast<uint64_t>(c.head_dim()))
    r.fail("llama.rope.dimension_count " + std::to_string(rope_dims) + " differs from the head size " +
           std::to_string(c.head_dim()) + " (partial RoPE is not supported)");

  tokenizer tok = load_vocab(r);
  const auto* embd = r.find_tensor("token_embd.weight");
  if (!embd) r.fail("tensor 'token_embd.weight' is missing");
  c.vocab_size = checked_param(r, "vocabulary size", 1, max_vocab, static_cast<uint64_t>(tok.vocab_size()));
  if (const auto* v = r.find("llama.vocab_size"); v && r.get_uint("llama.vocab_size") != static_cast<uint64_t>(c.vocab_size))
    r.fail("llama.vocab_size " + std::to_string(r.get_uint("llama.vocab_size")) + " differs from the " +
           std::to_string(c.vocab_size) + " tokenizer tokens");

  const int64_t dim = c.dim, hidden = c.hidden_dim, kv_dim = c.kv_dim(), vocab = c.vocab_size;
  model_weights w;
  w.config = c;
  w.tok_embeddings = load_matrix(r, "token_embd.weight", vocab, dim);
  w.layers.resize(static_cast<std::size_t>(c.n_layers));
  for (int i = 0; i < c.n_layers; ++i) {
    const std::string p = "blk." + std::to_string(i) + ".";
    auto& l = w.layers[static_cast<std::size_t>(i)];
    l.attn_norm = load_vector(r, p + "attn_norm.weight", dim);
    l.wq = load_matrix(r, p + "attn_q.weight", dim, dim);
    l.wk = load_matrix(r, p + "attn_k.weight", kv_dim, dim);
    l.wv = load_matrix(r, p + "attn_v.weight", kv_dim, dim);
    l.wo = load_matrix(r, p + "attn_output.weight", dim, dim);
    l.ffn_norm = load_vector(r, p + "ffn_norm.weight", dim);
    l.w1 = load_matrix(r, p + "ffn_gate.weight", hidden, dim);
    l.w2 = load_matrix(r, p + "ffn_down.weight", dim, hidden);
    l.w3 = load_matrix(r, p + "ffn_up.weight", hidden, dim);
  }
  w.final_norm = load_vector(r, "output_norm.weight", dim);
  w.shared_classifier = r.find_tensor("output.weight") == nullptr;
  if (!w.shared_classifier) w.output = load_matrix(r, "output.weight", vocab, dim);
  return gguf_model{std::move(w), std::move(tok)};
}

}  // namespace kvactor
