#include "actors/gateway.hpp"

#include <algorithm>
#include <stdexcept>

#include "device/cpu_backend.hpp"
#include "device/hip/hip_backend.hpp"
#include "model/loader.hpp"

namespace kvactor {
namespace {

loaded_model load(const engine_config& cfg) {
  try {
    return load_model(cfg.model_path, cfg.tokenizer_path);
  } catch (const std::exception& e) {
    throw std::runtime_error(std::string("cannot load the model: ") + e.what());
  }
}

std::shared_ptr<backend> make_backend(const engine_config& cfg, const loaded_model& model) {
  if (const std::string error = engine_choice_error(cfg); !error.empty()) throw std::runtime_error(error);
  try {
    kv_layout layout{cfg.page_size, cfg.num_pages};
    if (cfg.device == "hip") return make_hip_backend(model.weights, layout);
    return make_cpu_backend(model.weights, layout,
                            cfg.device_threads > 0 ? cfg.device_threads : default_cpu_threads(*model.weights),
                            parse_q8_0_activations(cfg.q8_0_activations));
  } catch (const std::exception& e) {
    throw std::runtime_error("cannot start the " + cfg.device + " backend: " + e.what());
  }
}

}  // namespace

// The model is loaded (delegation) before engine_host is built over it; the backend
// keeps the weights and engine_host the tokenizer, so the gateway keeps nothing itself.
gateway::gateway(const engine_config& cfg) : gateway(cfg, load(cfg)) {}

gateway::gateway(const engine_config& cfg, const loaded_model& model) try
    : engine_host(cfg, model.weights->config, end_of_generation_ids(*model.tok), make_backend(cfg, model), 0,
                  model.tok) {
} catch (const std::invalid_argument& e) {
  throw std::runtime_error(e.what());  // a bad config, as every other gateway error
}

std::vector<int32_t> end_of_generation_ids(const tokenizer& tok) {
  std::vector<int32_t> ids = tok.end_of_generation_ids();
  for (int32_t id : {tok.eos_id(), tok.bos_id()})
    if (id >= 0 && std::find(ids.begin(), ids.end(), id) == ids.end()) ids.push_back(id);
  return ids;
}

}  // namespace kvactor
