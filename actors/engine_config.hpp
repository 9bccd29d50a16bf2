// Everything the actor system needs to start: model, cache geometry, batching limits.
// Plain data; the HTTP config loader and the CLI fill it. engine_choice_error checks the
// keys that name a choice.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
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

namespace engine_config_detail {

// "key: must be "a", "b" or "c", got "x"" when value is none of the allowed ones, else "".
inline std::string one_of(const char* key, const std::string& value, std::initializer_list<const char*> allowed) {
  std::string list;
  std::size_t i = 0;
  for (const char* a : allowed) {
    if (value == a) return "";
    list += std::string(i == 0 ? "" : i + 1 == allowed.size() ? " or " : ", ") + "\"" + a + "\"";
    ++i;
  }
  return std::string(key) + ": must be " + list + ", got \"" + value + "\"";
}

}  // namespace engine_config_detail

// The first problem with the keys that name a choice (device, eviction_policy,
// actor_scheduler, q8_0_activations, and int8 on the GPU) as "key: what is wrong", or ""
// when there is none. The server's config loader reports it as a config_error, the
// engine as invalid_argument: one list of the allowed values for both. Inline: the HTTP
// library uses it without linking the actors.
inline std::string engine_choice_error(const engine_config& cfg) {
  using engine_config_detail::one_of;
  for (const std::string& error :
       {one_of("device", cfg.device, {"cpu", "hip"}), one_of("eviction_policy", cfg.eviction_policy, {"lru", "lfu"}),
        one_of("actor_scheduler", cfg.actor_scheduler, {"auto", "sharing", "stealing"}),
        one_of("q8_0_activations", cfg.q8_0_activations, {"auto", "int8", "f32"})})
    if (!error.empty()) return error;
  if (cfg.q8_0_activations == "int8" && cfg.device == "hip")
    return "q8_0_activations: \"int8\" is CPU-only (the GPU kernels multiply Q8_0 and the K-quants in F32)";
  return "";
}

}  // namespace kvactor
