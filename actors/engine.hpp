// Assembling the actors of one engine inside an existing actor_system: the gateway
// uses it with CAF's normal scheduler, tests with the deterministic test coordinator.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "actors/engine_config.hpp"
#include "actors/generation_service.hpp"
#include "actors/interfaces.hpp"
#include "device/backend.hpp"

namespace kvactor {

// The checked engine_config (derived once, not copied field by field) plus what the
// model and the engine decide. prefix_cache: 0 = requests match nothing (pages are still
// published).
struct engine_settings : engine_config {
  int32_t max_seq_len = 0;  // from the model
  int32_t vocab_size = 0;   // from the model
  // A generated token in this set ends its request with "stop" (when stop_at_eos): EOS,
  // the template's end-of-turn tokens (<|eot_id|>, <|im_end|>, ...), and BOS, with which
  // llama2.c models end a story.
  std::vector<int32_t> end_ids = {2, 1};
  uint64_t ns = 0;              // trie namespace (one model per engine)
  bool detached_device = true;  // false under the test coordinator (deterministic)
};

// Checks an engine_config and fills the model-dependent fields; throws
// std::invalid_argument naming the bad field.
engine_settings make_engine_settings(const engine_config& cfg, const model_config& model, std::vector<int32_t> end_ids);

struct engine_actors {
  pool_actor pool;
  trie_actor trie;
  scheduler_actor scheduler;
  registry_actor registry;
};

// Registers the kvactor message types; call on the config before building the system.
void add_engine_types(caf::actor_system_config& cfg);

engine_actors spawn_engine(caf::actor_system& sys, const engine_settings& settings, std::shared_ptr<backend> be);

// Request actors: spawn_request (actors/request_actor.hpp).

}  // namespace kvactor
