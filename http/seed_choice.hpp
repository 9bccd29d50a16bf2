// Seeds for sampled requests that give none: each gets a fresh one (not seed 0 for all),
// and the response reports the seed used, so the run can be replayed with it.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "http/request_parsing.hpp"

namespace kvactor::http {

// A new seed per call: std::random_device mixed with a process-wide counter (splitmix64),
// so two calls never collide even where random_device is deterministic.
uint64_t fresh_seed();

// Fills sampling.seed of every sampled (temperature > 0) entry without a given seed from
// `source`; greedy and seeded entries are left as they are.
void choose_seeds(std::vector<generation_params>& params, const std::function<uint64_t()>& source = fresh_seed);

}  // namespace kvactor::http
