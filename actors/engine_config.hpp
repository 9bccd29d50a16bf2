// Everything the actor system needs to start: model, cache geometry, batching limits.
// Plain data; the HTTP config loader and the CLI fill it.
#pragma once

#include <cstdint>
#include <string>

namespace kvactor {

struct engine_config {
  std::string model_path;               // .bin (llama2.c) or .gguf
  std::string tokenizer_path;           // llama2.c tokenizer.bin; empty for GGUF (tokenizer in metadata)
  std::string device = "cpu";           // cpu | hip
  int page_size = 16;                   // tokens per KV page
  int num_pages = 4096;                 // physical KV pages
  int max_batch = 64;                   // sequences per device step
  int max_tokens_per_step = 2048;       // token budget per step (prefill chunks + decode tokens)
  int prefill_chunk = 512;              // longest prefill chunk for one sequence in one step
  int queue_limit = 1024;               // waiting requests before QUEUE_FULL
  int max_wait_steps = 64;              // bound on how long cache-aware ordering may pass a request over
  int device_threads = 0;               // CPU backend worker threads; 0: default_cpu_threads(model)
  std::string eviction_policy = "lru";  // lru | lfu
  // How Q8_0 weights are multiplied (device/cpu_backend.hpp): "int8" quantizes each
  // product's input to Q8_0 blocks as llama.cpp does and multiplies 8-bit integers (CPU
  // only); "f32" keeps the input in F32 (exact dequantized weights; slower on the CPU);
  // "auto" (the default): int8 on the CPU, f32 on the GPU (its only kernels).
  std::string q8_0_activations = "auto";
  int prefix_cache = 1;  // 1: requests reuse cached prompt prefixes; 0: never (the uncached baseline)
  // How CAF runs the actors: "stealing" (CAF's default: idle workers poll, sleeping 50 us -
  // 10 ms between polls), "sharing" (idle workers block until a message arrives), or "auto"
  // (the default): sharing when the backend keeps more than one thread of this process busy
  // (the pollers' wake-ups then take cores from the step), else stealing. Sharing serves the
  // 15M-shape models 1.3-1.6x faster here (bench/results/peer.md). It was opt-in until the
  // heap corruption seen with it was found: an engine actor let go of an HTTP connection
  // after its server was freed (any policy; sharing's timing exposed it), fixed by
  // http/fenced_service.hpp.
  std::string actor_scheduler = "auto";
};

}  // namespace kvactor
