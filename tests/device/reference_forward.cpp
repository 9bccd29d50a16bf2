#include "tests/device/reference_forward.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "device/half_float.hpp"
#include "model/quantization.hpp"

namespace kvactor::testing {

reference_forward::reference_forward(const model_weights& weights, bool q8_integer)
    : w_(weights),
      q8_integer_(q8_integer),
      keys_(static_cast<std::size_t>(weights.config.n_layers)),
      values_(static_cast<std::size_t>(weights.config.n_layers)) {}

std::vector<double> reference_forward::row(const weight_matrix& w, int r) const {
  std::vector<double> out(static_cast<std::size_t>(w.cols));
  if (w.type == dtype::f32) {
    for (int64_t c = 0; c < w.cols; ++c) {
      float f;
      std::memcpy(&f, w.bytes() + (r * w.cols + c) * 4, 4);
      out[static_cast<std::size_t>(c)] = f;
    }
  } else if (w.type == dtype::f16) {
    for (int64_t c = 0; c < w.cols; ++c) {
      uint16_t h;
      std::memcpy(&h, w.bytes() + (r * w.cols + c) * 2, 2);
      out[static_cast<std::size_t>(c)] = half_to_float(h);
    }
  } else if (w.type != dtype::q8_0) {  // the block formats: model/quantization's reference decoding
    std::vector<float> f(static_cast<std::size_t>(w.cols));
    dequantize_row(w.type, w.bytes() + static_cast<std::size_t>(r) * row_bytes(w.type, w.cols), f.data(), w.cols);
    for (int64_t c = 0; c < w.cols; ++c) out[static_cast<std::size_t>(c)] = f[static_cast<std::size_t>(c)];
  } else {
    const int64_t blocks_per_row = w.cols / 32;
    for (int64_t c = 0; c < w.cols; ++c) {
      const uint8_t* block = w.bytes() + (r * blocks_per_row + c / 32) * 34;
      uint16_t h;
      std::memcpy(&h, block, 2);
      const auto q = static_cast<int8_t>(block[2 + c % 32]);
      out[static_cast<std::size_t>(c)] = static_cast<double>(half_to_float(h)) * q;
    }
  }
  return out;
}

// x as Q8_0 blocks would hold it (llama.cpp's quantize_row_q8_0, in double).
std::vector<double> q8_blocks(const std::vector<double>& x) {
  std::vector<double> out(x.size());
  for (std::size_t b = 0; b < x.size(); b += 32) {
    double amax = 0;
    for (std::size_t i = b; i < b + 32; ++i) amax = std::max(amax, std::fabs(x[i]));
    const double d = half_to_float(float_to_half(static_cast<float>(amax / 127)));
    for (std::size_t i = b; i < b + 32; ++i) out[i] = amax > 0 ? std::nearbyint(x[i] * 127 / amax) * d : 0.0;
  }
  return out;
}

std::vector<double> reference_forward::matvec(const weight_matrix& w, const std::vector<double>& in) const {
  const std::vector<double> x = q8_integer_ && w.type == dtype::q8_0 ? q8_blocks(in) : in;
  std::vector<double> y(static_cast<std::size_t>(w.rows));
  for (int r = 0; r < w.rows; ++r) {
    const std::vector<double> wr = row(w, r);
    double sum = 0;
    for (std::size_t c = 0; c < wr.size(); ++c) sum += wr[c] * x[c];
    y[static_cast<std::size_t>(r)] = sum;
  }
  return y;
}

std::vector<double> reference_forward::rmsnorm(const std::vector<double>& x, const std::vector<float>& weight) const {
  double ss = 0;
  for (double v : x) ss += v * v;
  const double scale = 1.0 / std::sqrt(ss / static_cast<double>(x.size()) + w_.config.norm_eps);
  std::vector<double> out(x.size());
  for (std::size_t i = 0; i < x.size(); ++i) out[i] = weight[i] * x[i] * scale;
  return out;
}

// Each head of v normalised on its own (qwen3's attn_q_norm / attn_k_norm).
void reference_forward::head_norm(std::vector<double>& v, const std::vector<float>& weight) const {
  const std::size_t hd = weight.size();
  for (std::size_t h = 0; h < v.size(); h += hd) {
    const std::vector<double> head(v.begin() + static_cast<std::ptrdiff_t>(h),
                                   v.begin() + static_cast<std::ptrdiff_t>(h + hd));
    const std::vector<double> normed = rmsnorm(head, weight);
    std::copy(normed.begin(), normed.end(), v.begin() + static_cast<std::ptrdiff_t>(h));
  }
}

// Pair p of a head turns by pos * freq_scale / (theta^(2p/hd) * factor[p]). llama2.c
// pairs adjacent values (2p, 2p+1); NEOX pairs p with p + hd/2.
void reference_forward::rope(std::vector<double>& v, int pos) const {
  const model_config& c = w_.config;
  const int hd = c.head_dim();
  const bool neox = c.rope == rope_style::neox;
  for (std::size_t head = 0; head < v.size(); head += static_cast<std::size_t>(hd))
    for (int p = 0; p < hd / 2; ++p) {
      double angle =
          pos * static_cast<double>(c.rope_freq_scale) / std::pow(static_cast<double>(c.rope_theta), 2.0 * p / hd);
      if (!w_.rope_freq_factors.empty()) angle /= w_.rope_freq_factors[static_cast<std::size_t>(p)];
      const std::size_t i = head + static_cast<std::size_t>(neox ? p : 2 * p);
      const std::size_t k = neox ? i + static_cast<std::size_t>(hd / 2) : i + 1;
      const double a = v[i], b = v[k];
      v[i] = a * std::cos(angle) - b * std::sin(angle);
      v[k] = a * std::sin(angle) + b * std::cos(angle);
    }
}

std::vector<double> reference_forward::step(int token, int pos) {
  const model_config& c = w_.config;
  const int hd = c.head_dim(), kv_dim = c.kv_dim();
  std::vector<double> x = row(w_.tok_embeddings, token);
  for (int l = 0; l < c.n_layers; ++l) {
    const layer_weights& L = w_.layers[static_cast<std::size_t>(l)];
    const std::vector<double> xn = rmsnorm(x, L.attn_norm);
    std::vector<double> q = matvec(L.wq, xn), k = matvec(L.wk, xn), v = matvec(L.wv, xn);
    const auto add_bias = [](std::vector<double>& x, const std::vector<float>& b) {
      for (std::size_t i = 0; i < b.size(); ++i) x[i] += b[i];
    };
    add_bias(q, L.bq);
    add_bias(k, L.bk);
    add_bias(v, L.bv);
    if (!L.q_norm.empty()) head_norm(q, L.q_norm);
    if (!L.k_norm.empty()) head_norm(k, L.k_norm);
    rope(q, pos);
    rope(k, pos);
    auto& keys = keys_[static_cast<std::size_t>(l)];
    auto& values = values_[static_cast<std::size_t>(l)];
    keys.resize(static_cast<std::size_t>(pos) * kv_dim);
    values.resize(static_cast<std::size_t>(pos) * kv_dim);
    keys.insert(keys.end(), k.begin(), k.end());
    values.insert(values.end(), v.begin(), v.end());
    std::vector<double> att(static_cast<std::size_t>(c.q_dim()), 0.0);
    for (int h = 0; h < c.n_heads; ++h) {
      const int kvh = h / (c.n_heads / c.n_kv_heads);
      std::vector<double> scores(static_cast<std::size_t>(pos) + 1);
      double max_score = -1e300;
      for (int p = 0; p <= pos; ++p) {
        double s = 0;
        for (int i = 0; i < hd; ++i)
          s += q[static_cast<std::size_t>(h * hd + i)] * keys[static_cast<std::size_t>(p * kv_dim + kvh * hd + i)];
        scores[static_cast<std::size_t>(p)] = s / std::sqrt(static_cast<double>(hd));
        max_score = std::max(max_score, scores[static_cast<std::size_t>(p)]);
      }
      double total = 0;
      for (double& s : scores) total += (s = std::exp(s - max_score));
      for (int p = 0; p <= pos; ++p)
        for (int i = 0; i < hd; ++i)
          att[static_cast<std::size_t>(h * hd + i)] +=
              scores[static_cast<std::size_t>(p)] / total * values[static_cast<std::size_t>(p * kv_dim + kvh * hd + i)];
    }
    const std::vector<double> o = matvec(L.wo, att);
    for (std::size_t i = 0; i < x.size(); ++i) x[i] += o[i];
    const std::vector<double> xf = rmsnorm(x, L.ffn_norm);
    std::vector<double> gate = matvec(L.w1, xf);
    const std::vector<double> up = matvec(L.w3, xf);
    for (std::size_t i = 0; i < gate.size(); ++i) gate[i] = gate[i] / (1.0 + std::exp(-gate[i])) * up[i];
    const std::vector<double> down = matvec(L.w2, gate);
    for (std::size_t i = 0; i < x.size(); ++i) x[i] += down[i];
  }
  return matvec(w_.classifier(), rmsnorm(x, w_.final_norm));
}

std::vector<int> reference_greedy(const model_weights& weights, const std::vector<int>& prompt, int count,
                                  bool q8_integer) {
  reference_forward ref(weights, q8_integer);
  std::vector<int> out;
  int pos = 0;
  std::vector<double> logits;
  for (int token : prompt) logits = ref.step(token, pos++);
  for (int i = 0; i < count; ++i) {
    int best = 0;
    for (std::size_t t = 1; t < logits.size(); ++t)
      if (logits[t] > logits[static_cast<std::size_t>(best)]) best = static_cast<int>(t);
    out.push_back(best);
    if (i + 1 < count) logits = ref.step(best, pos++);
  }
  return out;
}

}  // namespace kvactor::testing
