// The integer Q8_0 product (device/cpu_q8_activations.hpp): llama.cpp's activation
// quantization, the same bits on every instruction set and kernel (token lanes for whole
// groups of 8 tokens, block lanes for the rest), whatever the token count, position, row
// block or quantization batch, and close to the exact product.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "device/backend.hpp"
#include "device/cpu_isa.hpp"
#include "device/cpu_matmul.hpp"
#include "device/half_float.hpp"
#include "device/weight_rows.hpp"
#include "tests/device/kernel_test_support.hpp"
#include "tests/device/random_weights.hpp"

using namespace kvactor;
using testing::random_values;
using testing::same_bits;
using testing::supported_isas;

namespace {

// Activations with blocks of very different magnitudes, a block of zeros and exact ties.
std::vector<float> activations(testing::weight_rng& rng, int tokens, int k) {
  std::vector<float> x = random_values(rng, static_cast<std::size_t>(tokens) * k, 3.0f);
  for (std::size_t i = 0; i < x.size(); ++i) {
    if ((i / 32) % 5 == 1) x[i] *= 1e-3f;
    if ((i / 32) % 11 == 7) x[i] = 0.0f;
  }
  return x;
}

}  // namespace

TEST_CASE("q8 activations: llama.cpp's block quantization, the same bits from every instruction set") {
  testing::weight_rng rng(31);
  const int tokens = 19, k = 96;
  std::vector<float> x = activations(rng, tokens, k);
  // A block whose values land exactly halfway between integers after scaling: 127 / 2 at
  // amax 127 gives 63.5, which rounds to the even 64.
  for (int i = 0; i < 32; ++i) x[static_cast<std::size_t>(i)] = i == 0 ? 127.0f : (i % 2 ? 63.5f : -0.5f);
  q8_activations want;
  want.resize(tokens, k);
  want.quantize(cpu_isa::portable, x.data(), 0, tokens);
  const q8_rows_view w = want.view();
  CHECK(w.values[0] == 127);
  CHECK(w.values[1] == 64);
  CHECK(w.values[2] == 0);  // -0.5 rounds to the even 0
  CHECK(w.scales[0] == 1.0f);
  // Every value against the formula, by hand.
  for (int t = 0; t < tokens; ++t)
    for (int b = 0; b < k / 32; ++b) {
      const float* in = x.data() + t * k + b * 32;
      float amax = 0;
      for (int i = 0; i < 32; ++i) amax = std::max(amax, std::fabs(in[i]));
      CHECK(w.scales[t * (k / 32) + b] == half_to_float(float_to_half(amax / 127.0f)));
      const float id = amax != 0 ? 127.0f / amax : 0.0f;
      for (int i = 0; i < 32; ++i) CHECK(w.values[t * k + b * 32 + i] == static_cast<int>(std::nearbyint(in[i] * id)));
    }
  for (cpu_isa isa : supported_isas()) {
    CAPTURE(cpu_isa_name(isa));
    q8_activations got;
    got.resize(tokens, k);
    got.quantize(isa, x.data(), 0, 8);  // split as the backend's threads split it
    got.quantize(isa, x.data(), 8, tokens);
    const q8_rows_view g = got.view();
    CHECK(std::memcmp(g.values, w.values, static_cast<std::size_t>(tokens) * k) == 0);
    CHECK(same_bits(g.scales, w.scales, static_cast<std::size_t>(tokens) * (k / 32)));
    // The packed groups hold the same values, 4 per lane, and their sums.
    for (int grp = 0; grp < (tokens + 7) / 8; ++grp)  // the last group: 3 tokens, then zeros
      for (int b = 0; b < k / 32; ++b)
        for (int j = 0; j < 8; ++j) {
          if (grp * 8 + j >= tokens) {
            for (int i = 0; i < 32; ++i) CHECK(g.packed[((grp * (k / 32) + b) * 8 + i / 4) * 32 + j * 4 + i % 4] == 0);
            CHECK(g.group_offsets[(grp * (k / 32) + b) * 8 + j] == 0);
            CHECK(g.group_scales[(grp * (k / 32) + b) * 8 + j] == 0.0f);
            continue;
          }
          int sum = 0;
          for (int i = 0; i < 32; ++i) {
            const int8_t v = g.values[(grp * 8 + j) * k + b * 32 + i];
            sum += v;
            CHECK(g.packed[((grp * (k / 32) + b) * 8 + i / 4) * 32 + j * 4 + i % 4] == v);
          }
          CHECK(g.group_offsets[(grp * (k / 32) + b) * 8 + j] == -128 * sum);
          CHECK(g.group_scales[(grp * (k / 32) + b) * 8 + j] == g.scales[(grp * 8 + j) * (k / 32) + b]);
        }
  }
  q8_activations bad;
  CHECK_THROWS_AS(bad.resize(2, 33), backend_error);
}

TEST_CASE("q8 integer product: every instruction set and kernel gives the portable bits, at any token count") {
  testing::weight_rng rng(32);
  const int rows = 21, tokens = 45;  // 5 whole groups and a remainder; rows: every tile remainder
  const std::vector<cpu_isa> isas = supported_isas();
  for (int k : {32, 96, 288, 320}) {
    CAPTURE(k);
    std::vector<float> values = random_values(rng, static_cast<std::size_t>(rows) * k, 1.0f);
    for (std::size_t i = 0; i < values.size(); ++i)
      if (i % 64 < 32) values[i] *= 0.01f;
    values[5] = -1e3f;  // a block whose scale puts one weight at -127
    const weight_matrix w = testing::encode_matrix(values, rows, k, dtype::q8_0);
    const std::vector<float> x = activations(rng, tokens, k);
    q8_activations all_x;
    all_x.resize(tokens, k);
    all_x.quantize(cpu_isa::portable, x.data(), 0, tokens);
    std::vector<float> want(static_cast<std::size_t>(tokens) * rows, -1.0f);
    matmul_rows_q8(cpu_isa::portable, w, 0, rows, all_x, 0, tokens, want.data(), rows);

    // Close to the exact product of the decoded weights and the quantized activations
    // (only the float chain rounds), and to the product of the unquantized activations.
    std::vector<float> decoded(values.size());
    for (int r = 0; r < rows; ++r) read_weight_row(w, r, decoded.data() + static_cast<std::size_t>(r) * k);
    const q8_rows_view v = all_x.view();
    // Each activation moves by at most half its block's step, plus 127 * 2^-11 for the fp16 scale.
    testing::check_quantized_product(want, decoded, x, v.values, v.scales, tokens, rows, k, 32, 0.57, 1e-5);

    for (cpu_isa isa : isas) {
      CAPTURE(cpu_isa_name(isa));
      std::vector<float> all(want.size(), -1.0f);
      matmul_rows_q8(isa, w, 0, rows, all_x, 0, tokens, all.data(), rows);
      CHECK(same_bits(all.data(), want.data(), all.size()));
      // Windows of rows and tokens: groups cut at both ends (token lanes from 3 tokens of a
      // group in the window, block lanes below), the last group partial.
      for (auto [r0, r1] : {std::pair<int, int>{5, 6}, {3, 17}, {0, 13}, {20, 21}})
        for (auto [t0, n] : {std::pair<int, int>{0, 1}, {1, 7}, {3, 30}, {8, 16}, {9, 36}, {40, 5}, {44, 1}})
          for (bool from_dram : {false, true}) {  // 8 rows at a time or row by row
            std::vector<float> part(static_cast<std::size_t>(n) * rows, -1.0f);
            matmul_rows_q8(isa, w, r0, r1, all_x, t0, n, part.data(), rows, from_dram);
            for (int t = 0; t < n; ++t)
              CHECK(same_bits(part.data() + static_cast<std::size_t>(t) * rows + r0,
                              want.data() + static_cast<std::size_t>(t0 + t) * rows + r0,
                              static_cast<std::size_t>(r1 - r0)));
          }
      // Tokens quantized on their own (decode steps of 1, 2, 3 and 5 sequences) give their
      // bits in the batch.
      for (auto [t, n] : {std::pair<int, int>{0, 1}, {17, 1}, {44, 1}, {3, 2}, {30, 3}, {11, 5}}) {
        q8_activations alone;
        alone.resize(n, k);
        alone.quantize(isa, x.data() + static_cast<std::size_t>(t) * k, 0, n);
        std::vector<float> few(static_cast<std::size_t>(n) * rows, -1.0f);
        matmul_rows_q8(isa, w, 0, rows, alone, 0, n, few.data(), rows);
        CHECK(same_bits(few.data(), want.data() + static_cast<std::size_t>(t) * rows, few.size()));
      }
    }
  }
}

TEST_CASE("q8 integer product: the checks name what does not fit") {
  testing::weight_rng rng(33);
  const std::vector<float> values = random_values(rng, 4 * 64, 1.0f);
  const weight_matrix q8 = testing::encode_matrix(values, 4, 64, dtype::q8_0);
  const weight_matrix f32 = testing::encode_matrix(values, 4, 64, dtype::f32);
  q8_activations x;
  x.resize(2, 64);
  x.quantize(values.data(), 0, 2);
  std::vector<float> y(8);
  CHECK_THROWS_WITH_AS(matmul_rows_q8(f32, 0, 4, x, 0, 2, y.data(), 4), doctest::Contains("f32"), backend_error);
  CHECK_THROWS_WITH_AS(matmul_rows_q8(q8, 0, 4, x, 1, 2, y.data(), 4), doctest::Contains("[1, 3)"), backend_error);
  q8_activations narrow;
  narrow.resize(2, 32);
  CHECK_THROWS_WITH_AS(matmul_rows_q8(q8, 0, 4, narrow, 0, 2, y.data(), 4), doctest::Contains("2 x 32"), backend_error);
}
