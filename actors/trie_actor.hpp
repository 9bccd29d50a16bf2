// The trie actor: sole owner of kvcache::prefix_trie. Locks are per handle; each
// handle belongs to the request that matched or published it, and a dead owner's
// handles are unlocked (the trie monitors every owner it knows).
#pragma once

#include <cstdint>
#include <string>

#include "actors/interfaces.hpp"

namespace kvactor {

trie_actor spawn_trie(caf::actor_system& sys, int32_t page_size, int32_t num_pages, const std::string& eviction_policy);

}  // namespace kvactor
