#include "scheduling/preemption.hpp"

namespace kvactor::scheduling {

starve_action on_starving(std::size_t running) { return running <= 1 ? starve_action::park : starve_action::preempt; }

std::optional<std::size_t> choose_victim(const std::vector<victim_candidate>& running) {
  std::optional<std::size_t> victim;
  for (std::size_t i = 0; i < running.size(); ++i)
    if (!running[i].preempting && (!victim || running[i].admitted_order > running[*victim].admitted_order)) victim = i;
  return victim;
}

}  // namespace kvactor::scheduling
