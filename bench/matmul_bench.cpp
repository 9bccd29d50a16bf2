// The GPU matmul kernel's tile shapes on the projections of a ~1B model (f16
// weights, TinyLlama's w1 [5632, 2048] and w2 [2048, 5632]) at several token
// counts: time per call, arithmetic rate, weight bytes per second, and whether
// every shape gave the same bits as matmul()'s own choice (it must). Prints Markdown.
//
//   matmul_bench [--tokens 1,4,16,64,256,1024] [--iterations 20] [--dtype f32|f16|q8_0]
//
// Exits 77 with a "no GPU" message when no GPU is usable.
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "bench/gpu_bench_common.hpp"
#include "device/hip/hip_backend.hpp"
#include "device/hip/kernel_launchers.hpp"
#include "tests/device/random_weights.hpp"

namespace {

using namespace kvactor;

struct weight_case {
  const char* name;
  int rows, cols;
};

}  // namespace

int main(int argc, char** argv) {
  std::vector<int> tokens{1, 4, 16, 64, 256, 1024};
  int iterations = 20;
  dtype type = dtype::f16;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--help" || flag == "-h") {
      std::printf("usage: matmul_bench [--tokens 1,4,16,64,256,1024] [--iterations 20] [--dtype f32|f16|q8_0]\n");
      return 0;
    }
    if (i + 1 >= argc) {
      std::fprintf(stderr, "matmul_bench: unknown or incomplete argument '%s'\n", flag.c_str());
      return 2;
    }
    const std::string value = argv[++i];
    if (flag == "--tokens") {
      tokens = bench::parse_int_list("matmul_bench", flag, value);
    } else if (flag == "--iterations") {
      iterations = bench::parse_positive_int("matmul_bench", flag, value);
    } else if (flag == "--dtype") {
      if (value == "f32")
        type = dtype::f32;
      else if (value == "f16")
        type = dtype::f16;
      else if (value == "q8_0")
        type = dtype::q8_0;
      else {
        std::fprintf(stderr, "matmul_bench: --dtype must be f32, f16 or q8_0, got '%s'\n", value.c_str());
        return 2;
      }
    } else {
      std::fprintf(stderr, "matmul_bench: unknown argument '%s'\n", flag.c_str());
      return 2;
    }
  }
  const hip::gpu_probe probe = bench::require_gpu_or_exit("matmul_bench");
  try {
    std::printf(
        "## GPU matmul tile shapes\n\n- Device: %s; kernels built for %s\n- %s weights; mean of %d calls "
        "after 3 warm-ups; (T, R) = T tokens per block, R weight rows per warp; * = matmul()'s choice; "
        "'same bits' compares every shape's output with that choice's\n\n",
        probe.description.c_str(), hip_build_target(), dtype_name(type), iterations);
    std::printf(
        "| weight | tokens | shape | us per call | TFLOP/s | weight GB/s | same bits |\n"
        "| --- | ---: | --- | ---: | ---: | ---: | --- |\n");
    const weight_case cases[] = {{"w1 [5632, 2048]", 5632, 2048}, {"w2 [2048, 5632]", 2048, 5632}};
    int max_tokens = 1;
    for (int n : tokens) max_tokens = std::max(max_tokens, n);
    for (const weight_case& c : cases) {
      testing::weight_rng rng(5);
      const weight_matrix w = testing::random_matrix(rng, c.rows, c.cols, 0.05f, type);
      hip::device_buffer d_w(w.data.size(), "matmul weights");
      d_w.upload(w.data.data(), w.data.size());
      const hip::device_matrix dw{type, c.rows, c.cols, d_w.data()};
      std::vector<float> x(static_cast<std::size_t>(max_tokens) * c.cols);
      for (float& v : x) v = rng.next();
      hip::device_buffer d_x(x.size() * sizeof(float), "activations");
      d_x.upload(x.data(), x.size() * sizeof(float));
      const std::size_t y_floats = static_cast<std::size_t>(max_tokens) * c.rows;
      hip::device_buffer d_want(y_floats * sizeof(float), "reference output"), d_y(y_floats * sizeof(float), "output");
      hip::device_stream stream;
      hip::device_timer timer;
      for (int n : tokens) {
        const hip::matmul_shape chosen = hip::matmul_shape_for(n);
        hip::matmul(dw, d_x.as<float>(), n, d_want.as<float>(), stream.handle());
        std::vector<float> want(static_cast<std::size_t>(n) * c.rows), got(want.size());
        stream.synchronize();
        d_want.download(want.data(), want.size() * sizeof(float));
        for (const hip::matmul_shape& shape : hip::matmul_shapes()) {
          if (n == 1 && shape.tokens > 4) continue;  // a 16-token tile for one token says nothing
          for (int i = 0; i < 3; ++i) hip::matmul_with(shape, dw, d_x.as<float>(), n, d_y.as<float>(), stream.handle());
          timer.start(stream.handle());
          for (int i = 0; i < iterations; ++i)
            hip::matmul_with(shape, dw, d_x.as<float>(), n, d_y.as<float>(), stream.handle());
          const double ms = timer.stop_ms(stream.handle()) / iterations;
          d_y.download(got.data(), got.size() * sizeof(float));
          const bool same = std::memcmp(got.data(), want.data(), got.size() * sizeof(float)) == 0;
          const double flop = 2.0 * n * c.rows * c.cols;
          const bool is_chosen = shape.tokens == chosen.tokens && shape.rows == chosen.rows;
          std::printf("| %s | %d | (%d, %d)%s | %.1f | %.2f | %.0f | %s |\n", c.name, n, shape.tokens, shape.rows,
                      is_chosen ? " *" : "", ms * 1e3, flop / (ms * 1e-3) / 1e12,
                      static_cast<double>(w.data.size()) / (ms * 1e-3) / 1e9, same ? "yes" : "NO");
          std::fflush(stdout);
        }
      }
    }
  } catch (const backend_error& e) {
    std::fprintf(stderr, "matmul_bench: %s\n", e.what());
    return 1;
  }
  return 0;
}
