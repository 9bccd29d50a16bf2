// dot2 must reproduce dot bit for bit: the matmul pairs token rows with it, and a
// row's result may not depend on whether it had a partner.
#include <doctest/doctest.h>

#include <cstring>
#include <string>
#include <vector>

#include "device/cpu_dot.hpp"
#include "device/weight_rows.hpp"
#include "tests/device/random_weights.hpp"

using namespace kvactor;

TEST_CASE("dot2 gives exactly the bits of two dot calls, for every length") {
  testing::weight_rng rng(3);
  for (int n = 0; n <= 200; ++n) {
    std::vector<float> a(static_cast<std::size_t>(n)), b0(a.size()), b1(a.size());
    for (std::size_t i = 0; i < a.size(); ++i) {
      a[i] = rng.next() * 3.0f;
      b0[i] = rng.next();
      b1[i] = rng.next() * 1e-3f;
    }
    float d0 = 0, d1 = 0;
    dot2(a.data(), b0.data(), b1.data(), n, &d0, &d1);
    const float s0 = dot(a.data(), b0.data(), n), s1 = dot(a.data(), b1.data(), n);
    CAPTURE(n);
    CHECK(std::memcmp(&d0, &s0, sizeof d0) == 0);
    CHECK(std::memcmp(&d1, &s1, sizeof d1) == 0);
    double exact = 0;
    for (int i = 0; i < n; ++i) exact += static_cast<double>(a[static_cast<std::size_t>(i)]) * b0[static_cast<std::size_t>(i)];
    CHECK(s0 == doctest::Approx(exact).epsilon(1e-4).scale(1.0));
  }
  CHECK((std::string(dot_implementation()) == "avx2-fma" || std::string(dot_implementation()) == "portable"));
}

TEST_CASE("dot_q8_0 gives exactly the bits of dot over the expanded row") {
  testing::weight_rng rng(4);
  for (int n : {32, 64, 96, 288, 768}) {
    std::vector<float> values(static_cast<std::size_t>(n)), x(values.size());
    for (std::size_t i = 0; i < values.size(); ++i) {
      values[i] = rng.next() * (i % 64 < 32 ? 0.01f : 5.0f);  // blocks of very different scales
      x[i] = rng.next();
    }
    const weight_matrix row = testing::encode_matrix(values, 1, n, dtype::q8_0);
    std::vector<float> expanded(values.size());
    read_weight_row(row, 0, expanded.data());
    const float fused = dot_q8_0(row.data.data(), x.data(), n);
    const float plain = dot(expanded.data(), x.data(), n);
    CAPTURE(n);
    CHECK(std::memcmp(&fused, &plain, sizeof fused) == 0);
    CHECK(fused != 0.0f);
  }
}

TEST_CASE("dot_f16 gives exactly the bits of dot over the converted row") {
  if (!fused_f16_available()) return;  // callers expand the row instead; nothing to compare
  testing::weight_rng rng(5);
  for (int n : {1, 7, 8, 31, 32, 33, 100, 288, 770}) {
    std::vector<float> values(static_cast<std::size_t>(n)), x(values.size());
    for (std::size_t i = 0; i < values.size(); ++i) {
      values[i] = rng.next() * 4.0f;
      x[i] = rng.next();
    }
    const weight_matrix row = testing::encode_matrix(values, 1, n, dtype::f16);
    std::vector<float> expanded(values.size());
    read_weight_row(row, 0, expanded.data());
    const float fused = dot_f16(reinterpret_cast<const uint16_t*>(row.data.data()), x.data(), n);
    const float plain = dot(expanded.data(), x.data(), n);
    CAPTURE(n);
    CHECK(std::memcmp(&fused, &plain, sizeof fused) == 0);
  }
}
