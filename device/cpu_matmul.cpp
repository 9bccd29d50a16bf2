#include "device/cpu_matmul.hpp"

#include "device/backend.hpp"
#include "device/cpu_matmul_kernels.hpp"

#include <string>

namespace kvactor {

namespace {

raw_weight_rows raw_rows(const weight_matrix& w) {
  weight_encoding encoding = weight_encoding::f32;
  if (w.type == dtype::f16) encoding = weight_encoding::f16;
  else if (w.type == dtype::q8_0) encoding = weight_encoding::q8_0;
  else if (w.type != dtype::f32)
    throw backend_error("matmul: unsupported weight type id " + std::to_string(static_cast<uint32_t>(w.type)));
  // 8 MiB: beyond a core's L2 and a quarter of the shared L3 on the machines measured.
  const int64_t bytes = static_cast<int64_t>(row_bytes(w.type, w.cols));
  return {encoding, w.bytes(), w.cols, bytes, w.rows * bytes > (int64_t{8} << 20)};
}

void run_matmul(cpu_isa isa, const weight_matrix& w, int64_t r0, int64_t r1, const float* x, int tokens, float* y,
                int64_t y_stride) {
  if (r0 >= r1 || tokens <= 0) return;
  const raw_weight_rows rows = raw_rows(w);
  switch (isa) {
    case cpu_isa::avx512:
      matmul_rows_avx512(rows, r0, r1, x, tokens, y, y_stride);
      return;
    case cpu_isa::avx2:
      matmul_rows_avx2(rows, r0, r1, x, tokens, y, y_stride);
      return;
    case cpu_isa::portable:
      matmul_rows_portable(rows, r0, r1, x, tokens, y, y_stride);
      return;
  }
}

}  // namespace

void matmul_rows(cpu_isa isa, const weight_matrix& w, int64_t r0, int64_t r1, const float* x, int tokens, float* y,
                 int64_t y_stride) {
  if (!cpu_supports(isa)) throw backend_error(std::string("matmul: this CPU does not support ") + cpu_isa_name(isa));
  run_matmul(isa, w, r0, r1, x, tokens, y, y_stride);
}

void matmul_rows(const weight_matrix& w, int64_t r0, int64_t r1, const float* x, int tokens, float* y,
                 int64_t y_stride) {
  run_matmul(cpu_isa_in_use(), w, r0, r1, x, tokens, y, y_stride);
}

}  // namespace kvactor
