// Each per-row kernel against a CPU reference on random inputs. Dequantisation is
// exact on both sides, so results differ only by summation order and the device's
// expf; the bounds below say how much that may cost per dtype.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "device/hip/kernel_launchers.hpp"
#include "device/sampling.hpp"
#include "device/weight_rows.hpp"
#include "tests/device/random_weights.hpp"
#include "tests/device_hip/device_vectors.hpp"
#include "tests/device_hip/gpu_presence.hpp"

using namespace kvactor;
using namespace kvactor::testing;

namespace {

std::vector<float> random_values(std::size_t n, uint64_t seed, float scale = 1.0f) {
  weight_rng rng(seed);
  std::vector<float> v(n);
  for (float& x : v) x = rng.next() * scale;
  return v;
}

hip::device_matrix on_device(const weight_matrix& w, const hip::device_buffer& data) {
  return {w.type, w.rows, w.cols, data.data()};
}

std::vector<float> dequantised(const weight_matrix& w) {
  std::vector<float> out(static_cast<std::size_t>(w.rows * w.cols));
  for (int64_t r = 0; r < w.rows; ++r) read_weight_row(w, r, out.data() + r * w.cols);
  return out;
}

// Largest quantisation error of one value relative to the row's largest |value|.
double quantisation_bound(dtype t) {
  switch (t) {
    case dtype::f32: return 1e-6;
    case dtype::f16: return 1e-3;
    case dtype::q8_0: return 1.0 / 127.0;
    default: break;
  }
  return 0.0;
}

}  // namespace

TEST_CASE("hip kernels: embedding gather dequantises rows exactly for f32, f16 and q8_0") {
  require_gpu();
  for (dtype t : {dtype::f32, dtype::f16, dtype::q8_0}) {
    CAPTURE(dtype_name(t));
    const int vocab = 50, dim = 96;
    const weight_matrix table = encode_matrix(random_values(vocab * dim, 3), vocab, dim, t);
    const std::vector<int32_t> tokens{0, 49, 7, 7, 23};
    hip::device_buffer d_table = to_device(table.data), d_tokens = to_device(tokens);
    hip::device_buffer d_out = device_zeros<float>(tokens.size() * dim);
    hip::embedding_gather(on_device(table, d_table), d_tokens.as<int32_t>(), 5, d_out.as<float>(), nullptr);
    const std::vector<float> got = to_host<float>(d_out, tokens.size() * dim);
    std::vector<float> want(dim);
    for (std::size_t i = 0; i < tokens.size(); ++i) {
      read_weight_row(table, tokens[i], want.data());
      for (int c = 0; c < dim; ++c) REQUIRE(got[i * dim + c] == want[static_cast<std::size_t>(c)]);
    }
  }
}

TEST_CASE("hip kernels: matmul matches a double-precision reference for every dtype and token count") {
  require_gpu();
  // Shapes: rows not a multiple of a block's rows, cols not a multiple of a
  // warp's stride, and token counts that take each tile (1, 4, 16) and a partial tile.
  const int shapes[][2] = {{37, 64}, {130, 288}, {8, 1024}};
  for (dtype t : {dtype::f32, dtype::f16, dtype::q8_0}) {
    for (const auto& shape : shapes) {
      const int rows = shape[0], cols = shape[1];
      CAPTURE(dtype_name(t));
      CAPTURE(rows);
      CAPTURE(cols);
      const std::vector<float> original = random_values(static_cast<std::size_t>(rows) * cols, 5);
      const weight_matrix w = encode_matrix(original, rows, cols, t);
      const std::vector<float> exact = dequantised(w);
      hip::device_buffer d_w = to_device(w.data);
      for (int n : {1, 3, 4, 17}) {
        CAPTURE(n);
        const std::vector<float> x = random_values(static_cast<std::size_t>(n) * cols, 11 + n);
        hip::device_buffer d_x = to_device(x), d_y = device_zeros<float>(static_cast<std::size_t>(n) * rows);
        hip::matmul(on_device(w, d_w), d_x.as<float>(), n, d_y.as<float>(), nullptr);
        const std::vector<float> y = to_host<float>(d_y, static_cast<std::size_t>(n) * rows);
        for (int ti = 0; ti < n; ++ti)
          for (int r = 0; r < rows; ++r) {
            double ref = 0, ref_original = 0, magnitude = 0, row_max = 0;
            for (int c = 0; c < cols; ++c) {
              const double xv = x[static_cast<std::size_t>(ti) * cols + c];
              ref += static_cast<double>(exact[static_cast<std::size_t>(r) * cols + c]) * xv;
              ref_original += static_cast<double>(original[static_cast<std::size_t>(r) * cols + c]) * xv;
              magnitude += std::fabs(exact[static_cast<std::size_t>(r) * cols + c] * xv);
              row_max = std::max(row_max, std::fabs(xv));
            }
            const double got = y[static_cast<std::size_t>(ti) * rows + r];
            // fp32 accumulation of `cols` products: a few ulps of the magnitude.
            REQUIRE(std::fabs(got - ref) <= 1e-6 * magnitude + 1e-30);
            // Against the unquantised weights the dtype's own error dominates.
            REQUIRE(std::fabs(got - ref_original) <= quantisation_bound(t) * row_max * cols + 1e-5 * magnitude);
          }
        // Batch invariance inside the kernel: each token row alone gives the same bits.
        for (int ti = 0; ti < n; ++ti) {
          const std::vector<float> one(x.begin() + static_cast<std::ptrdiff_t>(ti) * cols,
                                       x.begin() + static_cast<std::ptrdiff_t>(ti + 1) * cols);
          hip::device_buffer d_one = to_device(one), d_y1 = device_zeros<float>(static_cast<std::size_t>(rows));
          hip::matmul(on_device(w, d_w), d_one.as<float>(), 1, d_y1.as<float>(), nullptr);
          const std::vector<float> y1 = to_host<float>(d_y1, static_cast<std::size_t>(rows));
          for (int r = 0; r < rows; ++r)
            REQUIRE(std::memcmp(&y1[static_cast<std::size_t>(r)], &y[static_cast<std::size_t>(ti) * rows + r], 4) == 0);
        }
      }
    }
  }
}

TEST_CASE("hip kernels: every matmul tile shape computes the same bits as matmul()") {
  require_gpu();
  // 37 rows: a partial warp of rows for every rows-per-warp; 300 columns: a
  // partial stride; 45 tokens: partial tiles of 4, 8, 16 and 32.
  const int rows = 37, cols = 300, n = emulated_gpu ? 19 : 45;
  const std::vector<hip::matmul_shape> shapes = hip::matmul_shapes();
  REQUIRE(shapes.size() >= 4);
  for (dtype t : {dtype::f32, dtype::f16, dtype::q8_0}) {
    CAPTURE(dtype_name(t));
    const int c = t == dtype::q8_0 ? 320 : cols;
    const weight_matrix w = encode_matrix(random_values(static_cast<std::size_t>(rows) * c, 31), rows, c, t);
    hip::device_buffer d_w = to_device(w.data);
    const std::vector<float> x = random_values(static_cast<std::size_t>(n) * c, 37);
    hip::device_buffer d_x = to_device(x), d_want = device_zeros<float>(static_cast<std::size_t>(n) * rows);
    hip::matmul(on_device(w, d_w), d_x.as<float>(), n, d_want.as<float>(), nullptr);
    const std::vector<float> want = to_host<float>(d_want, static_cast<std::size_t>(n) * rows);
    for (const hip::matmul_shape& shape : shapes) {
      CAPTURE(shape.tokens);
      CAPTURE(shape.rows);
      hip::device_buffer d_y = device_zeros<float>(static_cast<std::size_t>(n) * rows);
      hip::matmul_with(shape, on_device(w, d_w), d_x.as<float>(), n, d_y.as<float>(), nullptr);
      const std::vector<float> y = to_host<float>(d_y, static_cast<std::size_t>(n) * rows);
      CHECK(std::memcmp(y.data(), want.data(), y.size() * sizeof(float)) == 0);
    }
  }
  // A shape nothing was compiled for is refused before any launch.
  CHECK_THROWS_WITH_AS(
      hip::matmul_with({3, 3}, hip::device_matrix{dtype::f32, 4, 4, nullptr}, nullptr, 1, nullptr, nullptr),
      doctest::Contains("3 tokens x 3 rows"), backend_error);
}

TEST_CASE("hip kernels: matmul rejects shapes the kernels cannot run, naming the shape") {
  // Shape checks run before any device work, so this needs no GPU.
  hip::device_matrix odd{dtype::f32, 8, 6, nullptr};
  CHECK_THROWS_WITH_AS(hip::matmul(odd, nullptr, 1, nullptr, nullptr), doctest::Contains("f32 [8, 6]"), backend_error);
  hip::device_matrix q8{dtype::q8_0, 8, 48, nullptr};
  CHECK_THROWS_WITH_AS(hip::matmul(q8, nullptr, 1, nullptr, nullptr), doctest::Contains("q8_0 [8, 48]"), backend_error);
}

TEST_CASE("hip kernels: rmsnorm matches llama2.c's formula, with and without a row index") {
  require_gpu();
  for (int dim : {8, 64, 288, 2050}) {
    CAPTURE(dim);
    const int n = 5;
    const std::vector<float> x = random_values(static_cast<std::size_t>(n) * dim, 17, 3.0f);
    const std::vector<float> weight = random_values(static_cast<std::size_t>(dim), 19);
    const std::vector<int32_t> index{4, 0, 2};
    hip::device_buffer d_x = to_device(x), d_w = to_device(weight), d_index = to_device(index);
    hip::device_buffer d_all = device_zeros<float>(x.size()), d_some = device_zeros<float>(index.size() * dim);
    hip::rmsnorm(d_x.as<float>(), nullptr, n, dim, d_w.as<float>(), 1e-5f, d_all.as<float>(), nullptr);
    hip::rmsnorm(d_x.as<float>(), d_index.as<int32_t>(), 3, dim, d_w.as<float>(), 1e-5f, d_some.as<float>(), nullptr);
    const std::vector<float> all = to_host<float>(d_all, x.size()), some = to_host<float>(d_some, index.size() * dim);
    for (int t = 0; t < n; ++t) {
      double ss = 0;
      for (int i = 0; i < dim; ++i)
        ss += static_cast<double>(x[static_cast<std::size_t>(t * dim + i)]) * x[static_cast<std::size_t>(t * dim + i)];
      const double inv = 1.0 / std::sqrt(ss / dim + 1e-5);
      for (int i = 0; i < dim; ++i) {
        const double want = weight[static_cast<std::size_t>(i)] * inv * x[static_cast<std::size_t>(t * dim + i)];
        REQUIRE(std::fabs(all[static_cast<std::size_t>(t * dim + i)] - want) <= 1e-5 * std::fabs(want) + 1e-6);
      }
    }
    for (std::size_t j = 0; j < index.size(); ++j)
      for (int i = 0; i < dim; ++i)
        REQUIRE(some[j * dim + static_cast<std::size_t>(i)] == all[static_cast<std::size_t>(index[j] * dim + i)]);
  }
}

TEST_CASE("hip kernels: rope rotates adjacent pairs by the table's angles") {
  require_gpu();
  const int n = 3, heads = 4, hd = 16, max_seq = 40, pairs = hd / 2;
  std::vector<float> table(static_cast<std::size_t>(max_seq) * pairs * 2);
  for (int pos = 0; pos < max_seq; ++pos)
    for (int j = 0; j < pairs; ++j) {
      const float angle = static_cast<float>(pos) / std::pow(10000.0f, 2.0f * j / hd);
      table[static_cast<std::size_t>((pos * pairs + j) * 2)] = std::cos(angle);
      table[static_cast<std::size_t>((pos * pairs + j) * 2 + 1)] = std::sin(angle);
    }
  const std::vector<float> vec = random_values(static_cast<std::size_t>(n) * heads * hd, 23);
  const std::vector<int32_t> positions{0, 39, 7};
  hip::device_buffer d_vec = to_device(vec), d_pos = to_device(positions), d_table = to_device(table);
  hip::rope(d_vec.as<float>(), d_pos.as<int32_t>(), n, heads, hd, d_table.as<float>(), nullptr);
  const std::vector<float> got = to_host<float>(d_vec, vec.size());
  for (int t = 0; t < n; ++t)
    for (int h = 0; h < heads; ++h)
      for (int j = 0; j < pairs; ++j) {
        const std::size_t at = static_cast<std::size_t>((t * heads + h) * hd + 2 * j);
        const float c = table[static_cast<std::size_t>((positions[static_cast<std::size_t>(t)] * pairs + j) * 2)];
        const float s = table[static_cast<std::size_t>((positions[static_cast<std::size_t>(t)] * pairs + j) * 2 + 1)];
        REQUIRE(std::fabs(got[at] - (vec[at] * c - vec[at + 1] * s)) <= 1e-6f);
        REQUIRE(std::fabs(got[at + 1] - (vec[at] * s + vec[at + 1] * c)) <= 1e-6f);
      }
}

TEST_CASE("hip kernels: swiglu and residual add") {
  require_gpu();
  const std::size_t count = 3000;
  const std::vector<float> gate = random_values(count, 29, 6.0f), up = random_values(count, 31, 2.0f);
  hip::device_buffer d_gate = to_device(gate), d_up = to_device(up);
  hip::swiglu(d_gate.as<float>(), d_up.as<float>(), static_cast<int64_t>(count), nullptr);
  const std::vector<float> product = to_host<float>(d_gate, count);
  hip::residual_add(d_gate.as<float>(), d_up.as<float>(), static_cast<int64_t>(count), nullptr);
  const std::vector<float> sum = to_host<float>(d_gate, count);
  for (std::size_t i = 0; i < count; ++i) {
    const double g = gate[i];
    const double want = g / (1.0 + std::exp(-g)) * up[i];
    REQUIRE(std::fabs(product[i] - want) <= 1e-6 * std::fabs(want) + 1e-7);
    REQUIRE(sum[i] == product[i] + up[i]);
  }
}

TEST_CASE("hip kernels: argmax agrees with the CPU sampler's greedy choice, ties and NaN included") {
  require_gpu();
  const int vocab = 1000, n = 4;
  std::vector<float> logits = random_values(static_cast<std::size_t>(n) * vocab, 37);
  logits[10] = logits[500] = 5.0f;                                                        // row 0: tie, lowest id wins
  logits[static_cast<std::size_t>(vocab) + 3] = std::numeric_limits<float>::quiet_NaN();  // row 1: NaN never wins
  for (int i = 0; i < vocab; ++i)
    logits[static_cast<std::size_t>(2 * vocab + i)] = std::numeric_limits<float>::quiet_NaN();
  logits[static_cast<std::size_t>(3 * vocab + 999)] = 2.0f;  // row 3: last id
  hip::device_buffer d_logits = to_device(logits), d_out = device_zeros<int32_t>(n);
  hip::argmax(d_logits.as<float>(), n, vocab, d_out.as<int32_t>(), nullptr);
  const std::vector<int32_t> got = to_host<int32_t>(d_out, n);
  std::vector<std::pair<float, int32_t>> scratch;
  for (int t = 0; t < n; ++t) {
    CAPTURE(t);
    CHECK(got[static_cast<std::size_t>(t)] ==
          sample_token(logits.data() + static_cast<std::size_t>(t) * vocab, vocab, sampling_params{}, 0, scratch));
  }
  CHECK(got[0] == 10);
  CHECK(got[2] == 0);
  CHECK(got[3] == 999);
}
