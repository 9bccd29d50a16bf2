// The tiled matmul must give every output the same bits whatever tile, token count,
// token position or row block computes it (that is what keeps the backend
// batch-invariant), on every instruction set this CPU supports.
#include <doctest/doctest.h>

#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "device/cpu_dot.hpp"
#include "device/cpu_isa.hpp"
#include "device/cpu_matmul.hpp"
#include "device/weight_rows.hpp"
#include "tests/device/kernel_test_support.hpp"
#include "tests/device/random_weights.hpp"

using namespace kvactor;
using testing::random_values;
using testing::same_bits;
using testing::supported_isas;

TEST_CASE("matmul outputs do not depend on the token count, the token's position or the row block") {
  testing::weight_rng rng(11);
  const int rows = 21, tokens = 23;  // both sides of the few-token F32 path (16)
  for (cpu_isa isa : supported_isas())
    for (int k : {1, 7, 8, 9, 15, 16, 17, 31, 32, 33, 48, 64, 100, 172, 288}) {
      CAPTURE(cpu_isa_name(isa));
      CAPTURE(k);
      const std::vector<float> values = random_values(rng, static_cast<std::size_t>(rows) * k, 2.0f);
      const weight_matrix w = testing::encode_matrix(values, rows, k, dtype::f32);
      const std::vector<float> x = random_values(rng, static_cast<std::size_t>(tokens) * k, 1.0f);
      std::vector<float> all(static_cast<std::size_t>(tokens) * rows, -1.0f);
      matmul_rows(isa, w, 0, rows, x.data(), tokens, all.data(), rows);
      for (int t = 0; t < tokens; ++t) {
        // Alone (decode at batch 1 takes the one-token tile).
        std::vector<float> one(static_cast<std::size_t>(rows), -1.0f);
        matmul_rows(isa, w, 0, rows, x.data() + static_cast<std::size_t>(t) * k, 1, one.data(), rows);
        CHECK(same_bits(one.data(), all.data() + static_cast<std::size_t>(t) * rows, static_cast<std::size_t>(rows)));
        for (int r = 0; r < rows; ++r) {
          double exact = 0;
          for (int i = 0; i < k; ++i)
            exact += static_cast<double>(values[static_cast<std::size_t>(r) * k + i]) *
                     x[static_cast<std::size_t>(t) * k + i];
          CHECK(all[static_cast<std::size_t>(t) * rows + r] == doctest::Approx(exact).epsilon(1e-4).scale(1.0));
        }
      }
      // A row window and a token window land in other tiles and remainders.
      for (auto [r0, r1] : {std::pair<int, int>{5, 6}, {3, 17}, {0, 13}, {20, 21}})
        for (int t0 : {1, 2, 4, 9}) {
          std::vector<float> part(static_cast<std::size_t>(tokens) * rows, -1.0f);
          matmul_rows(isa, w, r0, r1, x.data() + static_cast<std::size_t>(t0) * k, tokens - t0, part.data(), rows);
          for (int t = t0; t < tokens; ++t)
            CHECK(same_bits(part.data() + static_cast<std::size_t>(t - t0) * rows + r0,
                            all.data() + static_cast<std::size_t>(t) * rows + r0, static_cast<std::size_t>(r1 - r0)));
        }
    }
}

TEST_CASE("f16 and q8_0 rows give exactly the bits of f32 rows holding the same values") {
  testing::weight_rng rng(12);
  const int rows = 19;
  for (cpu_isa isa : supported_isas())
    for (dtype type : {dtype::f16, dtype::q8_0})
      for (int k : {32, 64, 96, 288, 7, 33, 100, 172}) {
        if (type == dtype::q8_0 && k % 32 != 0) continue;
        CAPTURE(cpu_isa_name(isa));
        CAPTURE(dtype_name(type));
        CAPTURE(k);
        std::vector<float> values = random_values(rng, static_cast<std::size_t>(rows) * k, 1.0f);
        for (std::size_t i = 0; i < values.size(); ++i)
          if (i % 64 < 32) values[i] *= 0.01f;  // blocks of very different scales
        const weight_matrix encoded = testing::encode_matrix(values, rows, k, type);
        std::vector<float> expanded(values.size());
        for (int r = 0; r < rows; ++r) read_weight_row(encoded, r, expanded.data() + static_cast<std::size_t>(r) * k);
        const weight_matrix plain = testing::encode_matrix(expanded, rows, k, dtype::f32);
        for (int tokens : {1, 2, 7}) {
          const std::vector<float> x = random_values(rng, static_cast<std::size_t>(tokens) * k, 1.0f);
          std::vector<float> a(static_cast<std::size_t>(tokens) * rows), b(a.size());
          matmul_rows(isa, encoded, 0, rows, x.data(), tokens, a.data(), rows);
          matmul_rows(isa, plain, 0, rows, x.data(), tokens, b.data(), rows);
          CHECK(same_bits(a.data(), b.data(), a.size()));
          CHECK(a[0] != 0.0f);
        }
      }
}

TEST_CASE("KVACTOR_CPU_ISA chooses the instruction set; without it the best supported one runs") {
  CHECK(cpu_supports(cpu_isa::portable));
  const char* forced = std::getenv("KVACTOR_CPU_ISA");
  const cpu_isa chosen = cpu_isa_in_use();
  CHECK(cpu_supports(chosen));
  if (forced && *forced) {
    CHECK(std::string(cpu_isa_name(chosen)) == forced);
  } else {
    CHECK(chosen == supported_isas().back());
  }
  std::vector<float> w(288, 0.0f), x(288, 0.0f);
  CHECK(dot(w.data(), x.data(), 288) == 0.0f);
}

TEST_CASE("a matrix larger than the caches gives the same bits on its few-token and many-token paths") {
  testing::weight_rng rng(13);
  // 9.2 MB of f32, streamed: row by row up to 8 tokens, in prefetched groups of rows above
  const int rows = 8000, k = 288, tokens = 20;
  const std::vector<float> values = random_values(rng, static_cast<std::size_t>(rows) * k, 1.0f);
  const weight_matrix w = testing::encode_matrix(values, rows, k, dtype::f32);
  const std::vector<float> x = random_values(rng, static_cast<std::size_t>(tokens) * k, 1.0f);
  for (cpu_isa isa : supported_isas()) {
    CAPTURE(cpu_isa_name(isa));
    std::vector<float> many(static_cast<std::size_t>(tokens) * rows), few(many.size(), -1.0f), one(many.size(), -1.0f);
    matmul_rows(isa, w, 0, rows, x.data(), tokens, many.data(), rows);
    matmul_rows(isa, w, 0, rows, x.data(), 7, few.data(), rows);
    matmul_rows(isa, w, 0, rows, x.data() + 7 * k, tokens - 7, few.data() + 7 * rows, rows);
    for (int t = 0; t < tokens; ++t)
      matmul_rows(isa, w, 0, rows, x.data() + static_cast<std::size_t>(t) * k, 1,
                  one.data() + static_cast<std::size_t>(t) * rows, rows);
    CHECK(same_bits(many.data(), few.data(), many.size()));
    CHECK(same_bits(many.data(), one.data(), many.size()));
  }
}

TEST_CASE("matmul: every block format gives the bits of f32 rows holding its decoded values, at any token count") {
  testing::weight_rng rng(14);
  const int rows = 13;
  for (cpu_isa isa : supported_isas())
    for (dtype type : {dtype::bf16, dtype::q4_0, dtype::q4_1, dtype::q5_0, dtype::q5_1, dtype::iq4_nl, dtype::q2_k,
                       dtype::q3_k, dtype::q4_k, dtype::q5_k, dtype::q6_k})
      for (int k : {256, 512}) {
        CAPTURE(cpu_isa_name(isa));
        const std::string type_name = dtype_name(type);
        CAPTURE(type_name);
        CAPTURE(k);
        std::vector<float> values = random_values(rng, static_cast<std::size_t>(rows) * k, 1.0f);
        for (std::size_t i = 0; i < values.size(); ++i)
          if (i % 512 < 256) values[i] *= 0.01f;  // blocks of very different scales
        const weight_matrix encoded = testing::encode_matrix(values, rows, k, type);
        std::vector<float> expanded(values.size());
        for (int r = 0; r < rows; ++r) read_weight_row(encoded, r, expanded.data() + static_cast<std::size_t>(r) * k);
        const weight_matrix plain = testing::encode_matrix(expanded, rows, k, dtype::f32);
        const int tokens = 41;  // beyond one 32-token chunk, with every tile remainder
        const std::vector<float> x = random_values(rng, static_cast<std::size_t>(tokens) * k, 1.0f);
        std::vector<float> want(static_cast<std::size_t>(tokens) * rows), all(want.size(), -1.0f);
        matmul_rows(isa, plain, 0, rows, x.data(), tokens, want.data(), rows);
        matmul_rows(isa, encoded, 0, rows, x.data(), tokens, all.data(), rows);
        CHECK(same_bits(want.data(), all.data(), all.size()));
        CHECK(all[0] != 0.0f);
        for (int t = 0; t < tokens; t += 5) {
          std::vector<float> one(static_cast<std::size_t>(rows), -1.0f);
          matmul_rows(isa, encoded, 0, rows, x.data() + static_cast<std::size_t>(t) * k, 1, one.data(), rows);
          CHECK(same_bits(one.data(), all.data() + static_cast<std::size_t>(t) * rows, static_cast<std::size_t>(rows)));
        }
        for (auto [r0, r1] : {std::pair<int, int>{5, 6}, {3, 12}, {0, 13}})
          for (int t0 : {1, 3, 8}) {
            std::vector<float> part(static_cast<std::size_t>(tokens) * rows, -1.0f);
            matmul_rows(isa, encoded, r0, r1, x.data() + static_cast<std::size_t>(t0) * k, tokens - t0, part.data(),
                        rows);
            for (int t = t0; t < tokens; ++t)
              CHECK(same_bits(part.data() + static_cast<std::size_t>(t - t0) * rows + r0,
                              all.data() + static_cast<std::size_t>(t) * rows + r0, static_cast<std::size_t>(r1 - r0)));
          }
      }
}

TEST_CASE("matmul weight shape checks name the tensor, the type and the block size") {
  testing::weight_rng rng(15);
  const weight_matrix w = testing::random_matrix(rng, 4, 256, 1.0f, dtype::q4_k);
  CHECK_NOTHROW(check_weight_shape(w, 4, 256, "blk.0.attn_q.weight"));
  CHECK_THROWS_WITH(check_weight_shape(w, 4, 512, "blk.0.attn_q.weight"),
                    doctest::Contains("blk.0.attn_q.weight: shape [4, 256], expected [4, 512]"));
  weight_matrix narrow = w;
  narrow.cols = 96;
  CHECK_THROWS_WITH(check_weight_shape(narrow, 4, 96, "blk.1.ffn_down.weight"),
                    doctest::Contains("blk.1.ffn_down.weight: q4_k stores rows in blocks of 256"));
  weight_matrix odd = w;
  odd.type = dtype::q8_k;
  CHECK_THROWS_WITH(check_weight_shape(odd, 4, 256, "output.weight"), doctest::Contains("unsupported type q8_k"));
  weight_matrix short_data = w;
  short_data.data.resize(10);
  CHECK_THROWS_WITH(check_weight_shape(short_data, 4, 256, "token_embd.weight"), doctest::Contains("holds 10 bytes"));
}

TEST_CASE("matmul on random block bytes: every decoder (scalar and SIMD) gives the reference values") {
  // Arbitrary bytes reach bit patterns a quantiser rarely writes (every high bit, every
  // scale); the scale fields (fp16) are set to finite values.
  struct layout {
    dtype type;
    int block_bytes;
    std::vector<int> half_offsets;
  };
  const layout layouts[] = {{dtype::q4_0, 18, {0}},      {dtype::q4_1, 20, {0, 2}}, {dtype::q5_0, 22, {0}},
                            {dtype::q5_1, 24, {0, 2}},   {dtype::iq4_nl, 18, {0}},  {dtype::q8_0, 34, {0}},
                            {dtype::q2_k, 84, {80, 82}}, {dtype::q3_k, 110, {108}}, {dtype::q4_k, 144, {0, 2}},
                            {dtype::q5_k, 176, {0, 2}},  {dtype::q6_k, 210, {208}}};
  testing::weight_rng rng(16);
  uint64_t s = 99;
  const auto next_byte = [&] {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    return static_cast<uint8_t>(s >> 56);
  };
  const int rows = 7, k = 512, tokens = 9;
  for (const layout& l : layouts) {
    const std::string type_name = dtype_name(l.type);
    CAPTURE(type_name);
    weight_matrix w;
    w.type = l.type;
    w.rows = rows;
    w.cols = k;
    w.data.resize(static_cast<std::size_t>(rows) * row_bytes(l.type, k));
    for (auto& b : w.data) b = next_byte();
    for (std::size_t at = 0; at < w.data.size(); at += static_cast<std::size_t>(l.block_bytes))
      for (int off : l.half_offsets) {
        const auto h = static_cast<uint16_t>(0x2000 + (next_byte() << 4));  // finite, ~2^-7 .. 2^-3
        std::memcpy(w.data.data() + at + off, &h, 2);
      }
    std::vector<float> expanded(static_cast<std::size_t>(rows) * k);
    for (int r = 0; r < rows; ++r) read_weight_row(w, r, expanded.data() + static_cast<std::size_t>(r) * k);
    const weight_matrix plain = testing::encode_matrix(expanded, rows, k, dtype::f32);
    const std::vector<float> x = random_values(rng, static_cast<std::size_t>(tokens) * k, 1.0f);
    for (cpu_isa isa : supported_isas()) {
      CAPTURE(cpu_isa_name(isa));
      std::vector<float> want(static_cast<std::size_t>(tokens) * rows), got(want.size(), -1.0f);
      matmul_rows(isa, plain, 0, rows, x.data(), tokens, want.data(), rows);
      matmul_rows(isa, w, 0, rows, x.data(), tokens, got.data(), rows);
      CHECK(same_bits(want.data(), got.data(), got.size()));
    }
  }
}

TEST_CASE("attention's page kernels give the bits of one dot / add_scaled call per key") {
  testing::weight_rng rng(15);
  for (int n : {1, 7, 8, 9, 32, 48, 64, 72, 100, 128, 200})
    for (int count : {1, 5, 16}) {
      CAPTURE(n);
      CAPTURE(count);
      const int64_t stride = n + 3;  // rows apart by more than their length
      const std::vector<float> q = random_values(rng, static_cast<std::size_t>(n), 1.0f);
      const std::vector<float> rows = random_values(rng, static_cast<std::size_t>(stride * count), 1.0f);
      std::vector<float> want(static_cast<std::size_t>(count)), got(want.size(), -1.0f);
      for (int j = 0; j < count; ++j)
        want[static_cast<std::size_t>(j)] = dot(q.data(), rows.data() + j * stride, n) / 7.0f;
      dot_rows(q.data(), rows.data(), stride, count, n, 7.0f, got.data());
      CHECK(same_bits(want.data(), got.data(), want.size()));
      std::vector<float> weights = random_values(rng, static_cast<std::size_t>(count), 1.0f);
      std::vector<float> out_want = random_values(rng, static_cast<std::size_t>(n), 1.0f), out_got = out_want;
      for (int j = 0; j < count; ++j)
        add_scaled(out_want.data(), weights[static_cast<std::size_t>(j)] / 3.0f, rows.data() + j * stride, n);
      add_scaled_rows(out_got.data(), weights.data(), 3.0f, rows.data(), stride, count, n);
      CHECK(same_bits(out_want.data(), out_got.data(), out_want.size()));
    }
}
