// The CPU reference backend: the Llama forward pass over a page-major KV store,
// batch-invariant by construction (see cpu_backend.cpp for how).
#pragma once

#include <memory>
#include <string>

#include "device/backend.hpp"

namespace kvactor {

// Builds a CPU backend over `weights` with a KV store of `layout` (allocated once,
// here). `threads` <= 0 means one per hardware thread. Results are bit-identical for
// any thread count. Throws backend_error for weights of an unsupported shape or type
// and for a layout that is empty or too large to allocate.
// One step at a time: step() is not reentrant (the owning device actor serialises it);
// inside a step the backend's own worker threads split the work.
std::unique_ptr<backend> make_cpu_backend(std::shared_ptr<const model_weights> weights, kv_layout layout, int threads);

// How products with Q8_0, Q4_K, Q5_K and Q6_K weights are computed (engine config
// `q8_0_activations`, named for the first type it covered):
//  - int8 (the default): as llama.cpp does, each product's input is quantized too, to
//    Q8_0 blocks for Q8_0 weights and to Q8_K blocks for the K-quants, and the two meet as
//    integers (device/cpu_q8_activations.hpp, cpu_q8k_activations.hpp); the integer sums are
//    llama.cpp's, so its greedy answers on such files are followed;
//  - f32: the weights read as their exact values, the input kept in F32 (the same bits
//    as an F32 file holding the dequantized weights; slower).
// Either is batch-invariant. Other weight types are unaffected.
enum class q8_0_activations { int8, f32 };
std::unique_ptr<backend> make_cpu_backend(std::shared_ptr<const model_weights> weights, kv_layout layout, int threads,
                                          q8_0_activations q8);
// "int8" | "f32" | "auto" (int8: the CPU's meaning of the default); throws backend_error
// naming the key for anything else.
q8_0_activations parse_q8_0_activations(const std::string& name);

// The thread count `device_threads: 0` (the default) picks: 1 for a model of fewer than 4M
// parameters (stories260K-class steps are too small to split: a second thread only takes
// the core the scheduler and HTTP threads use, bench/RESULTS.md "device_threads"), else
// one per usable CPU. Counted in parameters, not bytes: a quantized 15M model is as much
// // work per token as its F32 file (15M shape, Q8_0, 17 MB: 2 threads 1.9x one at batch 1 in
// engine_bench, bench/results/peer.md), and a 1B model 1.7x (bench/results/peer-models.md).
int default_cpu_threads(const model_weights& weights);

// CPUs this process may run on (its affinity mask, e.g. under taskset or a container's
// cpuset), at least 1; std::thread::hardware_concurrency() counts the whole machine.
int usable_cpus();

}  // namespace kvactor
