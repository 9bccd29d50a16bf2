// The emulation itself: the warp size it was built for, and shared memory that starts
// each block poisoned (NaN floats), never zeroed or left over from the block before.
#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include "device/hip/hip_compat.hpp"

namespace {

// Thread 0 reads shared memory nobody wrote in this block; then every thread writes it,
// so a block that saw the previous block's values would read 1s.
__global__ void read_unwritten_shared(float* out) {
  __shared__ float scratch[64];
  __shared__ int counters[4];
  if (threadIdx.x == 0) {
    out[2 * blockIdx.x] = scratch[7];
    out[2 * blockIdx.x + 1] = static_cast<float>(counters[3]);
  }
  __syncthreads();
  scratch[threadIdx.x % 64] = 1.0f;
  if (threadIdx.x < 4) counters[threadIdx.x] = 5;
}

// Each lane exchanges its index with the lane half a warp away.
__global__ void swap_half_warps(float* out) {
  const int lane = static_cast<int>(threadIdx.x);
  out[lane] = kvactor::hip::shfl_xor(static_cast<float>(lane), kvactor::hip::warp_size / 2);
}

}  // namespace

TEST_CASE("emulation: the warp size is the configured one, for kernels and device properties") {
  CHECK(kvactor::hip::warp_size == KVACTOR_EMULATED_WARP_SIZE);
  hipDeviceProp_t props{};
  REQUIRE(hipGetDeviceProperties(&props, 0) == hipSuccess);
  CHECK(props.warpSize == KVACTOR_EMULATED_WARP_SIZE);
  std::vector<float> out(128, -1.0f);
  float* p = out.data();
  kvactor::emulation::launch(dim3(1), dim3(128), [p] { swap_half_warps(p); });
  const int half = KVACTOR_EMULATED_WARP_SIZE / 2;
  for (int lane = 0; lane < 128; ++lane) CHECK(out[static_cast<std::size_t>(lane)] == static_cast<float>(lane ^ half));
}

TEST_CASE("emulation: shared memory starts every block poisoned") {
  std::vector<float> out(6, 0.0f);
  float* p = out.data();
  kvactor::emulation::launch(dim3(3), dim3(64), [p] { read_unwritten_shared(p); });
  for (int block = 0; block < 3; ++block) {
    CHECK(std::isnan(out[static_cast<std::size_t>(2 * block)]));   // not 0, not the last block's 1
    CHECK(out[static_cast<std::size_t>(2 * block + 1)] == -1.0f);  // an int of 0xFF bytes
  }
  CHECK(kvactor::emulation::poison_shared_memory() >= sizeof(float) * 64 + sizeof(int) * 4);
}
