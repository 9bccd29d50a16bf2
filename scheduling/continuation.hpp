#pragma once

// Continuation (issue 18 item 3): after a device step, the scheduler itself issues a
// decoding sequence's next step, whose input is the token the step just sampled, instead
// of waiting for the request actor's next offer. The request actor then streams and
// accounts in parallel with the next step. It may do so only where the request actor's
// own offer would be exactly that step and its bookkeeping changes nothing the step uses:
// no page filled (so nothing is published, and no block-table entry can be replaced by a
// canonical page), the block table already covers the positions the request would ask
// pages for, and the context is not full. Where a step may start without waiting for every
// request of the last one is decided by should_start_step.

#include <cstdint>

namespace kvactor::scheduling {

// The step a sequence just finished, as continuation sees it.
struct finished_step {
  int32_t start_pos = 0;   // first position the step wrote
  int32_t processed = 0;   // tokens the step took (positions written)
  bool sampled = false;    // the step sampled a token (the sequence's next input)
  int32_t pages_held = 0;  // block-table pages of the step's offer
  // The request's own end: it takes tokens while sample_index < max_tokens (0: no limit).
  // A step whose sampled token is the request's last is never continued (the request leaves).
  uint64_t sample_index = 0;  // index of the token the step sampled
  int32_t max_tokens = 0;
};

// Whether the scheduler may issue the next step (input: the sampled token at position
// start_pos + processed) without the request actor's offer. The request actor asks pages
// for min(tokens + 1, max_seq_len) positions, tokens = start_pos + processed + 1.
bool can_continue(const finished_step& s, int32_t page_size, int32_t max_seq_len);

// Whether a step may start now: always when no request of the last step is still
// processing its result; while some are, only if at least as many sequences are ready
// (so a step is not started for one early offer while the rest are on their way) and no
// request is starving (preemption needs the device idle).
bool should_start_step(int32_t ready, int32_t processing, bool starving);

}  // namespace kvactor::scheduling
