// Step profiling (benchmarks' view of where a step's time goes): it names every
// launcher section, and turning it on changes no result.
#include <doctest/doctest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "device/cpu_backend.hpp"
#include "device/hip/hip_backend.hpp"
#include "tests/device/engine_runs.hpp"
#include "tests/device/test_models.hpp"
#include "tests/device_hip/gpu_presence.hpp"

using namespace kvactor;
using namespace kvactor::testing;

TEST_CASE("hip backend: step profiling covers every launcher section and changes no logits") {
  require_gpu();
  const auto& weights = stories260k().weights;
  const std::vector<int32_t> table = page_range(0, 4);
  sequence_step s;
  s.seq_id = 1;
  s.tokens = {1, 40, 41, 42};
  s.block_table = table;
  s.return_logits = true;
  s.sample = true;

  auto plain = make_hip_backend(weights, {16, 4});
  auto profiled = make_hip_backend(weights, {16, 4});
  CHECK(last_hip_step_profile(*profiled).timed_sections == 0);  // nothing before profiling is on
  REQUIRE(set_hip_step_profiling(*profiled, true));
  const sequence_result a = plain->step({s})[0];
  const sequence_result b = profiled->step({s})[0];
  CHECK(a.token == b.token);
  CHECK(a.logits == b.logits);

  const hip_step_profile p = last_hip_step_profile(*profiled);
  // embedding, 12 sections per layer, final norm + classifier + argmax
  CHECK(p.timed_sections == 1 + 12 * weights->config.n_layers + 3);
  CHECK(p.wall_ms > 0);
  CHECK(p.kernel_ms >= 0);
  CHECK(p.kernel_ms <= p.device_span_ms + 1e-3);
  double by_name = 0;
  std::vector<std::string> names;
  for (const auto& [name, ms] : p.kernel_ms_by_name) {
    by_name += ms;
    names.push_back(name);
  }
  CHECK(by_name == doctest::Approx(p.kernel_ms));
  for (const char* expected : {"embedding_gather", "matmul qkv", "paged_attention", "matmul classifier", "argmax"})
    CHECK_MESSAGE(std::find(names.begin(), names.end(), expected) != names.end(), expected);

  set_hip_step_profiling(*profiled, false);
  CHECK(last_hip_step_profile(*profiled).timed_sections == 0);
}

TEST_CASE("hip backend: step profiling is refused for a backend that is not the GPU's") {
  auto cpu = make_cpu_backend(stories260k().weights, {16, 4}, 1);
  CHECK_FALSE(set_hip_step_profiling(*cpu, true));
  CHECK(last_hip_step_profile(*cpu).timed_sections == 0);
}
