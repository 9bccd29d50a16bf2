#include "tests/device_hip/gpu_presence.hpp"

#include <cstdio>
#include <cstdlib>

#include "device/hip/device_memory.hpp"

namespace kvactor::testing {

namespace {

const hip::gpu_probe& probe() {
  static const hip::gpu_probe result = hip::probe_gpu();
  return result;
}

}  // namespace

void require_gpu() {
  if (probe().available) return;
  std::fprintf(stderr, "SKIPPED: no GPU on this machine (%s); this GPU test did not run\n",
               probe().description.c_str());
  std::fflush(stderr);
  std::exit(skip_exit_code);
}

void require_no_gpu() {
  if (!probe().available) return;
  std::fprintf(stderr, "SKIPPED: a GPU is present (%s); this test covers machines without one\n",
               probe().description.c_str());
  std::fflush(stderr);
  std::exit(skip_exit_code);
}

}  // namespace kvactor::testing
