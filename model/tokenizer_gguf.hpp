// The tokenizer described by a GGUF file's tokenizer.* metadata (no tensors
// needed: vocabulary-only files work).
//   tokenizer.ggml.model        "llama" (default) or "gpt2"
//   tokenizer.ggml.pre          pre-tokenizer of "gpt2" vocabularies ("default" when absent)
//   tokenizer.ggml.tokens / scores / token_type / merges
//   tokenizer.ggml.bos_token_id / eos_token_id / unknown_token_id / eot_token_id / eom_token_id
//   tokenizer.ggml.add_bos_token / add_eos_token / add_space_prefix (bools)
//   tokenizer.chat_template, general.name
#pragma once

#include "model/gguf_reader.hpp"
#include "model/tokenizer.hpp"

namespace kvactor {

// Throws model_error naming the file and the bad key.
tokenizer tokenizer_from_gguf(const gguf::reader& r);

}  // namespace kvactor
