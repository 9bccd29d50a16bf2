// A backend that does no work: each sampled token is a cheap deterministic function
// of the sequence's position and last token, independent of batching and chunking
// (like a batch-invariant model). For measuring the actor pipeline alone and for
// protocol tests that need no model.
#pragma once

#include <memory>

#include "device/backend.hpp"

namespace kvactor {

// vocab_size >= 4; tokens 0..2 (unk, BOS, EOS) are never produced.
std::unique_ptr<backend> make_null_backend(int vocab_size, int max_seq_len, kv_layout layout);

// The token the null backend samples after `last_token` at position `pos`.
int32_t null_backend_token(int32_t last_token, int32_t pos, int vocab_size);

}  // namespace kvactor
