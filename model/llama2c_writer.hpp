// Writes llama2.c checkpoints and tokenizer.bin files (the formats
// llama2c_loader.hpp and tokenizer::load_llama2c read), e.g. for random-weight
// benchmark models. Checkpoints hold f32 only.
#pragma once

#include <string>

#include "model/model.hpp"
#include "model/tokenizer.hpp"

namespace kvactor {

// Throws model_error naming the file if a matrix is not f32 or has the wrong size.
// The freq_cis tables run.c's format carries (and ignores) are written with the
// values llama2.c's export computes for rope_theta.
void write_llama2c(const std::string& path, const model_weights& weights);

void write_llama2c_tokenizer(const std::string& path, const tokenizer& tok);

}  // namespace kvactor
