// Checks a model before a backend builds anything from it, so every backend refuses
// the same bad models with the same messages.
#pragma once

#include "model/model.hpp"

namespace kvactor {

// Throws backend_error unless the config is a Llama shape every backend can run
// (positive sizes, heads dividing dim, kv heads dividing heads, an even head_dim for
// RoPE, positive norm_eps and rope_theta) and every tensor has the shape, type and
// byte count that config implies. Backends add their own limits after this.
void validate_model(const model_weights& w);

}  // namespace kvactor
