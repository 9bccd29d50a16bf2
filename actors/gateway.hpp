// The gateway: the engine as `kvactor serve` runs it, an engine_host over a model loaded
// from files and the backend the config names (cpu or hip). Every generation_service
// call is engine_host's own; the gateway only builds it.
//
// This header deliberately includes no CAF: HTTP translation units stay light.
#pragma once

#include "actors/engine_config.hpp"
#include "actors/engine_host.hpp"
#include "actors/generation_service.hpp"

namespace kvactor {

struct loaded_model;

class gateway final : public engine_host {
 public:
  // Loads the model and spawns pool, trie, scheduler and device actors.
  // Throws std::runtime_error (naming the problem) if the model cannot be loaded.
  explicit gateway(const engine_config& cfg);
  // ~engine_host drains (see shutdown) then stops the actor system.

 private:
  gateway(const engine_config& cfg, const loaded_model& model);
};

}  // namespace kvactor
