// Checks a whole batch before the backend touches any state, so a bad step throws
// backend_error and leaves the KV store exactly as it was.
#pragma once

#include <vector>

#include "device/backend.hpp"

namespace kvactor {

// Throws backend_error unless page_size > 0 and num_pages > 0; every backend checks
// its layout with this before allocating the store.
void validate_layout(const kv_layout& layout);

// Throws backend_error naming the sequence (batch index and seq_id) and the problem:
// empty token list, token id out of range, negative start, positions past the
// model's context, block table too short, page id outside the store, two writes to
// the same KV slot in one step, or invalid sampling parameters.
void validate_step(const std::vector<sequence_step>& batch, const model_config& config, const kv_layout& layout);

}  // namespace kvactor
