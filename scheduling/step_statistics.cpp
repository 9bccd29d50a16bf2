#include "scheduling/step_statistics.hpp"

namespace kvactor::scheduling {

void step_statistics::started(int32_t tokens, clock::time_point now) {
  ++steps_started_;
  tokens_started_ += static_cast<uint64_t>(tokens);
  step_tokens_ = tokens;
  step_start_ = now;
}

void step_statistics::finished(clock::time_point now) {
  ++steps_finished_;
  tokens_finished_ += static_cast<uint64_t>(step_tokens_);
  last_step_ms_ = std::chrono::duration<double, std::milli>(now - step_start_).count();
}

}  // namespace kvactor::scheduling
