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

// ggml's block layout of each type: elements per block and bytes per block
// (1 and the element size for f32/f16/bf16). 0 for an id outside the enum.
int64_t dtype_block_elements(dtype t);
std::size_t dtype_block_bytes(dtype t);

// Bytes needed for one row of `cols` elements of type t (cols a multiple of the
// type's block), 0 when cols is not a whole number of blocks or the type is unknown.
std::size_t row_bytes(dtype t, int64_t cols);

// A 2-D weight, row-major: row r holds the `cols` inputs of output feature r
// (y[r] = sum_c W[r][c] * x[c]). Stored in its file's dtype; backends dequantise.
//
// The rows * row_bytes(type, cols) bytes are either owned (`data`: llama2.c files,
// conversions, tests) or viewed in read-only memory that `keep_alive` keeps mapped
// (a GGUF file's mapping: the weights are used in place). Read them through
// bytes() / byte_size(), never through `data`: a viewed matrix has an empty `data`.
struct weight_matrix {
  dtype type = dtype::f32;
  int64_t rows = 0;
  int64_t cols = 0;
  std::vector<uint8_t> data;  // owned bytes (empty while viewing)

  const uint8_t* bytes() const { return view_ ? view_ : data.data(); }
  std::size_t byte_size() const { return view_ ? view_size_ : data.size(); }
  bool is_view() const { return view_ != nullptr; }
  // Views `size` bytes at `p`; `keep_alive` owns the memory (e.g. the file mapping).
  void set_view(std::shared_ptr<const void> keep_alive, const uint8_t* p, std::size_t size) {
    data.clear();
    keep_alive_ = std::move(keep_alive);
    view_ = p;
    view_size_ = size;
  }
  // Copies viewed bytes into `data` (after which the matrix may be modified).
  void make_owned() {
    if (!view_) return;
    data.assign(view_, view_ + view_size_);
    keep_alive_.reset();
    view_ = nullptr;
    view_size_ = 0;
  }

 private:
  std::shared_ptr<const void> keep_alive_;
  const uint8_t* view_ = nullptr;
  std::size_t view_size_ = 0;
};

// Architecture-level choices of the forward pass (GGUF general.architecture).
enum class rope_style : uint8_t {
  adjacent,  // llama / llama2.c (ggml "NORM"): pairs (2j, 2j+1) of each head
  neox,      // qwen2 / qwen3: pairs (j, j + head_dim/2)
};

struct model_config {
  int dim = 0;         // embedding width
  int hidden_dim = 0;  // SwiGLU inner width
  int n_layers = 0;
  int n_heads = 0;
  int n_kv_heads = 0;  // grouped-query attention: n_heads % n_kv_heads == 0
  int vocab_size = 0;
  int max_seq_len = 0;  // positions the model supports
  float rope_theta = 10000.0f;
  float norm_eps = 1e-5f;
  // Width of one attention head; 0 means dim / n_heads. Qwen3 decouples it from dim
  // (attention.key_length: 128 with dim 1024 and 16 heads).
  int head_width = 0;
  rope_style rope = rope_style::adjacent;
  // Linear RoPE scaling (rope.scaling.type "linear"): positions are multiplied by
  // this (1 / rope.scaling.factor).
  float rope_freq_scale = 1.0f;
  int head_dim() const { return head_width > 0 ? head_width : dim / n_heads; }
  int q_dim() const { return head_dim() * n_heads; }
  int kv_dim() const { return head_dim() * n_kv_heads; }
};

struct layer_weights {
  std::vector<float> attn_norm;  // [dim]
  weight_matrix wq;              // [q_dim, dim]
  weight_matrix wk;              // [kv_dim, dim]
  weight_matrix wv;              // [kv_dim, dim]
  weight_matrix wo;              // [dim, q_dim]
  // Optional (empty when the architecture has none):
  std::vector<float> bq, bk, bv;      // qwen2: biases [q_dim], [kv_dim], [kv_dim], added before RoPE
  std::vector<float> q_norm, k_norm;  // qwen3: per-head RMSNorm weights [head_dim], before RoPE
  std::vector<float> ffn_norm;        // [dim]
  weight_matrix w1;                   // gate [hidden, dim]
  weight_matrix w2;                   // down [dim, hidden]
  weight_matrix w3;                   // up   [hidden, dim]
};

struct model_weights {
  model_config config;
  weight_matrix tok_embeddings;  // [vocab, dim]
  std::vector<layer_weights> layers;
  std::vector<float> final_norm;  // [dim]
  // Llama 3.1 rope_freqs.weight: per-pair divisors of the rotation frequency
  // [head_dim / 2]; empty when absent.
  std::vector<float> rope_freq_factors;
  // Classifier [vocab, dim]. When shared_classifier is true the classifier is
  // tok_embeddings and `output` is empty.
  bool shared_classifier = true;
  weight_matrix output;
  const weight_matrix& classifier() const { return shared_classifier ? tok_embeddings : output; }
};

// The first feature of `w` that a plain llama2.c-style Llama layout cannot express
// (biases, Q/K norms, NEOX RoPE, a decoupled head_dim, RoPE scaling), or nullptr.
// Writers of that layout refuse such models rather than drop what they cannot hold.
const char* llama_layout_gap(const model_weights& w);

// Thrown by loaders and writers: the message always names the file and what is wrong.
struct model_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

}  // namespace kvactor
