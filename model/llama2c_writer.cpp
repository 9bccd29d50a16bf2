#include "model/llama2c_writer.hpp"

#include <cmath>
#include <cstdio>
#include <fstream>

namespace kvactor {
namespace {

class checked_output {
 public:
  explicit checked_output(const std::string& path) : path_(path), tmp_(path + ".tmp"), out_(tmp_, std::ios::binary) {
    if (!out_) throw model_error(path_ + ": cannot create " + tmp_);
  }
  template <typename T>
  void raw(const T& v) {
    out_.write(reinterpret_cast<const char*>(&v), sizeof v);
  }
  void bytes(const void* p, std::size_t n) { out_.write(static_cast<const char*>(p), static_cast<std::streamsize>(n)); }
  void commit() {
    out_.close();
    if (!out_ || std::rename(tmp_.c_str(), path_.c_str()) != 0) {
      std::remove(tmp_.c_str());
      throw model_error(path_ + ": write failed");
    }
  }
  [[noreturn]] void fail(const std::string& message) {
    out_.close();
    std::remove(tmp_.c_str());
    throw model_error(path_ + ": " + message);
  }

 private:
  std::string path_, tmp_;
  std::ofstream out_;
};

}  // namespace

void write_llama2c(const std::string& path, const model_weights& w) {
  const auto& c = w.config;
  if (const char* feature = llama_layout_gap(w))
    throw model_error(path + ": llama2.c checkpoints hold the llama architecture only; this model has " + feature);
  checked_output out(path);
  const auto matrix = [&](const weight_matrix& m, int64_t rows, int64_t cols, const char* name) {
    if (m.type != dtype::f32)
      out.fail(std::string("llama2.c checkpoints hold f32 only; ") + name + " is " + dtype_name(m.type));
    if (m.rows != rows || m.cols != cols || m.byte_size() != static_cast<std::size_t>(rows * cols) * 4)
      out.fail(std::string(name) + " has the wrong shape");
    out.bytes(m.bytes(), m.byte_size());
  };
  const auto vec = [&](const std::vector<float>& v, const char* name) {
    if (v.size() != static_cast<std::size_t>(c.dim)) out.fail(std::string(name) + " has the wrong size");
    out.bytes(v.data(), v.size() * 4);
  };
  if (static_cast<int>(w.layers.size()) != c.n_layers) out.fail("layer count differs from the config");
  const int32_t header[7] = {c.dim,        c.hidden_dim, c.n_layers,
                             c.n_heads,    c.n_kv_heads, w.shared_classifier ? c.vocab_size : -c.vocab_size,
                             c.max_seq_len};
  out.bytes(header, sizeof header);
  const int64_t dim = c.dim, hidden = c.hidden_dim, kv = c.kv_dim();
  matrix(w.tok_embeddings, c.vocab_size, dim, "token_embedding");
  for (const auto& l : w.layers) vec(l.attn_norm, "rms_att");
  for (const auto& l : w.layers) matrix(l.wq, dim, dim, "wq");
  for (const auto& l : w.layers) matrix(l.wk, kv, dim, "wk");
  for (const auto& l : w.layers) matrix(l.wv, kv, dim, "wv");
  for (const auto& l : w.layers) matrix(l.wo, dim, dim, "wo");
  for (const auto& l : w.layers) vec(l.ffn_norm, "rms_ffn");
  for (const auto& l : w.layers) matrix(l.w1, hidden, dim, "w1");
  for (const auto& l : w.layers) matrix(l.w2, dim, hidden, "w2");
  for (const auto& l : w.layers) matrix(l.w3, hidden, dim, "w3");
  vec(w.final_norm, "rms_final");
  const int half = c.head_dim() / 2;
  for (int part = 0; part < 2; ++part)  // freq_cis_real, then freq_cis_imag: [seq_len, head_dim/2]
    for (int pos = 0; pos < c.max_seq_len; ++pos)
      for (int i = 0; i < half; ++i) {
        const double freq = 1.0 / std::pow(static_cast<double>(c.rope_theta), 2.0 * i / c.head_dim());
        const auto v = static_cast<float>(part == 0 ? std::cos(pos * freq) : std::sin(pos * freq));
        out.raw(v);
      }
  if (!w.shared_classifier) matrix(w.output, c.vocab_size, dim, "wcls");
  out.commit();
}

void write_llama2c_tokenizer(const std::string& path, const tokenizer& tok) {
  checked_output out(path);
  out.raw(static_cast<int32_t>(tok.max_piece_length()));
  for (int32_t i = 0; i < tok.vocab_size(); ++i) {
    const auto& p = tok.piece(i);
    out.raw(tok.score(i));
    out.raw(static_cast<int32_t>(p.size()));
    out.bytes(p.data(), p.size());
  }
  out.commit();
}

}  // namespace kvactor
