// Launchers for the per-row kernels: shape checks, grid sizes and the
// runtime-to-template dispatch (weight dtype, token tile).
#include <string>
#include <vector>

#include "device/hip/argmax_kernels.hip"
#include "device/hip/device_memory.hpp"
#include "device/hip/elementwise_kernels.hip"
#include "device/hip/embedding_kernels.hip"
#include "device/hip/kernel_launchers.hpp"
#include "device/hip/matmul_kernels.hip"
#include "device/hip/norm_kernels.hip"

namespace kvactor::hip {

namespace {

hipStream_t as_stream(gpu_stream s) { return static_cast<hipStream_t>(s); }

std::string shape_text(const device_matrix& w) {
  return std::string(dtype_name(w.type)) + " [" + std::to_string(w.rows) + ", " + std::to_string(w.cols) + "]";
}

void check_launch(const char* kernel) {
  const hipError_t status = hipGetLastError();
  if (status != hipSuccess) throw_gpu_error(status, kernel, __FILE__, __LINE__);
}

constexpr int row_threads = 256;     // rmsnorm, gather, argmax, kv write
constexpr int matmul_threads = 256;  // warps of one matmul block, one weight row each
constexpr int elementwise_threads = 256;

unsigned elementwise_blocks(int64_t count) {
  const int64_t blocks = (count + elementwise_threads - 1) / elementwise_threads;
  return static_cast<unsigned>(blocks < 65536 ? blocks : 65536);  // grid-stride loops cover the rest
}

template <weight_kind K>
void embedding_gather_as(const device_matrix& table, const int32_t* tokens, int n_rows, float* out, hipStream_t s) {
  launch_kernel(embedding_gather_kernel<K>, dim3(static_cast<unsigned>(n_rows)), dim3(row_threads), s,
                static_cast<const uint8_t*>(table.data), tokens, static_cast<int>(table.cols), out);
}

template <weight_kind K, int Tile, int Rows>
void matmul_tiled(const device_matrix& w, const float* x, int n_rows, float* y, hipStream_t s) {
  const int rows_per_block = matmul_threads / device_warp_size() * Rows;
  const dim3 grid(static_cast<unsigned>((n_rows + Tile - 1) / Tile),
                  static_cast<unsigned>((w.rows + rows_per_block - 1) / rows_per_block));
  launch_kernel(matmul_kernel<K, Tile, Rows>, grid, dim3(matmul_threads), s, static_cast<const uint8_t*>(w.data),
                w.rows, w.cols, x, n_rows, y);
}

// Every tile shape matmul_with offers, instantiated for every weight kind.
#define KVACTOR_MATMUL_SHAPES(X) X(1, 1) X(4, 1) X(16, 1) X(16, 2) X(16, 4) X(8, 4) X(32, 2)

template <weight_kind K>
void matmul_as(matmul_shape shape, const device_matrix& w, const float* x, int n_rows, float* y, hipStream_t s) {
#define KVACTOR_MATMUL_CASE(T, R)                  \
  if (shape.tokens == (T) && shape.rows == (R)) {  \
    matmul_tiled<K, (T), (R)>(w, x, n_rows, y, s); \
    return;                                        \
  }
  KVACTOR_MATMUL_SHAPES(KVACTOR_MATMUL_CASE)
#undef KVACTOR_MATMUL_CASE
  throw backend_error("matmul: no kernel for a tile of " + std::to_string(shape.tokens) + " tokens x " +
                      std::to_string(shape.rows) + " rows per warp");
}

void check_matrix(const device_matrix& w, const char* what) {
  if (w.type != dtype::f32 && w.type != dtype::f16 && w.type != dtype::q8_0)
    throw backend_error(std::string(what) + ": unsupported weight type id " +
                        std::to_string(static_cast<uint32_t>(w.type)) + " (GPU kernels support f32, f16, q8_0)");
  if (w.rows <= 0 || w.cols <= 0 || w.cols % 4 != 0)
    throw backend_error(std::string(what) + ": weight " + shape_text(w) +
                        " unsupported: the GPU kernels need a positive shape with cols % 4 == 0");
  if (w.type == dtype::q8_0 && w.cols % 32 != 0)
    throw backend_error(std::string(what) + ": q8_0 weight " + shape_text(w) + " needs cols % 32 == 0");
}

}  // namespace

void embedding_gather(const device_matrix& table, const int32_t* tokens, int n_rows, float* out, gpu_stream stream) {
  check_matrix(table, "embedding_gather");
  if (n_rows <= 0) return;
  switch (table.type) {
    case dtype::f32: embedding_gather_as<weight_kind::f32>(table, tokens, n_rows, out, as_stream(stream)); break;
    case dtype::f16: embedding_gather_as<weight_kind::f16>(table, tokens, n_rows, out, as_stream(stream)); break;
    case dtype::q8_0: embedding_gather_as<weight_kind::q8_0>(table, tokens, n_rows, out, as_stream(stream)); break;
    default:
      throw backend_error(std::string("embedding_gather: weight type ") + dtype_name(table.type) +
                          " has no GPU kernel");
  }
  check_launch("embedding_gather_kernel");
}

void rmsnorm(const float* x, const int32_t* row_index, int n_rows, int dim, const float* weight, float eps, float* out,
             gpu_stream stream) {
  if (dim <= 0) throw backend_error("rmsnorm: dim " + std::to_string(dim) + " must be positive");
  if (n_rows <= 0) return;
  launch_kernel(rmsnorm_kernel, dim3(static_cast<unsigned>(n_rows)), dim3(row_threads), as_stream(stream), x, row_index,
                dim, weight, eps, out);
  check_launch("rmsnorm_kernel");
}

void rope(float* vec, const int32_t* positions, int n_rows, int n_heads, int head_dim, const float* table,
          gpu_stream stream) {
  if (head_dim <= 0 || head_dim % 2 != 0 || n_heads <= 0)
    throw backend_error("rope: " + std::to_string(n_heads) + " heads of head_dim " + std::to_string(head_dim) +
                        " unsupported (need positive heads and an even head_dim)");
  const int64_t pairs = static_cast<int64_t>(n_rows) * n_heads * (head_dim / 2);
  if (pairs <= 0) return;
  const auto blocks = static_cast<unsigned>((pairs + elementwise_threads - 1) / elementwise_threads);
  launch_kernel(rope_kernel, dim3(blocks), dim3(elementwise_threads), as_stream(stream), vec, positions, pairs, n_heads,
                head_dim, table);
  check_launch("rope_kernel");
}

std::vector<matmul_shape> matmul_shapes() {
  std::vector<matmul_shape> shapes;
#define KVACTOR_MATMUL_LIST(T, R) shapes.push_back({(T), (R)});
  KVACTOR_MATMUL_SHAPES(KVACTOR_MATMUL_LIST)
#undef KVACTOR_MATMUL_LIST
  return shapes;
}

matmul_shape matmul_shape_for(int n_rows) {
  // Measured on an H200 (bench/matmul_bench, bench/results/hip.md): one weight row
  // per warp is fastest at every token count. Several rows per warp share the
  // activation loads but need ~150+ registers, and the fewer, fatter warps lose
  // more than the shared loads gain (1.3-1.6x slower at 16-1024 tokens, and far
  // too few blocks for small matrices at 5-16 tokens).
  if (n_rows == 1) return {1, 1};
  if (n_rows <= 4) return {4, 1};
  return {16, 1};
}

void matmul_with(matmul_shape shape, const device_matrix& w, const float* x, int n_rows, float* y, gpu_stream stream) {
  check_matrix(w, "matmul");
  const int rows_per_block = matmul_threads / device_warp_size();  // one row per warp: the most blocks
  if ((w.rows + rows_per_block - 1) / rows_per_block > 65535)
    throw backend_error("matmul: weight " + shape_text(w) + " has more rows than one launch covers (" +
                        std::to_string(65535 * static_cast<int64_t>(rows_per_block)) + ")");
  if (n_rows <= 0) return;
  switch (w.type) {
    case dtype::f32: matmul_as<weight_kind::f32>(shape, w, x, n_rows, y, as_stream(stream)); break;
    case dtype::f16: matmul_as<weight_kind::f16>(shape, w, x, n_rows, y, as_stream(stream)); break;
    case dtype::q8_0: matmul_as<weight_kind::q8_0>(shape, w, x, n_rows, y, as_stream(stream)); break;
    default: throw backend_error(std::string("matmul: weight type ") + dtype_name(w.type) + " has no GPU kernel");
  }
  check_launch("matmul_kernel");
}

void matmul(const device_matrix& w, const float* x, int n_rows, float* y, gpu_stream stream) {
  matmul_with(matmul_shape_for(n_rows), w, x, n_rows, y, stream);
}

void swiglu(float* gate, const float* up, int64_t count, gpu_stream stream) {
  if (count <= 0) return;
  launch_kernel(swiglu_kernel, dim3(elementwise_blocks(count)), dim3(elementwise_threads), as_stream(stream), gate, up,
                count);
  check_launch("swiglu_kernel");
}

void residual_add(float* x, const float* delta, int64_t count, gpu_stream stream) {
  if (count <= 0) return;
  launch_kernel(residual_add_kernel, dim3(elementwise_blocks(count)), dim3(elementwise_threads), as_stream(stream), x,
                delta, count);
  check_launch("residual_add_kernel");
}

void argmax(const float* logits, int n_rows, int vocab, int32_t* out, gpu_stream stream) {
  if (vocab <= 0) throw backend_error("argmax: vocab " + std::to_string(vocab) + " must be positive");
  if (n_rows <= 0) return;
  launch_kernel(argmax_kernel, dim3(static_cast<unsigned>(n_rows)), dim3(row_threads), as_stream(stream), logits, vocab,
                out);
  check_launch("argmax_kernel");
}

}  // namespace kvactor::hip
