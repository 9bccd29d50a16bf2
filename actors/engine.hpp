// Assembling the actors of one engine inside an existing actor_system: the gateway
// uses it with CAF's normal scheduler, tests with the deterministic test coordinator.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "actors/engine_config.hpp"
#include "actors/gateway.hpp"
#include "actors/interfaces.hpp"
#include "device/backend.hpp"

namespace kvactor {

struct engine_settings {
  int32_t page_size = 16;
  int32_t num_pages = 4096;
  int32_t max_batch = 64;
  int32_t max_tokens_per_step = 2048;
  int32_t prefill_chunk = 512;
  int32_t queue_limit = 1024;
  int32_t max_wait_steps = 64;
  std::string eviction_policy = "lru";
  int32_t max_seq_len = 0;  // from the model
  int32_t vocab_size = 0;   // from the model
  // A generated token in this set ends its request with "stop" (when stop_at_eos): EOS,
  // the template's end-of-turn tokens (<|eot_id|>, <|im_end|>, ...), and BOS, with which
  // llama2.c models end a story.
  std::vector<int32_t> end_ids = {2, 1};
  uint64_t ns = 0;               // trie namespace (one model per engine)
  bool prefix_cache = true;      // false: requests match nothing (pages are still published)
  bool detached_device = true;   // false under the test coordinator (deterministic)
};

// Checks an engine_config and fills the model-dependent fields; throws
// std::invalid_argument naming the bad field.
engine_settings make_engine_settings(const engine_config& cfg, const model_config& model,
                                     std::vector<int32_t> end_ids);

struct engine_actors {
  pool_actor pool;
  trie_actor trie;
  scheduler_actor scheduler;
  registry_actor registry;
};

// Registers the kvactor message types; call on the config before building the system.
void add_engine_types(caf::actor_system_config& cfg);

engine_actors spawn_engine(caf::actor_system& sys, const engine_settings& settings, std::shared_ptr<backend> be);

// One request actor; it enqueues itself at the scheduler and reports every event on
// `cb`. The caller registers it with the registry when cancel-by-rid is wanted.
request_actor spawn_request(caf::actor_system& sys, const engine_actors& peers, const engine_settings& settings,
                            uint64_t seq_id, generation_request req, generation_callback cb);

}  // namespace kvactor
