// Kernel speed per weight type: one thread, y = W x for a [rows, 2048] matrix in each
// type at 1 and 8 tokens, on the ISA the process chose (KVACTOR_CPU_ISA overrides).
// Prints GB/s of weight bytes read and tokens/s (the fastest of the products run in ~0.3 s).
// Q8_0, Q4_K, Q5_K and Q6_K are measured twice: with F32 input (q8_0_activations f32) and
// "int8", the default integer product (Q8_0 or Q8_K activations), its input's quantization
// included in the time.
//   quant_bench [--types q4_k,q6_k] [--seconds 0.3]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <sstream>
#include <string>
#include <vector>

#include "bench/machine_description.hpp"
#include "device/cpu_isa.hpp"
#include "device/cpu_matmul.hpp"
#include "model/quantization.hpp"
#include "model/weight_types.hpp"

using namespace kvactor;

namespace {

weight_matrix random_matrix(int64_t rows, int64_t cols, dtype t) {
  weight_matrix m;
  m.rows = rows;
  m.cols = cols;
  std::vector<float> v(static_cast<std::size_t>(rows * cols));
  uint64_t s = 12345;
  for (float& x : v) {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    x = static_cast<float>(static_cast<double>(s >> 11) / 9007199254740992.0 - 0.5) * 0.1f;
  }
  m.data.resize(v.size() * 4);
  std::memcpy(m.data.data(), v.data(), m.data.size());
  return t == dtype::f32 ? m : convert(m, t);
}

}  // namespace

int main(int argc, char** argv) {
  std::string types = "f32,f16,bf16,q8_0,q4_0,q4_1,q5_0,q5_1,iq4_nl,q2_k,q3_k,q4_k,q5_k,q6_k";
  double seconds = 0.3;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::string(argv[i]) == "--types")
      types = argv[i + 1];
    else if (std::string(argv[i]) == "--seconds")
      seconds = std::stod(argv[i + 1]);
  }
  std::printf("# quant_bench: %s, ISA %s, load %s, one thread\n", bench::cpu_model_name().c_str(),
              cpu_isa_name(cpu_isa_in_use()), bench::load_average().c_str());
  std::printf(
      "| type | matrix | tokens | MB | ms/product | GB/s weights | tokens/s |\n| --- | --- | --- | --- | --- | --- | "
      "--- |\n");
  std::stringstream list(types);
  std::string name;
  while (std::getline(list, name, ',')) {
    const weight_type_info* info = find_weight_type(name);
    if (!info) {
      std::fprintf(stderr, "unknown type %s\n", name.c_str());
      return 2;
    }
    for (int64_t rows : {2048, 5632, 32000}) {
      const weight_matrix w = random_matrix(rows, 2048, info->type);
      for (int tokens : {1, 8}) {
        std::vector<float> x(static_cast<std::size_t>(tokens) * 2048, 0.01f),
            y(static_cast<std::size_t>(tokens * rows));
        q8_activations quantized;
        q8k_activations quantized_k;
        const bool kquant = kquant_integer_type(info->type);
        const auto product = [&](bool integer) {
          if (!integer) return matmul_rows(w, 0, rows, x.data(), tokens, y.data(), rows);
          if (kquant) {
            quantized_k.resize(tokens, 2048);
            quantized_k.quantize(x.data(), 0, tokens);
            return matmul_rows_kquant(w, 0, rows, quantized_k, 0, tokens, y.data(), rows);
          }
          quantized.resize(tokens, 2048);
          quantized.quantize(x.data(), 0, tokens);
          matmul_rows_q8(w, 0, rows, quantized, 0, tokens, y.data(), rows);
        };
        for (bool integer : {false, true}) {
          if (integer && info->type != dtype::q8_0 && !kquant) continue;
          product(integer);  // warm
          // The fastest of the repetitions: on a shared machine the mean mostly measures
          // the other tenants.
          const auto t0 = std::chrono::steady_clock::now();
          double per = 1e9;
          while (std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() < seconds) {
            const auto a = std::chrono::steady_clock::now();
            product(integer);
            per = std::min(per, std::chrono::duration<double>(std::chrono::steady_clock::now() - a).count());
          }
          std::printf("| %s%s | %lldx2048 | %d | %.1f | %.3f | %.2f | %.0f |\n", info->name, integer ? " int8" : "",
                      static_cast<long long>(rows), tokens, static_cast<double>(w.byte_size()) / 1e6, per * 1e3,
                      static_cast<double>(w.byte_size()) / per / 1e9, tokens / per);
        }
        std::fflush(stdout);
      }
    }
  }
  return 0;
}
