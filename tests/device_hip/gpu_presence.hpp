// GPU tests run only where a GPU is. Without one, require_gpu() prints why and
// ends the process with exit code 77, which ctest reports as SKIPPED (the tests
// are registered with SKIP_RETURN_CODE 77), so a machine without a GPU neither
// fails these tests nor reports them as passed.
#pragma once

namespace kvactor::testing {

inline constexpr int skip_exit_code = 77;

// True in device_hip_emulated_tests, where the kernels run on the CPU emulation
// (tests/device_hip/emulation/): the tests then use shorter runs that still cross
// the same boundaries (a context past one 256-key attention chunk, a batch of 64).
#if defined(KVACTOR_GPU_EMULATION)
inline constexpr bool emulated_gpu = true;
#else
inline constexpr bool emulated_gpu = false;
#endif

// Returns when a GPU is usable; otherwise prints "SKIPPED: no GPU ..." and exits 77.
void require_gpu();

// The opposite, for tests of the behaviour without a GPU.
void require_no_gpu();

}  // namespace kvactor::testing
