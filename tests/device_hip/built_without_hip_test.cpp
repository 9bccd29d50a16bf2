// Built instead of the GPU tests when kvactor has no GPU backend: the factory
// must still link and say clearly why it cannot help.
#include <doctest/doctest.h>

#include <string>

#include "device/hip/hip_backend.hpp"
#include "tests/device/random_weights.hpp"

using namespace kvactor;

TEST_CASE("hip backend: a build without HIP says so when asked for the GPU backend") {
  CHECK_FALSE(hip_backend_built());
  CHECK(std::string(hip_build_target()).rfind("none (KVACTOR_HIP=", 0) == 0);
  CHECK_THROWS_WITH_AS(make_hip_backend(testing::make_random_model({}), {16, 8}),
                       doctest::Contains("kvactor was built without HIP (KVACTOR_HIP="), backend_error);
}
