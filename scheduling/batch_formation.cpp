#include "scheduling/batch_formation.hpp"

#include <algorithm>

namespace kvactor::scheduling {

formed_batch form_batch(const std::vector<step_candidate>& candidates, const limits& lim) {
  formed_batch out;
  int32_t budget = lim.max_tokens_per_step;
  std::vector<bool> taken(candidates.size(), false);
  auto full = [&] { return static_cast<int32_t>(out.slots.size()) >= lim.max_batch; };
  auto take = [&](std::size_t i, int32_t n) {
    taken[i] = true;
    out.slots.push_back({i, n, n < candidates[i].offered});
    budget -= n;
    out.tokens += n;
  };
  for (std::size_t i = 0; i < candidates.size(); ++i)
    if (candidates[i].ready && candidates[i].offered == 1 && !full() && budget >= 1) take(i, 1);
  for (std::size_t i = 0; i < candidates.size(); ++i) {
    if (!candidates[i].ready || taken[i] || full()) continue;
    auto n = std::min<int32_t>({candidates[i].offered, lim.prefill_chunk, budget});
    if (n <= 0) break;
    take(i, n);
  }
  return out;
}

}  // namespace kvactor::scheduling
