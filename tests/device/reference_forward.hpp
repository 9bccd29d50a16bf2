// A deliberately simple Llama / Qwen2 / Qwen3 forward pass for checking the backends: one token at
// a time, double precision, a contiguous KV cache, no pages, no threads, no SIMD.
// It shares nothing with device/ except the fp16 conversion.
#pragma once

#include <vector>

#include "model/model.hpp"

namespace kvactor::testing {

class reference_forward {
 public:
  explicit reference_forward(const model_weights& weights);
  // Logits for `token` at position `pos`; positions must be fed 0, 1, 2, ... in order.
  std::vector<double> step(int token, int pos);

 private:
  std::vector<double> row(const weight_matrix& w, int r) const;
  std::vector<double> matvec(const weight_matrix& w, const std::vector<double>& x) const;
  std::vector<double> rmsnorm(const std::vector<double>& x, const std::vector<float>& weight) const;
  void head_norm(std::vector<double>& v, const std::vector<float>& weight) const;
  void rope(std::vector<double>& v, int pos) const;

  const model_weights& w_;
  std::vector<std::vector<double>> keys_, values_;  // [layer][pos * kv_dim + i]
};

// Greedy continuation of `prompt` by the reference: returns `count` new tokens.
std::vector<int> reference_greedy(const model_weights& weights, const std::vector<int>& prompt, int count);

}  // namespace kvactor::testing
