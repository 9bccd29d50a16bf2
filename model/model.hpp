// The in-memory form of a Llama-architecture model, whatever file it came from.
// Loaders (llama2.c checkpoints, GGUF) fill it; backends read it. No I/O here.
#pragma once

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace kvactor {

// Numeric ids match ggml's type ids so GGUF files map straight onto them.
// Every weight type the issue-14 work targets is named here; which ones a loader,
// writer or backend accepts is decided by the type table (model/quantization.hpp).
enum class dtype : uint32_t {
  f32 = 0,
  f16 = 1,
  q4_0 = 2,
  q4_1 = 3,
  q5_0 = 6,
  q5_1 = 7,
  q8_0 = 8,
  q8_1 = 9,
  q2_k = 10,
  q3_k = 11,
  q4_k = 12,
  q5_k = 13,
  q6_k = 14,
  q8_k = 15,
  iq4_nl = 20,
  bf16 = 30,
};

const char* dtype_name(dtype t);

// Q8_0: blocks of 32 values, one fp16 scale (d) then 32 int8 (value = d * q).
inline constexpr int q8_0_block = 32;
inline constexpr int q8_0_block_bytes = 2 + q8_0_block;

// Bytes needed for one row of `cols` elements of type t (cols % 32 == 0 for q8_0).
std::size_t row_bytes(dtype t, int64_t cols);

// A 2-D weight, row-major: row r holds the `cols` inputs of output feature r
// (y[r] = sum_c W[r][c] * x[c]). Stored in its file's dtype; backends dequantise.
struct weight_matrix {
  dtype type = dtype::f32;
  int64_t rows = 0;
  int64_t cols = 0;
  std::vector<uint8_t> data;  // rows * row_bytes(type, cols) bytes
  // Read the bytes through these, never through `data` directly: a matrix may come to
  // view a read-only mapping of its file instead of owning a copy (issue 14, mmap).
  const uint8_t* bytes() const { return data.data(); }
  std::size_t byte_size() const { return data.size(); }
};

struct model_config {
  int dim = 0;          // embedding width
  int hidden_dim = 0;   // SwiGLU inner width
  int n_layers = 0;
  int n_heads = 0;
  int n_kv_heads = 0;   // grouped-query attention: n_heads % n_kv_heads == 0
  int vocab_size = 0;
  int max_seq_len = 0;  // positions the model supports
  float rope_theta = 10000.0f;
  float norm_eps = 1e-5f;
  int head_dim() const { return dim / n_heads; }
  int kv_dim() const { return head_dim() * n_kv_heads; }
};

struct layer_weights {
  std::vector<float> attn_norm;  // [dim]
  weight_matrix wq;              // [dim, dim]
  weight_matrix wk;              // [kv_dim, dim]
  weight_matrix wv;              // [kv_dim, dim]
  weight_matrix wo;              // [dim, dim]
  std::vector<float> ffn_norm;   // [dim]
  weight_matrix w1;              // gate [hidden, dim]
  weight_matrix w2;              // down [dim, hidden]
  weight_matrix w3;              // up   [hidden, dim]
};

struct model_weights {
  model_config config;
  weight_matrix tok_embeddings;  // [vocab, dim]
  std::vector<layer_weights> layers;
  std::vector<float> final_norm;  // [dim]
  // Classifier [vocab, dim]. When shared_classifier is true the classifier is
  // tok_embeddings and `output` is empty.
  bool shared_classifier = true;
  weight_matrix output;
  const weight_matrix& classifier() const { return shared_classifier ? tok_embeddings : output; }
};

// Thrown by loaders and writers: the message always names the file and what is wrong.
struct model_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

}  // namespace kvactor
