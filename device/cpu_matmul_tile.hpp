// The register-tiled matmul shared by the per-ISA units (cpu_matmul_*.cpp), written
// once over an `Ops` struct that supplies the ISA's vector type and operations:
//   vec, width, zero(), load(const float*), fma(a, b, acc), reduce(vec) -> float,
//   load_f16(const uint16_t*), load_q8(const int8_t*, float scale),
//   half(uint16_t) -> float, scalar_fma(a, b, acc), rows_multi, tokens_multi, tokens_row_stream,
//   and a block decoder per block format, decode_q4_0 ... decode_q6_K
//   (void(const uint8_t* block, float* out), exactly ggml's values: model/ggml_dequant.hpp
//   or an ISA's vector twin).
// Everything here has internal linkage: each unit gets its own copy, compiled for
// its own ISA.
//
// One output, whatever the tile it is computed in:
//   acc = 0 (width lanes); for i in steps of width while i + width <= k: acc = fma(w[i..], x[i..], acc)
//   total = reduce(acc) (a fixed lane tree); tail = fma chain over k % width; y = total + tail
// A tile of R weight rows x T token rows runs R*T such chains side by side: each
// weight vector is loaded once for T tokens and each token vector once for R rows.
#pragma once

#include <cstdint>
#include <cstring>

#include "device/cpu_matmul_kernels.hpp"
#include "model/ggml_dequant.hpp"

namespace kvactor {
namespace {

template <class Ops>
struct f32_source {
  // Up to this many tokens an F32 matrix that lives in DRAM (raw_weight_rows::streamed)
  // is read one row at a time too (a 1 x tokens_row_stream tile): with few tokens per
  // weight row the product waits on rows arriving, and 4 interleaved row streams
  // arrived at about half the rate (classifier, 8 tokens: ~22 -> ~30 GFLOP/s). Cached
  // matrices keep the 4 x 6 tile, which is faster there.
  // Since streamed rows are prefetched (prefetch_rows below), the 4 x 6 tile with the next
  // 4 rows prefetched beats two 1 x 8 passes above 8 tokens (engine_bench f32 decode, 2
  // threads: 12-16 tokens 1.0-1.17x, 24-32 tokens 1.05-1.11x), so "few" is now 8.
  static constexpr int few_tokens = 8;
  const float* base;  // [rows, stride]
  int64_t stride;
  typename Ops::vec load(int64_t r, int i) const { return Ops::load(base + r * stride + i); }
  float scalar(int64_t r, int i) const { return base[r * stride + i]; }
  const float* address(int64_t r, int i) const { return base + r * stride + i; }
};

template <class Ops>
struct f16_source {
  static constexpr int few_tokens = 0;
  const uint16_t* base;  // [rows, stride] fp16
  int64_t stride;
  typename Ops::vec load(int64_t r, int i) const { return Ops::load_f16(base + r * stride + i); }
  float scalar(int64_t r, int i) const { return Ops::half(base[r * stride + i]); }
};

// A vector never straddles two Q8_0 blocks: the widths (8, 16) divide 32.
template <class Ops>
struct q8_0_source {
  static constexpr int few_tokens = 0;
  const uint8_t* base;  // rows of row_bytes: [cols / 32][scale fp16, int8 x 32]
  int64_t row_bytes;
  float scale(const uint8_t* block) const {
    uint16_t h;
    std::memcpy(&h, block, 2);
    return Ops::half(h);
  }
  typename Ops::vec load(int64_t r, int i) const {
    const uint8_t* block = base + r * row_bytes + (i / q8_block_values) * q8_block_size;
    return Ops::load_q8(reinterpret_cast<const int8_t*>(block + 2 + i % q8_block_values), scale(block));
  }
  float scalar(int64_t r, int i) const {
    const uint8_t* block = base + r * row_bytes + (i / q8_block_values) * q8_block_size;
    return scale(block) * static_cast<float>(static_cast<int8_t>(block[2 + i % q8_block_values]));
  }
};

// BF16 rows: each value widened exactly (its bits become the top half of an f32).
template <class Ops>
struct bf16_source {
  static constexpr int few_tokens = 0;
  const uint16_t* base;  // [rows, stride] bf16
  int64_t stride;
  typename Ops::vec load(int64_t r, int i) const {
    float v[Ops::width];
    for (int j = 0; j < Ops::width; ++j) v[j] = ggml::bf16_value(base[r * stride + i + j]);
    return Ops::load(v);
  }
  float scalar(int64_t r, int i) const { return ggml::bf16_value(base[r * stride + i]); }
};

// A ggml block format: a row is cols / BlockValues blocks of BlockBytes, each decoded
// exactly by Decode into BlockValues floats (model/ggml_dequant.hpp). Products decode a
// block of each of R rows once into a small buffer and run every token of the call
// through it (matmul_rows_blocked), so the decoding cost is shared by all tokens.
template <int BlockValues, int BlockBytes, void (*Decode)(const uint8_t*, float*)>
struct block_source {
  static constexpr int block_values = BlockValues;
  const uint8_t* base;
  int64_t row_bytes;
  void decode(int64_t r, int64_t block, float* out) const { Decode(base + r * row_bytes + block * BlockBytes, out); }
};

// R weight rows from r0 times T token rows.
//   x: [T, x_stride]   y: [T, y_stride]
// Prefetch > 0 (F32 rows streamed from DRAM only): each step also asks for the cache line
// of row r0 + Prefetch that this step's column offset lands in, so the rows after this
// tile arrive while it computes (the arithmetic is unchanged).
template <class Ops, int R, int T, class Source, int Prefetch = 0>
inline void matmul_tile(const Source& w, int64_t r0, const float* x, int64_t x_stride, int k, float* y,
                        int64_t y_stride) {
  using vec = typename Ops::vec;
  vec acc[R][T];
#pragma GCC unroll 32
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 32
    for (int t = 0; t < T; ++t) acc[r][t] = Ops::zero();
  int i = 0;
  for (; i + Ops::width <= k; i += Ops::width) {
    if constexpr (Prefetch > 0)
#pragma GCC unroll 32
      for (int r = 0; r < R; ++r) __builtin_prefetch(w.address(r0 + Prefetch + r, i), 0, 0);
    vec xv[T];
#pragma GCC unroll 32
    for (int t = 0; t < T; ++t) xv[t] = Ops::load(x + t * x_stride + i);
#pragma GCC unroll 32
    for (int r = 0; r < R; ++r) {
      const vec wv = w.load(r0 + r, i);
#pragma GCC unroll 32
      for (int t = 0; t < T; ++t) acc[r][t] = Ops::fma(wv, xv[t], acc[r][t]);
    }
  }
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < T; ++t) {
      const float total = Ops::reduce(acc[r][t]);
      float tail = 0.0f;
      for (int j = i; j < k; ++j) tail = Ops::scalar_fma(w.scalar(r0 + r, j), x[t * x_stride + j], tail);
      y[t * y_stride + r0 + r] = total + tail;
    }
}

// R rows from r0 over `tokens` token rows: tiles of T, the remainder with T - 1, ...
template <class Ops, int R, int T, class Source, int Prefetch = 0>
void matmul_row_group(const Source& w, int64_t r0, const float* x, int64_t x_stride, int tokens, int k, float* y,
                      int64_t y_stride) {
  int t = 0;
  for (; t + T <= tokens; t += T)
    matmul_tile<Ops, R, T, Source, Prefetch>(w, r0, x + t * x_stride, x_stride, k, y + t * y_stride, y_stride);
  if constexpr (T > 1)
    if (t < tokens)
      matmul_row_group<Ops, R, T - 1, Source, Prefetch>(w, r0, x + t * x_stride, x_stride, tokens - t, k,
                                                        y + t * y_stride, y_stride);
}

// Rows [r0, r1) over all tokens. One token (decode at batch 1): one weight row at a
// time, every encoding, cached or not. A single sequential stream keeps the hardware
// prefetcher ahead (F32 classifier from DRAM: ~22 GB/s against ~10 GB/s with 8 rows
// interleaved), and out-of-order execution overlaps the next row's loads with this
// row's FMA chain and lane reduction. Measured on the 15M shape, one thread, load ~2.7,
// against 8 rows side by side: f32 decode at batch 1 ~175 -> ~220-240 tok/s, q8_0
// ~490 -> ~640 tok/s. Several tokens: a tile that reuses both loads.
// How far ahead (in rows) the products of F32 rows streamed from DRAM prefetch (15M shape,
// engine_bench, 1 thread, alternating runs on a loaded machine): decode at 8 and 16 tokens
// 1.07-1.10x of no prefetch, at 1 token 1.10-1.33x; 8 rows ahead, or tiles of 2-3 rows
// with prefetch, were no better than none.
constexpr int prefetch_rows = 4;

template <class Ops, class Source>
void matmul_rows_from(const Source& w, bool streamed, int64_t r0, int64_t r1, const float* x, int tokens, int k,
                      float* y, int64_t y_stride) {
  int64_t r = r0;
  if (tokens == 1) {
    if constexpr (Source::few_tokens > 0)  // F32 only: prefetching Q8_0 rows measured no gain
      if (streamed)
        for (; r + prefetch_rows < r1; ++r) matmul_tile<Ops, 1, 1, Source, prefetch_rows>(w, r, x, k, k, y, y_stride);
    for (; r < r1; ++r) matmul_tile<Ops, 1, 1>(w, r, x, k, k, y, y_stride);
    return;
  }
  if constexpr (Source::few_tokens > 0)
    if (streamed && tokens <= Source::few_tokens) {
      for (; r + prefetch_rows < r1; ++r)
        matmul_row_group<Ops, 1, Ops::tokens_row_stream, Source, prefetch_rows>(w, r, x, k, tokens, k, y, y_stride);
      for (; r < r1; ++r) matmul_row_group<Ops, 1, Ops::tokens_row_stream>(w, r, x, k, tokens, k, y, y_stride);
      return;
    }
  if constexpr (Source::few_tokens > 0)
    if (streamed)  // the next group of rows is prefetched while this one computes
      for (; r + 2 * Ops::rows_multi <= r1; r += Ops::rows_multi)
        matmul_row_group<Ops, Ops::rows_multi, Ops::tokens_multi, Source, Ops::rows_multi>(w, r, x, k, tokens, k, y,
                                                                                           y_stride);
  for (; r + Ops::rows_multi <= r1; r += Ops::rows_multi)
    matmul_row_group<Ops, Ops::rows_multi, Ops::tokens_multi>(w, r, x, k, tokens, k, y, y_stride);
  for (; r < r1; ++r) matmul_row_group<Ops, 1, Ops::tokens_multi>(w, r, x, k, tokens, k, y, y_stride);
}

// One block's columns [base, base + BV) of R decoded rows (buf) times T token rows,
// accumulated into acc[r * acc_stride + t] (kept in memory between blocks).
template <class Ops, int R, int T, int BV>
inline void block_tile(const float (*buf)[BV], const float* x, int64_t x_stride, int base, typename Ops::vec* acc,
                       int acc_stride) {
  using vec = typename Ops::vec;
  vec a[R][T];
#pragma GCC unroll 32
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 32
    for (int t = 0; t < T; ++t) a[r][t] = acc[r * acc_stride + t];
  for (int i = 0; i < BV; i += Ops::width) {
    vec xv[T];
#pragma GCC unroll 32
    for (int t = 0; t < T; ++t) xv[t] = Ops::load(x + t * x_stride + base + i);
#pragma GCC unroll 32
    for (int r = 0; r < R; ++r) {
      const vec wv = Ops::load(buf[r] + i);
#pragma GCC unroll 32
      for (int t = 0; t < T; ++t) a[r][t] = Ops::fma(wv, xv[t], a[r][t]);
    }
  }
#pragma GCC unroll 32
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 32
    for (int t = 0; t < T; ++t) acc[r * acc_stride + t] = a[r][t];
}

// The tokens [0, tokens) of one block in tiles of T, the remainder with T - 1, ...
template <class Ops, int R, int T, int BV>
inline void block_tokens(const float (*buf)[BV], const float* x, int64_t x_stride, int tokens, int base,
                         typename Ops::vec* acc, int acc_stride) {
  int t = 0;
  for (; t + T <= tokens; t += T) block_tile<Ops, R, T, BV>(buf, x + t * x_stride, x_stride, base, acc + t, acc_stride);
  if constexpr (T > 1)
    if (t < tokens)
      block_tokens<Ops, R, T - 1, BV>(buf, x + t * x_stride, x_stride, tokens - t, base, acc + t, acc_stride);
}

// R rows from r0 of a block format over `tokens` token rows (at most block_token_chunk).
// Every output is the f32 path's chain over the decoded values, in the same order:
// acc = fma(w[i..], x[i..], acc) for i = 0, width, ... (k is a whole number of blocks,
// and a block a whole number of vectors), then the same lane tree and "+ 0" tail. So a
// block-format matrix gives exactly the bits of an f32 matrix holding its decoded values.
constexpr int block_token_chunk = 32;

template <class Ops, int R, class Source>
void block_row_group(const Source& w, int64_t r0, const float* x, int tokens, int k, float* y, int64_t y_stride) {
  using vec = typename Ops::vec;
  constexpr int BV = Source::block_values;
  static_assert(BV % Ops::width == 0, "a vector never straddles two blocks");
  alignas(64) float buf[R][BV];
  vec acc[R * block_token_chunk];
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < tokens; ++t) acc[r * block_token_chunk + t] = Ops::zero();
  for (int b = 0; b < k / BV; ++b) {
    for (int r = 0; r < R; ++r) w.decode(r0 + r, b, buf[r]);
    if (tokens == 1)
      block_tile<Ops, R, 1, BV>(buf, x, k, b * BV, acc, block_token_chunk);
    else
      block_tokens<Ops, R, Ops::tokens_multi, BV>(buf, x, k, tokens, b * BV, acc, block_token_chunk);
  }
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < tokens; ++t) {
      const float total = Ops::reduce(acc[r * block_token_chunk + t]);
      const float tail = 0.0f;
      y[t * y_stride + r0 + r] = total + tail;
    }
}

// Rows [r0, r1) of a block format: groups of rows_multi rows, even for one token (the
// rows' FMA chains then overlap: the one-row chain waited on FMA latency), tokens in
// chunks of block_token_chunk.
template <class Ops, class Source>
void matmul_rows_blocked(const Source& w, int64_t r0, int64_t r1, const float* x, int tokens, int k, float* y,
                         int64_t y_stride) {
  for (int t0 = 0; t0 < tokens; t0 += block_token_chunk) {
    const int n = tokens - t0 < block_token_chunk ? tokens - t0 : block_token_chunk;
    const float* xs = x + static_cast<int64_t>(t0) * k;
    float* ys = y + static_cast<int64_t>(t0) * y_stride;
    int64_t r = r0;
    for (; r + Ops::rows_multi <= r1; r += Ops::rows_multi)
      block_row_group<Ops, Ops::rows_multi>(w, r, xs, n, k, ys, y_stride);
    for (; r < r1; ++r) block_row_group<Ops, 1>(w, r, xs, n, k, ys, y_stride);
  }
}

template <int BV, int BB, void (*Decode)(const uint8_t*, float*)>
block_source<BV, BB, Decode> blocks_of(const raw_weight_rows& w) {
  return {w.data, w.row_bytes};
}

template <class Ops>
void matmul_rows_with(const raw_weight_rows& w, int64_t r0, int64_t r1, const float* x, int tokens, float* y,
                      int64_t y_stride) {
  const int k = static_cast<int>(w.cols);
  switch (w.encoding) {
    case weight_encoding::f32:
      matmul_rows_from<Ops>(f32_source<Ops>{reinterpret_cast<const float*>(w.data), w.cols}, w.streamed, r0, r1, x,
                            tokens, k, y, y_stride);
      return;
    case weight_encoding::f16:
      matmul_rows_from<Ops>(f16_source<Ops>{reinterpret_cast<const uint16_t*>(w.data), w.cols}, w.streamed, r0, r1, x,
                            tokens, k, y, y_stride);
      return;
    case weight_encoding::bf16:
      matmul_rows_from<Ops>(bf16_source<Ops>{reinterpret_cast<const uint16_t*>(w.data), w.cols}, w.streamed, r0, r1, x,
                            tokens, k, y, y_stride);
      return;
    case weight_encoding::q8_0:
      matmul_rows_from<Ops>(q8_0_source<Ops>{w.data, w.row_bytes}, w.streamed, r0, r1, x, tokens, k, y, y_stride);
      return;
    case weight_encoding::q4_0:
      return matmul_rows_blocked<Ops>(blocks_of<32, 18, Ops::decode_q4_0>(w), r0, r1, x, tokens, k, y, y_stride);
    case weight_encoding::q4_1:
      return matmul_rows_blocked<Ops>(blocks_of<32, 20, Ops::decode_q4_1>(w), r0, r1, x, tokens, k, y, y_stride);
    case weight_encoding::q5_0:
      return matmul_rows_blocked<Ops>(blocks_of<32, 22, Ops::decode_q5_0>(w), r0, r1, x, tokens, k, y, y_stride);
    case weight_encoding::q5_1:
      return matmul_rows_blocked<Ops>(blocks_of<32, 24, Ops::decode_q5_1>(w), r0, r1, x, tokens, k, y, y_stride);
    case weight_encoding::iq4_nl:
      return matmul_rows_blocked<Ops>(blocks_of<32, 18, Ops::decode_iq4_nl>(w), r0, r1, x, tokens, k, y, y_stride);
    case weight_encoding::q2_k:
      return matmul_rows_blocked<Ops>(blocks_of<256, 84, Ops::decode_q2_K>(w), r0, r1, x, tokens, k, y, y_stride);
    case weight_encoding::q3_k:
      return matmul_rows_blocked<Ops>(blocks_of<256, 110, Ops::decode_q3_K>(w), r0, r1, x, tokens, k, y, y_stride);
    case weight_encoding::q4_k:
      return matmul_rows_blocked<Ops>(blocks_of<256, 144, Ops::decode_q4_K>(w), r0, r1, x, tokens, k, y, y_stride);
    case weight_encoding::q5_k:
      return matmul_rows_blocked<Ops>(blocks_of<256, 176, Ops::decode_q5_K>(w), r0, r1, x, tokens, k, y, y_stride);
    case weight_encoding::q6_k:
      return matmul_rows_blocked<Ops>(blocks_of<256, 210, Ops::decode_q6_K>(w), r0, r1, x, tokens, k, y, y_stride);
  }
}

}  // namespace
}  // namespace kvactor
