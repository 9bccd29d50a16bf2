// The GPU backend (HIP kernels; built with hipcc for AMD or nvcc for NVIDIA).
// This header compiles without any GPU toolchain: a build without one still
// links make_hip_backend, which then raises a clear backend_error, so the engine
// can offer `device: hip` in its config everywhere.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "device/backend.hpp"

namespace kvactor {

// Builds a GPU backend over `weights` with a KV store of `layout`: weights are
// uploaded once and the KV store is allocated once, here, on the current device.
// Same batched step API and batch-invariance guarantee as the CPU backend; greedy
// tokens are chosen on the device, other sampling runs the CPU sampler on the
// copied logits (same semantics, device/sampling.hpp).
// Throws backend_error when the build has no GPU backend ("kvactor was built
// without HIP ..."), when no GPU is usable (the runtime's reason), for weights
// of an unsupported shape or type (naming it), and when memory runs out.
std::unique_ptr<backend> make_hip_backend(std::shared_ptr<const model_weights> weights, kv_layout layout);

// True when this build compiled the GPU backend.
bool hip_backend_built();

// What the GPU backend was compiled for, e.g. "nvidia: nvcc, sm_90a",
// "amd: hipcc, gfx90a,gfx1030", or "none (KVACTOR_HIP=off)".
const char* hip_build_target();

// Where a GPU backend's last step spent its time, for benchmarks. Off by default:
// profiling records two device events around every kernel launch, which costs
// host time, so profiled steps are not the ones to time for throughput.
struct hip_step_profile {
  double wall_ms = 0;         // the whole step() call
  double prepare_ms = 0;      // host, before the first launch: validation, index arrays, their upload
  double enqueue_ms = 0;      // host: launching the kernels, up to the wait for them
  double device_span_ms = 0;  // device: first launch's start to last launch's end, idle gaps included
  double kernel_ms = 0;       // device: the launches' own times, summed
  int timed_sections = 0;     // bracketed launcher calls (a section may hold several kernels)
  std::vector<std::pair<std::string, double>> kernel_ms_by_name;  // summed per kernel, first-launch order
};

// Turns step profiling on or off; returns false (and does nothing) when `b` is not
// a GPU backend.
bool set_hip_step_profiling(backend& b, bool on);

// The profile of b's last step while profiling was on (zeros otherwise).
hip_step_profile last_hip_step_profile(const backend& b);

}  // namespace kvactor
