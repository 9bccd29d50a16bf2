#pragma once

#include <cstdint>

namespace kvactor::scheduling {

// The scheduler's knobs that its policy functions read (a subset of engine_settings).
struct limits {
  int32_t max_batch = 8;              // sequences running (and in one step) at most
  int32_t max_tokens_per_step = 512;  // token budget of one device step
  int32_t prefill_chunk = 256;        // prompt tokens of one sequence in one step, at most
  int32_t page_size = 16;             // tokens per KV page
  int32_t max_wait_steps = 8;         // admission rounds a request may be passed over
};

}  // namespace kvactor::scheduling
