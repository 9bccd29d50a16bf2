#pragma once

// The preemption victim: when a running request cannot get a page, the most recently
// admitted running request that is not already being preempted gives its pages back and
// goes to the front of the waiting queue (vLLM's recompute preemption, LIFO victim).
// Alone, a starving request is parked instead: the pages it misses are on their way back
// from requests that just ended.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

namespace kvactor::scheduling {

struct victim_candidate {
  uint64_t admitted_order = 0;  // larger = admitted later
  bool preempting = false;      // already giving its pages back
};

enum class starve_action { park, preempt };

// park when the starving request runs alone, else preempt.
starve_action on_starving(std::size_t running);

// Index of the victim, or none if every candidate is already being preempted.
std::optional<std::size_t> choose_victim(const std::vector<victim_candidate>& running);

}  // namespace kvactor::scheduling
