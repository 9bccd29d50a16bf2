// The integer Q4_K / Q5_K / Q6_K products (device/cpu_q8k_activations.hpp): llama.cpp's
// Q8_K activation quantization, the same bits on every instruction set whatever the token
// count, position or row block, and close to the exact product.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "device/backend.hpp"
#include "device/cpu_isa.hpp"
#include "device/cpu_matmul.hpp"
#include "device/weight_rows.hpp"
#include "tests/device/kernel_test_support.hpp"
#include "tests/device/random_weights.hpp"

using namespace kvactor;
using testing::random_values;
using testing::same_bits;
using testing::supported_isas;

TEST_CASE("q8_K activations: llama.cpp's block quantization, value by value") {
  std::vector<float> x(512, 0.0f);
  // Block 0: the largest magnitude is -2 (a +2 later ties and loses: the first wins), so
  // iscale = -127 / -2 = 63.5 and d = 1 / 63.5.
  x[5] = -2.0f;
  x[9] = 2.0f;
  x[17] = 1.0f;            // 63.5 rounds to the even 64
  x[18] = 3.0f / 127.0f;   // 1.5 -> 2
  x[19] = -5.0f / 127.0f;  // -2.5 -> -2
  x[20] = std::nanf("");   // a NaN quantizes to 0
  // Block 1: positive largest magnitude, so the scale is negative and the values flip sign.
  x[256 + 3] = 4.0f;
  x[256 + 4] = 1.0f;  // -31.75 -> -32
  q8k_activations a;
  a.resize(2, 256);  // two tokens of one block each
  a.quantize(x.data(), 0, 2);
  const q8k_rows_view v = a.view();
  CHECK(v.values[5] == -127);
  CHECK(v.values[9] == 127);
  CHECK(v.values[17] == 64);
  CHECK(v.values[18] == 2);
  CHECK(v.values[19] == -2);
  CHECK(v.values[20] == 0);
  CHECK(v.scales[0] == 1.0f / 63.5f);
  CHECK(v.bsums[0] == -127 + 127);  // values 0..15
  CHECK(v.bsums[1] == 64 + 2 - 2);  // values 16..31
  for (int g = 2; g < 16; ++g) CHECK(v.bsums[g] == 0);
  CHECK(v.values[256 + 3] == -127);
  CHECK(v.values[256 + 4] == -32);
  CHECK(v.scales[1] == 1.0f / (-127.0f / 4.0f));
  CHECK(v.bsums[16] == -127 - 32);
  // The packed group (tokens 0 and 1, then 6 zero lanes): chunk c of token j at (c * 8 + j) * 32.
  CHECK(v.packed[(0 * 8 + 0) * 32 + 5] == -127);
  CHECK(v.packed[(0 * 8 + 0) * 32 + 17] == 64);
  CHECK(v.packed[(0 * 8 + 1) * 32 + 3] == -127);
  for (int i = 0; i < 32; ++i) CHECK(v.packed[(7 * 8 + 5) * 32 + i] == 0);
  CHECK(v.group_scales[0] == v.scales[0]);
  CHECK(v.group_scales[1] == v.scales[1]);
  CHECK(v.group_scales[2] == 0.0f);
  CHECK(v.group_bsums[16 + 0] == -127 - 32);  // token 1's group 0
  // An all-zero block: d = 0 and zeros.
  std::vector<float> zeros(256, 0.0f);
  q8k_activations z;
  z.resize(1, 256);
  z.quantize(zeros.data(), 0, 1);
  CHECK(z.view().scales[0] == 0.0f);
  for (int i = 0; i < 256; ++i) CHECK(z.view().values[i] == 0);
  q8k_activations bad;
  CHECK_THROWS_AS(bad.resize(2, 288), backend_error);
}

TEST_CASE("k-quant integer product: every instruction set gives the portable bits, at any token count") {
  testing::weight_rng rng(41);
  const int rows = 13, tokens = 37, k = 512;  // tokens: two chunks of 16 and a remainder
  for (dtype type : {dtype::q4_k, dtype::q5_k, dtype::q6_k}) {
    CAPTURE(dtype_name(type));
    std::vector<float> values = random_values(rng, static_cast<std::size_t>(rows) * k, 1.0f);
    for (std::size_t i = 0; i < values.size(); ++i)
      if (i % 512 < 256) values[i] = values[i] * 0.02f + 0.01f;  // small blocks with an offset (the mins)
    const weight_matrix w = testing::encode_matrix(values, rows, k, type);
    std::vector<float> x = random_values(rng, static_cast<std::size_t>(tokens) * k, 3.0f);
    for (std::size_t i = 0; i < x.size(); ++i)
      if ((i / 256) % 3 == 1) x[i] *= 1e-3f;
    q8k_activations all_x;
    all_x.resize(tokens, k);
    all_x.quantize(x.data(), 0, tokens);
    std::vector<float> want(static_cast<std::size_t>(tokens) * rows, -1.0f);
    matmul_rows_kquant(cpu_isa::portable, w, 0, rows, all_x, 0, tokens, want.data(), rows);

    // Close to the exact product of the decoded weights and the quantized activations (only
    // the float chain rounds, and the decoding's own float steps), and to the product of the
    // unquantized activations (each activation moves by at most half its block's step).
    std::vector<float> decoded(values.size());
    for (int r = 0; r < rows; ++r) read_weight_row(w, r, decoded.data() + static_cast<std::size_t>(r) * k);
    const q8k_rows_view v = all_x.view();
    testing::check_quantized_product(want, decoded, x, v.values, v.scales, tokens, rows, k, 256, 0.5, 2e-5);

    for (cpu_isa isa : supported_isas()) {
      CAPTURE(cpu_isa_name(isa));
      std::vector<float> all(want.size(), -1.0f);
      matmul_rows_kquant(isa, w, 0, rows, all_x, 0, tokens, all.data(), rows);
      CHECK(same_bits(all.data(), want.data(), all.size()));
      for (auto [r0, r1] : {std::pair<int, int>{5, 6}, {3, 13}, {0, 8}})
        for (auto [t0, n] : {std::pair<int, int>{0, 1}, {1, 2}, {3, 17}, {16, 16}, {20, 17}, {36, 1}}) {
          std::vector<float> part(static_cast<std::size_t>(n) * rows, -1.0f);
          matmul_rows_kquant(isa, w, r0, r1, all_x, t0, n, part.data(), rows);
          for (int t = 0; t < n; ++t)
            CHECK(same_bits(part.data() + static_cast<std::size_t>(t) * rows + r0,
                            want.data() + static_cast<std::size_t>(t0 + t) * rows + r0,
                            static_cast<std::size_t>(r1 - r0)));
        }
      // Quantized in two calls split at a group boundary (as the backend's threads split it).
      q8k_activations split_x;
      split_x.resize(tokens, k);
      split_x.quantize(x.data(), 16, tokens);
      split_x.quantize(x.data(), 0, 16);
      std::vector<float> split(want.size(), -1.0f);
      matmul_rows_kquant(isa, w, 0, rows, split_x, 0, tokens, split.data(), rows);
      CHECK(same_bits(split.data(), want.data(), split.size()));
      // Tokens quantized on their own (decode steps) give their bits in the batch.
      for (auto [t, n] : {std::pair<int, int>{0, 1}, {17, 1}, {30, 3}}) {
        q8k_activations alone;
        alone.resize(n, k);
        alone.quantize(x.data() + static_cast<std::size_t>(t) * k, 0, n);
        std::vector<float> few(static_cast<std::size_t>(n) * rows, -1.0f);
        matmul_rows_kquant(isa, w, 0, rows, alone, 0, n, few.data(), rows);
        CHECK(same_bits(few.data(), want.data() + static_cast<std::size_t>(t) * rows, few.size()));
      }
    }
  }
}

TEST_CASE("k-quant integer product: the checks name what does not fit") {
  testing::weight_rng rng(43);
  const std::vector<float> values = random_values(rng, 4 * 256, 1.0f);
  const weight_matrix q4 = testing::encode_matrix(values, 4, 256, dtype::q4_k);
  const weight_matrix q8 = testing::encode_matrix(values, 4, 256, dtype::q8_0);
  q8k_activations x;
  x.resize(2, 256);
  x.quantize(values.data(), 0, 2);
  std::vector<float> y(8);
  CHECK_FALSE(kquant_integer_type(dtype::q8_0));
  CHECK(kquant_integer_type(dtype::q5_k));
  CHECK_THROWS_WITH_AS(matmul_rows_kquant(q8, 0, 4, x, 0, 2, y.data(), 4), doctest::Contains("q8_0"), backend_error);
  CHECK_THROWS_WITH_AS(matmul_rows_kquant(q4, 0, 4, x, 1, 2, y.data(), 4), doctest::Contains("[1, 3)"), backend_error);
  const std::vector<float> wide = random_values(rng, 4 * 512, 1.0f);
  const weight_matrix q4_wide = testing::encode_matrix(wide, 4, 512, dtype::q4_k);
  CHECK_THROWS_WITH_AS(matmul_rows_kquant(q4_wide, 0, 4, x, 0, 2, y.data(), 4), doctest::Contains("2 x 256"),
                       backend_error);
}
