#include "device/cpu_matmul.hpp"

#include "device/backend.hpp"
#include "device/cpu_matmul_kernels.hpp"
#include "model/weight_types.hpp"

#include <string>

namespace kvactor {

namespace {

weight_encoding encoding_of(dtype t) {
  switch (t) {
    case dtype::f32: return weight_encoding::f32;
    case dtype::f16: return weight_encoding::f16;
    case dtype::bf16: return weight_encoding::bf16;
    case dtype::q8_0: return weight_encoding::q8_0;
    case dtype::q4_0: return weight_encoding::q4_0;
    case dtype::q4_1: return weight_encoding::q4_1;
    case dtype::q5_0: return weight_encoding::q5_0;
    case dtype::q5_1: return weight_encoding::q5_1;
    case dtype::iq4_nl: return weight_encoding::iq4_nl;
    case dtype::q2_k: return weight_encoding::q2_k;
    case dtype::q3_k: return weight_encoding::q3_k;
    case dtype::q4_k: return weight_encoding::q4_k;
    case dtype::q5_k: return weight_encoding::q5_k;
    case dtype::q6_k: return weight_encoding::q6_k;
    case dtype::q8_1:
    case dtype::q8_k: break;
  }
  throw backend_error(std::string("matmul: unsupported weight type ") + dtype_name(t) + " (id " +
                      std::to_string(static_cast<uint32_t>(t)) + ")");
}

raw_weight_rows raw_rows(const weight_matrix& w) {
  const weight_encoding encoding = encoding_of(w.type);
  const weight_type_info* info = find_weight_type(w.type);
  if (w.cols % info->block_values != 0)
    throw backend_error(std::string("matmul: a ") + info->name + " row of " + std::to_string(w.cols) +
                        " values is not a whole number of " + std::to_string(info->block_values) + "-value blocks");
  // 8 MiB: beyond a core's L2 and a quarter of the shared L3 on the machines measured.
  const int64_t bytes = static_cast<int64_t>(row_bytes(w.type, w.cols));
  return {encoding, w.bytes(), w.cols, bytes, w.rows * bytes > (int64_t{8} << 20)};
}

void run_matmul(cpu_isa isa, const weight_matrix& w, int64_t r0, int64_t r1, const float* x, int tokens, float* y,
                int64_t y_stride) {
  if (r0 >= r1 || tokens <= 0) return;
  const raw_weight_rows rows = raw_rows(w);
  switch (isa) {
    case cpu_isa::avx512: matmul_rows_avx512(rows, r0, r1, x, tokens, y, y_stride); return;
    case cpu_isa::avx2: matmul_rows_avx2(rows, r0, r1, x, tokens, y, y_stride); return;
    case cpu_isa::portable: matmul_rows_portable(rows, r0, r1, x, tokens, y, y_stride); return;
  }
}

// The checks of an integer product: the ISA runs here, and token rows [t0, t0 + tokens) of
// a quantized input of `input_tokens` x `cols` (`kind` names it) fit the weight rows.
void check_quantized_input(cpu_isa isa, const char* kind, int input_tokens, int64_t cols, const weight_matrix& w,
                           int t0, int tokens) {
  if (!cpu_supports(isa)) throw backend_error(std::string("matmul: this CPU does not support ") + cpu_isa_name(isa));
  if (cols != w.cols || t0 < 0 || t0 + tokens > input_tokens)
    throw backend_error(std::string("matmul: ") + kind + " input of " + std::to_string(input_tokens) + " x " +
                        std::to_string(cols) + " does not fit rows of " + std::to_string(w.cols) + " and tokens [" +
                        std::to_string(t0) + ", " + std::to_string(t0 + tokens) + ")");
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

bool cpu_has_vnni() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  return cpu_supports(cpu_isa::avx512) && __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni");
#else
  return false;
#endif
}

void matmul_rows_q8(cpu_isa isa, const weight_matrix& w, int64_t r0, int64_t r1, const q8_activations& x, int t0,
                    int tokens, float* y, int64_t y_stride, bool from_dram) {
  if (w.type != dtype::q8_0)
    throw backend_error(std::string("matmul: integer product of ") + dtype_name(w.type) + " rows");
  const q8_rows_view v = x.view();
  check_quantized_input(isa, "quantized", v.tokens, v.cols, w, t0, tokens);
  if (r0 >= r1 || tokens <= 0) return;
  raw_weight_rows rows = raw_rows(w);
  rows.streamed = from_dram;  // the integer kernels' meaning of streamed (cpu_matmul_q8_tile.hpp)
  static const bool vnni = cpu_has_vnni();
  switch (isa) {
    case cpu_isa::avx512:
      if (vnni) return matmul_q8_vnni(rows, r0, r1, v, t0, tokens, y, y_stride);
      return matmul_q8_avx2(rows, r0, r1, v, t0, tokens, y, y_stride);
    case cpu_isa::avx2: return matmul_q8_avx2(rows, r0, r1, v, t0, tokens, y, y_stride);
    case cpu_isa::portable: return matmul_q8_portable(rows, r0, r1, v, t0, tokens, y, y_stride);
  }
}

void matmul_rows_q8(const weight_matrix& w, int64_t r0, int64_t r1, const q8_activations& x, int t0, int tokens,
                    float* y, int64_t y_stride, bool from_dram) {
  matmul_rows_q8(cpu_isa_in_use(), w, r0, r1, x, t0, tokens, y, y_stride, from_dram);
}

bool kquant_integer_type(dtype t) { return t == dtype::q4_k || t == dtype::q5_k || t == dtype::q6_k; }

void matmul_rows_kquant(cpu_isa isa, const weight_matrix& w, int64_t r0, int64_t r1, const q8k_activations& x, int t0,
                        int tokens, float* y, int64_t y_stride) {
  if (!kquant_integer_type(w.type))
    throw backend_error(std::string("matmul: Q8_K integer product of ") + dtype_name(w.type) + " rows");
  const q8k_rows_view v = x.view();
  check_quantized_input(isa, "Q8_K", v.tokens, v.cols, w, t0, tokens);
  if (r0 >= r1 || tokens <= 0) return;
  const raw_weight_rows rows = raw_rows(w);
  if (isa == cpu_isa::portable) return matmul_kquant_portable(rows, r0, r1, v, t0, tokens, y, y_stride);
  matmul_kquant_avx2(rows, r0, r1, v, t0, tokens, y, y_stride);  // AVX-512 machines run the AVX2 kernel
}

void matmul_rows_kquant(const weight_matrix& w, int64_t r0, int64_t r1, const q8k_activations& x, int t0, int tokens,
                        float* y, int64_t y_stride) {
  matmul_rows_kquant(cpu_isa_in_use(), w, r0, r1, x, t0, tokens, y, y_stride);
}

}  // namespace kvactor
