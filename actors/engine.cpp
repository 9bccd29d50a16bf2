#include "actors/engine.hpp"

#include <stdexcept>

#include "actors/page_pool_actor.hpp"
#include "actors/registry_actor.hpp"
#include "actors/request_actor.hpp"
#include "actors/scheduler_actor.hpp"
#include "actors/trie_actor.hpp"
#include "model/model.hpp"

namespace kvactor {

engine_settings make_engine_settings(const engine_config& cfg, const model_config& model,
                                     std::vector<int32_t> end_ids) {
  auto positive = [](int v, const char* name) {
    if (v <= 0)
      throw std::invalid_argument(std::string("engine config: ") + name + " must be positive (got " +
                                  std::to_string(v) + ")");
  };
  positive(cfg.page_size, "page_size");
  positive(cfg.num_pages, "num_pages");
  positive(cfg.max_batch, "max_batch");
  positive(cfg.max_tokens_per_step, "max_tokens_per_step");
  positive(cfg.prefill_chunk, "prefill_chunk");
  positive(cfg.queue_limit, "queue_limit");
  positive(cfg.max_wait_steps, "max_wait_steps");
  if (const std::string error = engine_choice_error(cfg); !error.empty())
    throw std::invalid_argument("engine config: " + error);
  if (cfg.max_tokens_per_step < cfg.max_batch)
    throw std::invalid_argument("engine config: max_tokens_per_step must be at least max_batch");
  if (cfg.prefix_cache != 0 && cfg.prefix_cache != 1)
    throw std::invalid_argument("engine config: prefix_cache must be 0 or 1");
  engine_settings s;
  static_cast<engine_config&>(s) = cfg;
  s.max_seq_len = model.max_seq_len;
  s.vocab_size = model.vocab_size;
  s.end_ids = std::move(end_ids);
  return s;
}

void add_engine_types(caf::actor_system_config& cfg) { cfg.add_message_types<caf::id_block::kvactor>(); }

engine_actors spawn_engine(caf::actor_system& sys, const engine_settings& settings, std::shared_ptr<backend> be) {
  engine_actors e;
  e.trie = spawn_trie(sys, settings.page_size, settings.num_pages, settings.eviction_policy);
  e.pool = spawn_page_pool(sys, settings.num_pages, e.trie);
  e.scheduler = spawn_scheduler(sys, settings, e.trie, std::move(be));
  e.registry = spawn_registry(sys);
  return e;
}

}  // namespace kvactor
