// GPU tests run only where a GPU is. Without one, require_gpu() prints why and
// ends the process with exit code 77, which ctest reports as SKIPPED (the tests
// are registered with SKIP_RETURN_CODE 77), so a machine without a GPU neither
// fails these tests nor reports them as passed.
#pragma once

namespace kvactor::testing {

inline constexpr int skip_exit_code = 77;

// Returns when a GPU is usable; otherwise prints "SKIPPED: no GPU ..." and exits 77.
void require_gpu();

// The opposite, for tests of the behaviour without a GPU.
void require_no_gpu();

}  // namespace kvactor::testing
