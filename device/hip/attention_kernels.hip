// Paged attention, one code path for prefill rows and decode rows.
//
// Every query row (a token at position `pos`) attends to keys 0..pos of its
// sequence. Keys are split into fixed chunks of attention_keys_per_chunk positions;
// a work item is one (row, chunk). Pass 1 (paged_attention_chunk_kernel) computes,
// per work item and query head, the chunk's max score m, the sum of exp(s - m)
// and the unnormalised output sum exp(s - m) * v. Pass 2
// (paged_attention_combine_kernel) merges a row's chunks in chunk order.
//
// The chunk size is a constant and every sum runs in an order fixed by the head
// shape and the block size, so a row's output is the same bits whatever else is
// in the batch, whether it came from a prefill chunk or a decode step, and
// whether its keys were written in this step or long before.
//
// Grouped-query attention: a block handles all `group` query heads that share a
// kv head, so each K/V row is read once per block.
//
// Included by attention_launchers.hip.
#pragma once

#include "device/hip/gpu_math.hpp"

namespace kvactor::hip {

inline constexpr int attention_keys_per_chunk = 256;  // keys per work item
inline constexpr int attention_threads = 128;         // block size of the chunk kernel
inline constexpr int attention_max_group = 8;         // query heads per kv head
inline constexpr int attention_max_head_dim = 256;

// Where the keys of one query row live.
struct attention_rows {
  const int32_t* row_pos;         // [n_rows]: position of the query token
  const int32_t* row_table;       // [n_rows]: offset of the row's block table in block_tables
  const int32_t* block_tables;    // [sum of block table lengths]: physical page per logical page
  const int32_t* work_row;        // [n_work]: row of each work item
  const int32_t* work_chunk;      // [n_work]: chunk index of each work item
  const int32_t* row_first_work;  // [n_rows + 1]: work items of row t are [first[t], first[t + 1])
};

struct attention_heads {
  int n_heads, n_kv_heads, head_dim, page_size;
};

// Lanes that share one key in the score pass: the largest power of two <= vec4
// (float4 slices of a head) and <= 8. Each lane holds every lanes-th slice, so
// 8 lanes read 128 contiguous bytes of a key row per load.
inline constexpr int attention_max_lanes_per_key = 8;
inline constexpr int attention_max_slices_per_lane = attention_max_head_dim / 4 / attention_max_lanes_per_key;

__device__ inline int lanes_per_key(int vec4) {
  int lanes = 1;
  while (lanes * 2 <= vec4 && lanes * 2 <= attention_max_lanes_per_key) lanes *= 2;
  return lanes;
}

__device__ inline float4 fma4(float p, float4 v, float4 acc) {
  acc.x = fmaf(p, v.x, acc.x);
  acc.y = fmaf(p, v.y, acc.y);
  acc.z = fmaf(p, v.z, acc.z);
  acc.w = fmaf(p, v.w, acc.w);
  return acc;
}

__global__ void __launch_bounds__(attention_threads)
    paged_attention_chunk_kernel(const float* kv,  // [num_pages, 2, n_kv_heads, page_size, head_dim]: one layer
                                 const float* q,   // [n_rows, n_heads, head_dim]
                                 attention_rows rows, attention_heads shape,
                                 float* partial_out,    // [n_work, n_heads, head_dim]: sum exp(s - m) * v
                                 float* partial_max,    // [n_work, n_heads]: m
                                 float* partial_sum) {  // [n_work, n_heads]: sum exp(s - m)
  __shared__ float4 q_s4[attention_max_group * attention_max_head_dim / 4];  // float4: 16-byte aligned
  __shared__ float scores[attention_max_group * attention_keys_per_chunk];
  __shared__ int64_t key_at[attention_keys_per_chunk];  // offset of each key's row from the head's base
  __shared__ float4 reduce_s[attention_threads];

  const int work = static_cast<int>(blockIdx.x);
  const int kv_head = static_cast<int>(blockIdx.y);
  const int tid = static_cast<int>(threadIdx.x);
  const int hd = shape.head_dim, vec4 = hd / 4, ps = shape.page_size;
  const int group = shape.n_heads / shape.n_kv_heads;
  const int row = rows.work_row[work];
  const int first_key = rows.work_chunk[work] * attention_keys_per_chunk;
  const int n_keys = min(attention_keys_per_chunk, rows.row_pos[row] + 1 - first_key);
  const int32_t* table = rows.block_tables + rows.row_table[row];
  const int64_t head_block = static_cast<int64_t>(ps) * hd;
  const int64_t page_stride = 2 * static_cast<int64_t>(shape.n_kv_heads) * head_block;
  const float* k_base = kv + kv_head * head_block;
  const float* v_base = kv + (shape.n_kv_heads + kv_head) * head_block;

  // The query heads of this kv head, and where each key of the chunk lives (one
  // page-table lookup per key instead of one per key and lane).
  float* q_s = reinterpret_cast<float*>(q_s4);
  const float* q_row = q + (static_cast<int64_t>(row) * shape.n_heads + kv_head * group) * hd;
  for (int i = tid; i < group * hd; i += attention_threads) q_s[i] = q_row[i];
  for (int key = tid; key < n_keys; key += attention_threads) {
    const int pos = first_key + key;
    key_at[key] = static_cast<int64_t>(table[pos / ps]) * page_stride + static_cast<int64_t>(pos % ps) * hd;
  }
  __syncthreads();

  // Scores: `lanes` lanes share a key; lane `sub` holds slices sub, sub + lanes, ...
  // of it and sums them in that order, then the lanes combine in butterfly order.
  {
    const int lanes = lanes_per_key(vec4);
    const int per_lane = (vec4 + lanes - 1) / lanes;
    const int sub = tid % lanes;
    const int keys_per_pass = attention_threads / lanes;
    const float scale = sqrtf(static_cast<float>(hd));
    for (int base = 0; base < n_keys; base += keys_per_pass) {  // uniform trip count: shuffles need every lane
      const int key = base + tid / lanes;
      const bool valid = key < n_keys;
      const float4* k4 = reinterpret_cast<const float4*>(k_base + key_at[valid ? key : 0]);
      float4 k_part[attention_max_slices_per_lane];
#pragma unroll
      for (int i = 0; i < attention_max_slices_per_lane; ++i) {
        const int v = sub + i * lanes;
        k_part[i] = i < per_lane && v < vec4 ? k4[v] : make_float4(0.0f, 0.0f, 0.0f, 0.0f);
      }
      for (int g = 0; g < group; ++g) {
        const float4* qg = q_s4 + g * vec4;
        float dot = 0.0f;
#pragma unroll
        for (int i = 0; i < attention_max_slices_per_lane; ++i) {
          const int v = sub + i * lanes;
          if (i < per_lane && v < vec4) {
            const float4 qv = qg[v];
            dot = fmaf(qv.x, k_part[i].x, dot);
            dot = fmaf(qv.y, k_part[i].y, dot);
            dot = fmaf(qv.z, k_part[i].z, dot);
            dot = fmaf(qv.w, k_part[i].w, dot);
          }
        }
        dot = group_sum(dot, lanes);
        if (valid && sub == 0) scores[g * attention_keys_per_chunk + key] = dot / scale;
      }
    }
  }
  __syncthreads();

  // Per head: max, exp(s - max) in place, and their sum; one warp per head.
  {
    const int lane = tid % warp_size, warp = tid / warp_size, warps = attention_threads / warp_size;
    for (int g = warp; g < group; g += warps) {
      float* s = scores + g * attention_keys_per_chunk;
      float m = -INFINITY;
      for (int key = lane; key < n_keys; key += warp_size) m = fmaxf(m, s[key]);
      m = warp_max(m);
      float l = 0.0f;
      for (int key = lane; key < n_keys; key += warp_size) {
        const float p = expf(s[key] - m);
        s[key] = p;
        l += p;
      }
      l = warp_sum(l);
      if (lane == 0) {
        const int64_t at = static_cast<int64_t>(work) * shape.n_heads + kv_head * group + g;
        partial_max[at] = m;
        partial_sum[at] = l;
      }
    }
  }
  __syncthreads();

  // Output: thread (split, slice v) takes keys split, split + splits, ... in
  // increasing order and accumulates slice v of every query head from one load of
  // the value row; the splits' sums are then added in split order.
  const int splits = attention_threads / vec4;  // vec4 <= attention_max_head_dim / 4 <= attention_threads
  const int v = tid % vec4, split = tid / vec4;
  float4 acc[attention_max_group];
#pragma unroll
  for (int g = 0; g < attention_max_group; ++g) acc[g] = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
  if (split < splits) {
    constexpr int ahead = 4;  // value rows loaded before the first is used
    int key = split;
    for (; key + (ahead - 1) * splits < n_keys; key += ahead * splits) {
      float4 val[ahead];
#pragma unroll
      for (int u = 0; u < ahead; ++u) val[u] = reinterpret_cast<const float4*>(v_base + key_at[key + u * splits])[v];
#pragma unroll
      for (int u = 0; u < ahead; ++u) {
#pragma unroll
        for (int g = 0; g < attention_max_group; ++g)
          if (g < group) acc[g] = fma4(scores[g * attention_keys_per_chunk + key + u * splits], val[u], acc[g]);
      }
    }
    for (; key < n_keys; key += splits) {
      const float4 val = reinterpret_cast<const float4*>(v_base + key_at[key])[v];
#pragma unroll
      for (int g = 0; g < attention_max_group; ++g)
        if (g < group) acc[g] = fma4(scores[g * attention_keys_per_chunk + key], val, acc[g]);
    }
  }
  float* out_base = partial_out + (static_cast<int64_t>(work) * shape.n_heads + kv_head * group) * hd;
#pragma unroll
  for (int g = 0; g < attention_max_group; ++g) {
    if (g >= group) break;  // uniform over the block
    reduce_s[tid] = acc[g];
    __syncthreads();
    if (split == 0) {
      float4 total = reduce_s[v];
      for (int s = 1; s < splits; ++s) {
        const float4 more = reduce_s[s * vec4 + v];
        total.x += more.x;
        total.y += more.y;
        total.z += more.z;
        total.w += more.w;
      }
      reinterpret_cast<float4*>(out_base + g * hd)[v] = total;
    }
    __syncthreads();
  }
}

// Merges a row's chunks in chunk order: out = sum_c o_c e_c / sum_c l_c e_c with
// e_c = exp(m_c - max_c m_c). One block per (row, head); threads over head_dim.
__global__ void paged_attention_combine_kernel(const float* partial_out,       // [n_work, n_heads, head_dim]
                                               const float* partial_max,       // [n_work, n_heads]
                                               const float* partial_sum,       // [n_work, n_heads]
                                               const int32_t* row_first_work,  // [n_rows + 1]
                                               int n_heads, int head_dim,
                                               float* out) {  // [n_rows, n_heads * head_dim]
  const int row = static_cast<int>(blockIdx.x), head = static_cast<int>(blockIdx.y);
  const int first = row_first_work[row], last = row_first_work[row + 1];
  float m = -INFINITY;
  for (int w = first; w < last; ++w) m = fmaxf(m, partial_max[static_cast<int64_t>(w) * n_heads + head]);
  float l = 0.0f;
  for (int w = first; w < last; ++w) {
    const int64_t at = static_cast<int64_t>(w) * n_heads + head;
    l += partial_sum[at] * expf(partial_max[at] - m);
  }
  for (int d = static_cast<int>(threadIdx.x); d < head_dim; d += static_cast<int>(blockDim.x)) {
    float o = 0.0f;
    for (int w = first; w < last; ++w) {
      const int64_t at = static_cast<int64_t>(w) * n_heads + head;
      o += partial_out[at * head_dim + d] * expf(partial_max[at] - m);
    }
    out[(static_cast<int64_t>(row) * n_heads + head) * head_dim + d] = o / l;
  }
}

}  // namespace kvactor::hip
