#include "http/seed_choice.hpp"

#include <atomic>
#include <random>

namespace kvactor::http {
namespace {

uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

}  // namespace

uint64_t fresh_seed() {
  static std::atomic<uint64_t> counter{0};
  static const uint64_t base = [] {
    std::random_device rd;
    return (static_cast<uint64_t>(rd()) << 32) ^ rd();
  }();
  return splitmix64(base + counter.fetch_add(1, std::memory_order_relaxed) * 0x9e3779b97f4a7c15ull);
}

void choose_seeds(std::vector<generation_params>& params, const std::function<uint64_t()>& source) {
  for (auto& p : params)
    if (!p.seed_given && !p.sampling.greedy()) {
      p.sampling.seed = source();
      p.seed_given = true;
    }
}

}  // namespace kvactor::http
