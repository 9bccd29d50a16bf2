#include "kvcache/eviction_policy.hpp"

namespace kvactor {

std::unique_ptr<eviction_policy> make_eviction_policy(const std::string& name) {
  if (name == "lru") return std::make_unique<lru_policy>();
  if (name == "lfu") return std::make_unique<lfu_policy>();
  return nullptr;
}

}  // namespace kvactor
