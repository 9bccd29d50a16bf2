#pragma once

// Batch formation: which ready sequences go into the next device step, and how many of
// their offered tokens, under max_batch sequences and max_tokens_per_step tokens. Decode
// sequences (one token offered) go first, one token each (latency-critical); then prefill
// chunks of at most prefill_chunk tokens in running (admission) order within the budget
// left. The first prefill that gets no token ends the step's formation.

#include <cstddef>
#include <cstdint>
#include <vector>

#include "scheduling/limits.hpp"

namespace kvactor::scheduling {

// A running sequence as batch formation sees it.
struct step_candidate {
  bool ready = false;   // has an offer waiting for a step
  int32_t offered = 0;  // tokens in the offer (1 while decoding)
};

struct batch_slot {
  std::size_t index = 0;   // into the candidates
  int32_t tokens = 0;      // leading tokens of the offer taken into the step
  bool truncated = false;  // fewer than offered: a prefill chunk that samples nothing
};

struct formed_batch {
  std::vector<batch_slot> slots;  // decode slots first, then prefill chunks
  int32_t tokens = 0;             // sum of the slots' tokens (<= max_tokens_per_step)
};

formed_batch form_batch(const std::vector<step_candidate>& candidates, const limits& lim);

}  // namespace kvactor::scheduling
