// A deliberately simple Llama / Qwen2 / Qwen3 forward pass for checking the backends: one token at
// a time, double precision, a contiguous KV cache, no pages, no threads, no SIMD.
// It shares nothing with device/ except the fp16 conversion.
#pragma once

#include <vector>

#include "model/model.hpp"

namespace kvactor::testing {

class reference_forward {
 public:
  // q8_integer: the input of every product with Q8_0 weights is first quantized to
  // Q8_0 blocks as llama.cpp does (amax / 127 scales rounded to fp16, values rounded to
  // nearest even), the arithmetic of the CPU backend's default (q8_0_activations::int8).
  explicit reference_forward(const model_weights& weights, bool q8_integer = false);
  // Logits for `token` at position `pos`; positions must be fed 0, 1, 2, ... in order.
  std::vector<double> step(int token, int pos);

 private:
  std::vector<double> row(const weight_matrix& w, int r) const;
  std::vector<double> matvec(const weight_matrix& w, const std::vector<double>& x) const;
  std::vector<double> rmsnorm(const std::vector<double>& x, const std::vector<float>& weight) const;
  void head_norm(std::vector<double>& v, const std::vector<float>& weight) const;
  void rope(std::vector<double>& v, int pos) const;

  const model_weights& w_;
  bool q8_integer_;
  std::vector<std::vector<double>> keys_, values_;  // [layer][pos * kv_dim + i]
};

// Greedy continuation of `prompt` by the reference: returns `count` new tokens.
std::vector<int> reference_greedy(const model_weights& weights, const std::vector<int>& prompt, int count,
                                  bool q8_integer = false);

}  // namespace kvactor::testing
