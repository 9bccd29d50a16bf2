// The CPU reference backend: the Llama forward pass over a page-major KV store,
// batch-invariant by construction (see cpu_backend.cpp for how).
#pragma once

#include <memory>

#include "device/backend.hpp"

namespace kvactor {

// Builds a CPU backend over `weights` with a KV store of `layout` (allocated once,
// here). `threads` <= 0 means one per hardware thread. Results are bit-identical for
// any thread count. Throws backend_error for weights of an unsupported shape or type
// and for a layout that is empty or too large to allocate.
// One step at a time: step() is not reentrant (the owning device actor serialises it);
// inside a step the backend's own worker threads split the work.
std::unique_ptr<backend> make_cpu_backend(std::shared_ptr<const model_weights> weights, kv_layout layout,
                                          int threads);

}  // namespace kvactor
