// What must hold of anything a loader accepted, however hostile the file was:
// shapes agree with the config and the buffers hold exactly that many elements,
// and the tokenizer encodes and decodes without leaving its vocabulary.
#pragma once

#include "model/model.hpp"
#include "model/tokenizer.hpp"

namespace kvactor::fuzz {

void check_weights(const model_weights& w);
void check_tokenizer(const tokenizer& tok);

}  // namespace kvactor::fuzz
