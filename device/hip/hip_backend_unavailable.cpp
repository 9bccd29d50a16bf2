// Linked instead of hip_backend.cpp when the build has no GPU compiler, so the
// engine can still name `device: hip` and get a clear error.
#include "device/hip/hip_backend.hpp"

#include <string>

#ifndef KVACTOR_HIP_UNAVAILABLE_REASON
#define KVACTOR_HIP_UNAVAILABLE_REASON "KVACTOR_HIP=off"
#endif

namespace kvactor {

std::unique_ptr<backend> make_hip_backend(std::shared_ptr<const model_weights>, kv_layout) {
  throw backend_error(
      std::string("kvactor was built without HIP (") + KVACTOR_HIP_UNAVAILABLE_REASON +
      "): rebuild with -DKVACTOR_HIP=auto|amd|nvidia on a machine with hipcc or nvcc, or use device: cpu");
}

bool hip_backend_built() { return false; }

const char* hip_build_target() { return "none (" KVACTOR_HIP_UNAVAILABLE_REASON ")"; }

bool set_hip_step_profiling(backend&, bool) { return false; }

hip_step_profile last_hip_step_profile(const backend&) { return {}; }

}  // namespace kvactor
