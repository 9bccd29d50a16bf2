#include "actors/gateway.hpp"

#include <algorithm>
#include <stdexcept>

#include "actors/engine_host.hpp"
#include "device/cpu_backend.hpp"
#include "device/hip/hip_backend.hpp"
#include "model/loader.hpp"

namespace kvactor {

struct gateway::impl {
  engine_config cfg;
  loaded_model model;
  std::unique_ptr<engine_host> host;
};

gateway::gateway(const engine_config& cfg) : impl_(std::make_unique<impl>()) {
  impl_->cfg = cfg;
  try {
    impl_->model = load_model(cfg.model_path, cfg.tokenizer_path);
  } catch (const std::exception& e) {
    throw std::runtime_error(std::string("cannot load the model: ") + e.what());
  }
  if (cfg.device != "cpu" && cfg.device != "hip")
    throw std::runtime_error("device must be cpu or hip (got '" + cfg.device + "')");
  std::shared_ptr<backend> be;
  try {
    kv_layout layout{cfg.page_size, cfg.num_pages};
    if (cfg.device == "hip")
      be = make_hip_backend(impl_->model.weights, layout);
    else
      be = make_cpu_backend(impl_->model.weights, layout,
                            cfg.device_threads > 0 ? cfg.device_threads : default_cpu_threads(*impl_->model.weights));
  } catch (const std::exception& e) {
    throw std::runtime_error("cannot start the " + cfg.device + " backend: " + e.what());
  }
  try {
    impl_->host = std::make_unique<engine_host>(cfg, impl_->model.weights->config,
                                                end_of_generation_ids(*impl_->model.tok), std::move(be));
  } catch (const std::invalid_argument& e) {
    throw std::runtime_error(e.what());
  }
}

std::vector<int32_t> end_of_generation_ids(const tokenizer& tok) {
  std::vector<int32_t> ids = tok.end_of_generation_ids();
  for (int32_t id : {tok.eos_id(), tok.bos_id()})
    if (id >= 0 && std::find(ids.begin(), ids.end(), id) == ids.end()) ids.push_back(id);
  return ids;
}

gateway::~gateway() = default;

const tokenizer& gateway::tok() const { return *impl_->model.tok; }
const model_config& gateway::model() const { return impl_->model.weights->config; }
const engine_config& gateway::config() const { return impl_->cfg; }

std::string gateway::submit(generation_request req, generation_callback cb) {
  return impl_->host->submit(std::move(req), std::move(cb));
}

void gateway::cancel(const std::string& rid) { impl_->host->cancel(rid); }

void gateway::inspect(const std::string& what, std::function<void(std::string json)> cb) {
  impl_->host->inspect(what, std::move(cb));
}

void gateway::shutdown(std::chrono::milliseconds drain) { impl_->host->shutdown(drain); }

}  // namespace kvactor
