// Wraps a backend and throws backend_error from chosen step calls, to test how the
// actors survive a device failing mid-step.
#pragma once

#include <atomic>
#include <memory>

#include "device/backend.hpp"

namespace kvactor {

struct fault_plan {
  std::atomic<int> fail_at_step{-1};  // 0-based step call that throws; -1 = never
  std::atomic<int> steps{0};          // step calls so far
};

std::unique_ptr<backend> make_fault_injecting_backend(std::unique_ptr<backend> inner, std::shared_ptr<fault_plan> plan);

}  // namespace kvactor
