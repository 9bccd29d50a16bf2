#include "model/llama2c_loader.hpp"

#include <cstring>

#include "model/binary_file.hpp"

namespace kvactor {
namespace {

// Limits far above any real llama2.c model; they keep size arithmetic in 64 bits
// and turn a damaged header into an error before anything is allocated.
constexpr int64_t max_width = 1 << 17;
constexpr int64_t max_layers = 1 << 10;
constexpr int64_t max_vocab = 1 << 22;
constexpr int64_t max_seq = 1 << 22;

void check_range(const binary_file& f, const char* name, int64_t v, int64_t lo, int64_t hi) {
  if (v < lo || v > hi)
    f.fail("header field " + std::string(name) + " = " + std::to_string(v) + " is outside " + std::to_string(lo) +
           ".." + std::to_string(hi) + " (not a llama2.c checkpoint, or a damaged one)");
}

weight_matrix read_matrix(binary_file& f, int64_t rows, int64_t cols, const char* what) {
  weight_matrix m;
  m.type = dtype::f32;
  m.rows = rows;
  m.cols = cols;
  m.data = f.read_bytes(static_cast<uint64_t>(rows * cols) * 4, what);
  return m;
}

std::vector<float> read_floats(binary_file& f, int64_t n, const char* what) {
  std::vector<float> v(static_cast<std::size_t>(n));
  f.read(v.data(), static_cast<uint64_t>(n) * 4, what);
  return v;
}

}  // namespace

model_weights load_llama2c(const std::string& path) {
  binary_file f(path);
  int32_t header[7];
  f.read(header, sizeof header, "the 7-int header");
  // llama2.c's newer exports (export.py --version 1/2) start with the magic "ak42".
  if (static_cast<uint32_t>(header[0]) == 0x616b3432u)
    f.fail("is a llama2.c version " + std::to_string(header[1]) +
           " export (magic \"ak42\"); only the original (version 0) format is supported: "
           "re-export with export.py --version 0");
  model_config c;
  c.dim = header[0];
  c.hidden_dim = header[1];
  c.n_layers = header[2];
  c.n_heads = header[3];
  c.n_kv_heads = header[4];
  const bool shared = header[5] > 0;
  const int64_t vocab = header[5] < 0 ? -static_cast<int64_t>(header[5]) : header[5];
  c.max_seq_len = header[6];
  check_range(f, "dim", c.dim, 1, max_width);
  check_range(f, "hidden_dim", c.hidden_dim, 1, max_width);
  check_range(f, "n_layers", c.n_layers, 1, max_layers);
  check_range(f, "n_heads", c.n_heads, 1, c.dim);
  check_range(f, "n_kv_heads", c.n_kv_heads, 1, c.n_heads);
  check_range(f, "vocab_size", vocab, 1, max_vocab);
  check_range(f, "seq_len", c.max_seq_len, 1, max_seq);
  c.vocab_size = static_cast<int>(vocab);
  if (c.dim % c.n_heads != 0)
    f.fail("dim " + std::to_string(c.dim) + " is not a multiple of n_heads " + std::to_string(c.n_heads));
  if (c.n_heads % c.n_kv_heads != 0)
    f.fail("n_heads " + std::to_string(c.n_heads) + " is not a multiple of n_kv_heads " + std::to_string(c.n_kv_heads));
  if (c.head_dim() % 2 != 0) f.fail("head size " + std::to_string(c.head_dim()) + " is odd (RoPE needs pairs)");

  const int64_t dim = c.dim, hidden = c.hidden_dim, layers = c.n_layers, kv_dim = c.kv_dim();
  const int64_t floats = vocab * dim + layers * (2 * dim + 2 * dim * dim + 2 * kv_dim * dim + 3 * hidden * dim) + dim +
                         static_cast<int64_t>(c.max_seq_len) * c.head_dim() + (shared ? 0 : vocab * dim);
  const uint64_t expected = sizeof header + static_cast<uint64_t>(floats) * 4;
  if (f.size() != expected)
    f.fail("file has " + std::to_string(f.size()) + " bytes but its header (dim " + std::to_string(dim) + ", hidden " +
           std::to_string(hidden) + ", layers " + std::to_string(layers) + ", heads " + std::to_string(c.n_heads) +
           "/" + std::to_string(c.n_kv_heads) + ", vocab " + std::to_string(header[5]) + ", seq " +
           std::to_string(c.max_seq_len) + ") implies " + std::to_string(expected) +
           (f.size() < expected ? " (truncated)" : " (trailing data or wrong header)"));

  model_weights w;
  w.config = c;
  w.tok_embeddings = read_matrix(f, vocab, dim, "token_embedding");
  w.layers.resize(static_cast<std::size_t>(layers));
  // llama2.c stores each kind of tensor for all layers together.
  for (auto& l : w.layers) l.attn_norm = read_floats(f, dim, "rms_att");
  for (auto& l : w.layers) l.wq = read_matrix(f, dim, dim, "wq");
  for (auto& l : w.layers) l.wk = read_matrix(f, kv_dim, dim, "wk");
  for (auto& l : w.layers) l.wv = read_matrix(f, kv_dim, dim, "wv");
  for (auto& l : w.layers) l.wo = read_matrix(f, dim, dim, "wo");
  for (auto& l : w.layers) l.ffn_norm = read_floats(f, dim, "rms_ffn");
  for (auto& l : w.layers) l.w1 = read_matrix(f, hidden, dim, "w1");
  for (auto& l : w.layers) l.w2 = read_matrix(f, dim, hidden, "w2");
  for (auto& l : w.layers) l.w3 = read_matrix(f, hidden, dim, "w3");
  w.final_norm = read_floats(f, dim, "rms_final");
  f.skip(static_cast<uint64_t>(c.max_seq_len) * static_cast<uint64_t>(c.head_dim()) * 4, "freq_cis_real/imag");
  w.shared_classifier = shared;
  if (!shared) w.output = read_matrix(f, vocab, dim, "wcls");
  return w;
}

}  // namespace kvactor
