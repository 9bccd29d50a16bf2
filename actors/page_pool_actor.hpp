// The page-pool actor: sole owner of kvcache::page_pool and the authority on every
// page's state (free / private to one request / on its way into the trie / cached).
#pragma once

#include <cstdint>

#include "actors/interfaces.hpp"

namespace kvactor {

// Spawns the pool over `num_pages` pages; `trie` is asked to evict when short.
pool_actor spawn_page_pool(caf::actor_system& sys, int32_t num_pages, trie_actor trie);

}  // namespace kvactor
