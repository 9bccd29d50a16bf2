// The models the device tests run on: the bundled stories260K and seeded
// random-weight shapes (loaded/built once per process and shared).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "model/loader.hpp"
#include "tests/device/random_weights.hpp"

namespace kvactor::testing {

// stories260K.bin + tok512.bin from KVACTOR_MODELS_DIR.
const loaded_model& stories260k();

struct named_model {
  std::string name;
  std::shared_ptr<const model_weights> weights;
};

// stories260K plus random models: GQA f32, MHA with a separate classifier in f16, and q8_0.
const std::vector<named_model>& invariance_models();
// invariance_models() and the types only the CPU backend multiplies (Q4_K and Q6_K, in
// integers with Q8_K activations): what the CPU's own tests run.
const std::vector<named_model>& cpu_invariance_models();

}  // namespace kvactor::testing
