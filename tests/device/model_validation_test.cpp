// validate_model is the one shape check the CPU and GPU backends share: each bad
// model is refused with a message naming what is wrong.
#include <doctest/doctest.h>

#include "device/backend.hpp"
#include "device/cpu_backend.hpp"
#include "device/model_validation.hpp"
#include "tests/device/random_weights.hpp"

using namespace kvactor;
using namespace kvactor::testing;

TEST_CASE("validate_model accepts a well-formed model of every weight type") {
  for (dtype t : {dtype::f32, dtype::f16, dtype::q8_0}) {
    random_model_shape s;
    s.type = t;
    s.n_kv_heads = 2;
    CHECK_NOTHROW(validate_model(*make_random_model(s)));
  }
}

TEST_CASE("validate_model refuses bad configs and mis-shaped tensors by name") {
  const auto good = make_random_model(random_model_shape{});
  auto bad = [&](auto&& damage) {
    model_weights w = *good;
    damage(w);
    return w;
  };
  CHECK_THROWS_WITH_AS(validate_model(bad([](model_weights& w) { w.config.vocab_size = 0; })),
                       doctest::Contains("non-positive size"), backend_error);
  CHECK_THROWS_WITH_AS(validate_model(bad([](model_weights& w) { w.config.n_heads = 5; })),
                       doctest::Contains("unsupported head shape"), backend_error);
  CHECK_THROWS_WITH_AS(validate_model(bad([](model_weights& w) { w.config.rope_theta = 0.0f; })),
                       doctest::Contains("rope_theta > 0"), backend_error);
  CHECK_THROWS_WITH_AS(validate_model(bad([](model_weights& w) { w.layers.pop_back(); })),
                       doctest::Contains("layers of weights"), backend_error);
  CHECK_THROWS_WITH_AS(validate_model(bad([](model_weights& w) { w.layers[1].wk.rows -= 1; })),
                       doctest::Contains("blk.1.attn_k"), backend_error);
  CHECK_THROWS_WITH_AS(validate_model(bad([](model_weights& w) { w.final_norm.pop_back(); })),
                       doctest::Contains("output_norm"), backend_error);
  // The CPU backend runs the same check before building anything.
  CHECK_THROWS_WITH_AS(
      make_cpu_backend(std::make_shared<model_weights>(bad([](model_weights& w) { w.layers[0].w2.cols = 3; })), {16, 8},
                       1),
      doctest::Contains("blk.0.ffn_down"), backend_error);
}

TEST_CASE("validate_model checks the architecture extras: biases, Q/K norms, rope factors, head_dim") {
  random_model_shape s;
  s.qkv_bias = true;
  s.qk_norm = true;
  s.rope_factors = true;
  s.head_dim = 24;  // q_dim 96 with dim 64
  s.rope = rope_style::neox;
  const auto good = make_random_model(s);
  CHECK_NOTHROW(validate_model(*good));
  auto bad = [&](auto&& damage) {
    model_weights w = *good;
    damage(w);
    return w;
  };
  CHECK_THROWS_WITH_AS(validate_model(bad([](model_weights& w) { w.layers[1].bk.pop_back(); })),
                       doctest::Contains("blk.1.attn_k.bias: 95 values, expected 96"), backend_error);
  CHECK_THROWS_WITH_AS(validate_model(bad([](model_weights& w) { w.layers[0].q_norm.push_back(1.0f); })),
                       doctest::Contains("blk.0.attn_q_norm: 25 values, expected 24"), backend_error);
  CHECK_THROWS_WITH_AS(validate_model(bad([](model_weights& w) { w.rope_freq_factors.pop_back(); })),
                       doctest::Contains("rope_freqs: 11 factors, head_dim / 2 is 12"), backend_error);
  CHECK_THROWS_WITH_AS(validate_model(bad([](model_weights& w) { w.config.head_width = 25; })),
                       doctest::Contains("even head_dim"), backend_error);
  // wq is [q_dim, dim] = [96, 64] and wo [dim, q_dim]: a head_dim of dim / heads no longer fits.
  CHECK_THROWS_WITH_AS(
      validate_model(bad([](model_weights& w) { w.config.head_width = 0, w.rope_freq_factors.clear(); })),
      doctest::Contains("blk.0.attn_q"), backend_error);
}
