// What make_hip_backend says when it cannot build a backend. These run on every
// machine: shape errors come before any device call, and the no-GPU case is the
// normal case on CI.
#include <doctest/doctest.h>

#include <string>

#include "device/hip/hip_backend.hpp"
#include "tests/device/random_weights.hpp"
#include "tests/device/test_models.hpp"
#include "tests/device_hip/gpu_presence.hpp"

using namespace kvactor;
using namespace kvactor::testing;

TEST_CASE("hip backend: this build carries the GPU backend and names its target") {
  CHECK(hip_backend_built());
  const std::string target = hip_build_target();
  CHECK((target.rfind("nvidia: nvcc", 0) == 0 || target.rfind("amd: hipcc", 0) == 0));
}

TEST_CASE("hip backend: without a GPU, construction raises backend_error with the runtime's reason") {
  require_no_gpu();
  try {
    auto b = make_hip_backend(stories260k().weights, {16, 64});
    FAIL("make_hip_backend succeeded without a GPU");
  } catch (const backend_error& e) {
    const std::string message = e.what();
    INFO(message);
    CHECK(message.find("hip backend: no usable GPU: ") == 0);
    CHECK(message.size() > std::string("hip backend: no usable GPU: ").size());  // the runtime's reason follows
  }
}

TEST_CASE("hip backend: unsupported model shapes and layouts are refused by name before touching a device") {
  random_model_shape odd_head;  // head_dim 6: not a multiple of 4
  odd_head.dim = 24;
  odd_head.n_heads = 4;
  odd_head.n_kv_heads = 4;
  CHECK_THROWS_WITH_AS(make_hip_backend(make_random_model(odd_head), {16, 8}), doctest::Contains("head_dim 6"),
                       backend_error);
  random_model_shape wide_group;  // 16 query heads per kv head
  wide_group.dim = 128;
  wide_group.n_heads = 16;
  wide_group.n_kv_heads = 1;
  CHECK_THROWS_WITH_AS(make_hip_backend(make_random_model(wide_group), {16, 8}),
                       doctest::Contains("16 query heads per kv head"), backend_error);
  random_model_shape uneven_heads;  // 5 heads do not divide dim 64: refused by the check the CPU backend shares
  uneven_heads.n_heads = 5;
  uneven_heads.n_kv_heads = 5;
  CHECK_THROWS_WITH_AS(make_hip_backend(make_random_model(uneven_heads), {16, 8}),
                       doctest::Contains("unsupported head shape"), backend_error);
  CHECK_THROWS_WITH_AS(make_hip_backend(nullptr, {16, 8}), doctest::Contains("no model weights"), backend_error);
  CHECK_THROWS_WITH_AS(make_hip_backend(stories260k().weights, {16, 0}), doctest::Contains("num_pages 0"),
                       backend_error);
}
