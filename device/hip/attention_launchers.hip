// Launchers for the KV page write and paged attention: shape checks and grids.
#include <string>

#include "device/hip/attention_kernels.hip"
#include "device/hip/kernel_launchers.hpp"
#include "device/hip/kv_write_kernels.hip"

namespace kvactor::hip {

namespace {

hipStream_t as_stream(gpu_stream s) { return static_cast<hipStream_t>(s); }

void check_launch(const char* kernel) {
  const hipError_t status = hipGetLastError();
  if (status != hipSuccess) throw_gpu_error(status, kernel, __FILE__, __LINE__);
}

std::string head_text(int n_heads, const device_kv_layer& layer) {
  return std::to_string(n_heads) + " heads, " + std::to_string(layer.n_kv_heads) + " kv heads, head_dim " +
         std::to_string(layer.head_dim);
}

}  // namespace

int attention_chunk_keys() { return attention_keys_per_chunk; }

int64_t attention_scratch_floats(int n_work, int n_heads, int head_dim) {
  return static_cast<int64_t>(n_work) * n_heads * (head_dim + 2);
}

void kv_write(const device_kv_layer& layer, const float* k, const float* v, const int32_t* row_page,
              const int32_t* row_slot, int n_rows, gpu_stream stream) {
  if (layer.n_kv_heads <= 0 || layer.head_dim <= 0 || layer.page_size <= 0)
    throw backend_error("kv_write: unsupported layer shape (kv heads " + std::to_string(layer.n_kv_heads) +
                        ", head_dim " + std::to_string(layer.head_dim) + ", page_size " +
                        std::to_string(layer.page_size) + ")");
  if (n_rows <= 0) return;
  launch_kernel(kv_write_kernel, dim3(static_cast<unsigned>(n_rows)), dim3(128), as_stream(stream), layer.data, k, v,
                row_page, row_slot, layer.n_kv_heads, layer.page_size, layer.head_dim);
  check_launch("kv_write_kernel");
}

void paged_attention(const device_kv_layer& layer, const float* q, int n_heads, const device_attention_rows& rows,
                     float* scratch, float* out, gpu_stream stream) {
  const int hd = layer.head_dim;
  if (layer.n_kv_heads <= 0 || n_heads <= 0 || n_heads % layer.n_kv_heads != 0)
    throw backend_error("paged_attention: " + head_text(n_heads, layer) + " unsupported (heads % kv heads != 0)");
  if (n_heads / layer.n_kv_heads > attention_max_group)
    throw backend_error("paged_attention: " + head_text(n_heads, layer) + " unsupported: at most " +
                        std::to_string(attention_max_group) + " query heads per kv head");
  if (hd <= 0 || hd % 4 != 0 || hd > attention_max_head_dim)
    throw backend_error("paged_attention: " + head_text(n_heads, layer) +
                        " unsupported: head_dim must be a multiple of 4 and at most " +
                        std::to_string(attention_max_head_dim));
  if (layer.n_kv_heads > 65535)
    throw backend_error("paged_attention: " + head_text(n_heads, layer) + " unsupported: too many kv heads");
  if (rows.n_rows <= 0) return;
  const attention_rows where{rows.row_pos,  rows.row_table,  rows.block_tables,
                             rows.work_row, rows.work_chunk, rows.row_first_work};
  const attention_heads shape{n_heads, layer.n_kv_heads, hd, layer.page_size};
  float* partial_out = scratch;
  float* partial_max = partial_out + static_cast<int64_t>(rows.n_work) * n_heads * hd;
  float* partial_sum = partial_max + static_cast<int64_t>(rows.n_work) * n_heads;
  launch_kernel(
      paged_attention_chunk_kernel, dim3(static_cast<unsigned>(rows.n_work), static_cast<unsigned>(layer.n_kv_heads)),
      dim3(attention_threads), as_stream(stream), layer.data, q, where, shape, partial_out, partial_max, partial_sum);
  check_launch("paged_attention_chunk_kernel");
  launch_kernel(paged_attention_combine_kernel,
                dim3(static_cast<unsigned>(rows.n_rows), static_cast<unsigned>(n_heads)), dim3(64), as_stream(stream),
                partial_out, partial_max, partial_sum, rows.row_first_work, n_heads, hd, out);
  check_launch("paged_attention_combine_kernel");
}

}  // namespace kvactor::hip
