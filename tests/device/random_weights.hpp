// Seeded random-weight Llama models built in memory, for tests and benchmarks of
// shapes the bundled model does not cover (GQA ratios, quantised types, the
// stories15M shape). The same (shape, seed) always gives the same weights.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

#include "device/half_float.hpp"
#include "model/model.hpp"
#include "model/quantization.hpp"

namespace kvactor::testing {

struct random_model_shape {
  int dim = 64;
  int hidden_dim = 160;
  int n_layers = 2;
  int n_heads = 4;
  int n_kv_heads = 4;
  int vocab_size = 256;
  int max_seq_len = 128;
  bool shared_classifier = true;
  dtype type = dtype::f32;  // type of every matrix
  uint64_t seed = 1;
  // Issue 14's architecture features (all off: the llama2.c model as before).
  int head_dim = 0;  // 0: dim / n_heads
  rope_style rope = rope_style::adjacent;
  bool qkv_bias = false;      // qwen2
  bool qk_norm = false;       // qwen3
  bool rope_factors = false;  // Llama 3.1 rope_freqs.weight
  float rope_freq_scale = 1.0f;
};

// The shape of llama2.c's stories15M (dim 288, 6 layers of 6 heads, vocab 32000):
// the size the benchmarks measure.
inline random_model_shape stories15m_shape(uint64_t seed) {
  random_model_shape s;
  s.dim = 288;
  s.hidden_dim = 768;
  s.n_layers = 6;
  s.n_heads = 6;
  s.n_kv_heads = 6;
  s.vocab_size = 32000;
  s.max_seq_len = 256;
  s.seed = seed;
  return s;
}

// xorshift64* : small, fast, and the same on every platform.
class weight_rng {
 public:
  explicit weight_rng(uint64_t seed) : state_(seed * 0x9e3779b97f4a7c15ull + 0x2545f4914f6cdd1dull) {
    if (state_ == 0) state_ = 1;
  }
  // Uniform in [-1, 1).
  float next() {
    state_ ^= state_ >> 12;
    state_ ^= state_ << 25;
    state_ ^= state_ >> 27;
    const uint64_t bits = state_ * 0x2545f4914f6cdd1dull;
    return static_cast<float>(static_cast<double>(bits >> 11) * 0x1.0p-52 - 1.0);
  }

 private:
  uint64_t state_;
};

// Stores `values` (rows x cols, row-major) as `type`; q8_0 quantises as ggml does
// (scale = max|x| / 127 per block of 32, values rounded to nearest).
inline weight_matrix encode_matrix(const std::vector<float>& values, int64_t rows, int64_t cols, dtype type) {
  weight_matrix w;
  w.type = type;
  w.rows = rows;
  w.cols = cols;
  const std::size_t n = static_cast<std::size_t>(rows * cols);
  if (type == dtype::f32) {
    w.data.resize(n * 4);
    std::memcpy(w.data.data(), values.data(), n * 4);
  } else if (type == dtype::f16) {
    w.data.resize(n * 2);
    for (std::size_t i = 0; i < n; ++i) {
      const uint16_t h = float_to_half(values[i]);
      std::memcpy(w.data.data() + 2 * i, &h, 2);
    }
  } else if (type != dtype::q8_0) {  // every other type through the model library's encoders
    weight_matrix plain;
    plain.rows = rows;
    plain.cols = cols;
    plain.data.resize(n * 4);
    std::memcpy(plain.data.data(), values.data(), n * 4);
    return convert(plain, type);
  } else {
    const std::size_t blocks = n / q8_0_block;
    w.data.resize(blocks * q8_0_block_bytes);
    for (std::size_t b = 0; b < blocks; ++b) {
      const float* x = values.data() + b * q8_0_block;
      float amax = 0.0f;
      for (int i = 0; i < q8_0_block; ++i) amax = std::max(amax, std::fabs(x[i]));
      const float d = amax / 127.0f;
      const float id = d != 0.0f ? 1.0f / d : 0.0f;
      uint8_t* block = w.data.data() + b * q8_0_block_bytes;
      const uint16_t h = float_to_half(d);
      std::memcpy(block, &h, 2);
      for (int i = 0; i < q8_0_block; ++i)
        block[2 + i] = static_cast<uint8_t>(static_cast<int8_t>(std::lround(x[i] * id)));
    }
  }
  return w;
}

inline weight_matrix random_matrix(weight_rng& rng, int64_t rows, int64_t cols, float scale, dtype type) {
  std::vector<float> values(static_cast<std::size_t>(rows * cols));
  for (float& v : values) v = rng.next() * scale;
  return encode_matrix(values, rows, cols, type);
}

inline std::vector<float> random_norm(weight_rng& rng, int dim) {
  std::vector<float> values(static_cast<std::size_t>(dim));
  for (float& v : values) v = 1.0f + 0.2f * rng.next();
  return values;
}

inline std::shared_ptr<model_weights> make_random_model(const random_model_shape& s) {
  auto m = std::make_shared<model_weights>();
  model_config& c = m->config;
  c.dim = s.dim;
  c.hidden_dim = s.hidden_dim;
  c.n_layers = s.n_layers;
  c.n_heads = s.n_heads;
  c.n_kv_heads = s.n_kv_heads;
  c.vocab_size = s.vocab_size;
  c.max_seq_len = s.max_seq_len;
  c.head_width = s.head_dim;
  c.rope = s.rope;
  c.rope_freq_scale = s.rope_freq_scale;
  weight_rng rng(s.seed);
  // Scales keep activations O(1) through the layers, so logits are well spread and
  // greedy choices are not near-ties.
  const float in_scale = 1.0f / std::sqrt(static_cast<float>(s.dim));
  const float hidden_scale = 1.0f / std::sqrt(static_cast<float>(s.hidden_dim));
  m->tok_embeddings = random_matrix(rng, s.vocab_size, s.dim, 0.3f, s.type);
  for (int l = 0; l < s.n_layers; ++l) {
    layer_weights L;
    L.attn_norm = random_norm(rng, s.dim);
    L.wq = random_matrix(rng, c.q_dim(), s.dim, 4.0f * in_scale, s.type);
    L.wk = random_matrix(rng, c.kv_dim(), s.dim, 4.0f * in_scale, s.type);
    L.wv = random_matrix(rng, c.kv_dim(), s.dim, in_scale, s.type);
    L.wo = random_matrix(rng, s.dim, c.q_dim(), 3.0f * (1.0f / std::sqrt(static_cast<float>(c.q_dim()))), s.type);
    L.ffn_norm = random_norm(rng, s.dim);
    L.w1 = random_matrix(rng, s.hidden_dim, s.dim, 3.0f * in_scale, s.type);
    L.w2 = random_matrix(rng, s.dim, s.hidden_dim, 3.0f * hidden_scale, s.type);
    L.w3 = random_matrix(rng, s.hidden_dim, s.dim, 3.0f * in_scale, s.type);
    const auto random_vector = [&](int n, float offset, float scale) {
      std::vector<float> v(static_cast<std::size_t>(n));
      for (float& x : v) x = offset + scale * rng.next();
      return v;
    };
    if (s.qkv_bias) {  // large enough to move the argmax if applied in the wrong place
      L.bq = random_vector(c.q_dim(), 0.0f, 1.5f);
      L.bk = random_vector(c.kv_dim(), 0.0f, 1.5f);
      L.bv = random_vector(c.kv_dim(), 0.0f, 0.5f);
    }
    if (s.qk_norm) {
      L.q_norm = random_vector(c.head_dim(), 1.0f, 0.5f);
      L.k_norm = random_vector(c.head_dim(), 1.0f, 0.5f);
    }
    m->layers.push_back(std::move(L));
  }
  m->final_norm = random_norm(rng, s.dim);
  if (s.rope_factors) {  // as Llama 3.1's: 1 for fast pairs, up to 8 for slow ones
    for (int p = 0; p < c.head_dim() / 2; ++p)
      m->rope_freq_factors.push_back(1.0f + 7.0f * static_cast<float>(p) / static_cast<float>(c.head_dim() / 2));
  }
  m->shared_classifier = s.shared_classifier;
  if (!s.shared_classifier) m->output = random_matrix(rng, s.vocab_size, s.dim, in_scale * 4.0f, s.type);
  return m;
}

}  // namespace kvactor::testing
