// Host entry points of the GPU kernels: they check shapes, pick grid sizes and
// template instances, and enqueue on a stream. Plain C++ (no GPU headers), so
// tests and benchmarks compiled by the host compiler can call them. Every pointer
// is device memory unless it says otherwise. Unsupported shapes raise
// backend_error naming the shape.
#pragma once

#include <cstdint>
#include <vector>

#include "device/backend.hpp"
#include "model/model.hpp"

namespace kvactor::hip {

using gpu_stream = void*;  // a hipStream_t (cudaStream_t under nvcc); null = default stream

// A weight matrix resident on the device, in its file's layout (model.hpp).
struct device_matrix {
  dtype type = dtype::f32;
  int64_t rows = 0;
  int64_t cols = 0;
  const void* data = nullptr;  // rows * row_bytes(type, cols) bytes
};

// One layer of the paged KV store: [num_pages][k|v][n_kv_heads][page_size][head_dim].
struct device_kv_layer {
  float* data = nullptr;
  int num_pages = 0;
  int page_size = 0;
  int n_kv_heads = 0;
  int head_dim = 0;
};

// Block tables and the (row, chunk) work list of one attention call (see
// attention_plan.hpp, which builds them on the host).
struct device_attention_rows {
  const int32_t* row_pos = nullptr;         // [n_rows]
  const int32_t* row_table = nullptr;       // [n_rows]: offset of the row's block table
  const int32_t* block_tables = nullptr;    // concatenated block tables
  const int32_t* work_row = nullptr;        // [n_work]
  const int32_t* work_chunk = nullptr;      // [n_work]
  const int32_t* row_first_work = nullptr;  // [n_rows + 1]
  int n_rows = 0;
  int n_work = 0;
};

// Keys per attention work item: the fixed split-K chunk (independent of the batch).
int attention_chunk_keys();
// Floats of scratch paged_attention needs for n_work items.
int64_t attention_scratch_floats(int n_work, int n_heads, int head_dim);

// out[t] = row tokens[t] of table, dequantised.
void embedding_gather(const device_matrix& table,  // [vocab, dim]
                      const int32_t* tokens,       // [n_rows]
                      int n_rows,
                      float* out,  // [n_rows, dim]
                      gpu_stream stream);

// out[i] = rmsnorm(x[row_index ? row_index[i] : i]) * weight.
void rmsnorm(const float* x,            // [*, dim]
             const int32_t* row_index,  // [n_rows] or null
             int n_rows, int dim,
             const float* weight,  // [dim]
             float eps,
             float* out,  // [n_rows, dim]
             gpu_stream stream);

// In-place llama2.c RoPE on every head of every row.
void rope(float* vec,                // [n_rows, n_heads, head_dim]
          const int32_t* positions,  // [n_rows]
          int n_rows, int n_heads, int head_dim,
          const float* table,  // [max_seq_len, head_dim / 2, 2]: cos, sin
          gpu_stream stream);

// y[t][r] = sum_c w[r][c] * x[t][c].
void matmul(const device_matrix& w,  // [rows, cols]
            const float* x,          // [n_rows, cols]
            int n_rows,
            float* y,  // [n_rows, rows]
            gpu_stream stream);

// The matmul kernel's tile shapes: `tokens` token rows per block, `rows` weight
// rows per warp. matmul() picks one by token count; every shape computes the
// same bits (benchmarks and tests compare them through matmul_with).
struct matmul_shape {
  int tokens, rows;
};
std::vector<matmul_shape> matmul_shapes();
matmul_shape matmul_shape_for(int n_rows);  // matmul()'s choice
// matmul() with a given shape from matmul_shapes(); any other raises backend_error.
void matmul_with(matmul_shape shape, const device_matrix& w, const float* x, int n_rows, float* y, gpu_stream stream);

// gate = silu(gate) * up.
void swiglu(float* gate,      // [count]
            const float* up,  // [count]
            int64_t count, gpu_stream stream);

// x += delta.
void residual_add(float* x,            // [count]
                  const float* delta,  // [count]
                  int64_t count, gpu_stream stream);

// Stores K and V of every row at (row_page[t], row_slot[t]) of one layer.
void kv_write(const device_kv_layer& layer,
              const float* k,           // [n_rows, n_kv_heads * head_dim]
              const float* v,           // [n_rows, n_kv_heads * head_dim]
              const int32_t* row_page,  // [n_rows]
              const int32_t* row_slot,  // [n_rows]
              int n_rows, gpu_stream stream);

// Causal attention of every row over keys 0..row_pos[t] of its sequence.
void paged_attention(const device_kv_layer& layer,
                     const float* q,  // [n_rows, n_heads, head_dim]
                     int n_heads, const device_attention_rows& rows,
                     float* scratch,  // [attention_scratch_floats(n_work, n_heads, head_dim)]
                     float* out,      // [n_rows, n_heads * head_dim]
                     gpu_stream stream);

// out[t] = index of the highest logit of row t (NaN never wins, lowest id wins ties).
void argmax(const float* logits,  // [n_rows, vocab]
            int n_rows, int vocab,
            int32_t* out,  // [n_rows]
            gpu_stream stream);

}  // namespace kvactor::hip
