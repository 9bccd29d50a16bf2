#pragma once

// The device step statistics, kept in one place: the scheduler owns the one instance
// (it outlives device restarts) and reports it in its counts and its device snapshot.

#include <chrono>
#include <cstdint>

namespace kvactor::scheduling {

class step_statistics {
 public:
  using clock = std::chrono::steady_clock;

  // A step of `tokens` tokens is sent to the device at `now`.
  void started(int32_t tokens, clock::time_point now);
  // The step started last came back at `now` (a failed step is never finished).
  void finished(clock::time_point now);

  uint64_t steps_started() const { return steps_started_; }
  uint64_t tokens_started() const { return tokens_started_; }  // batched tokens
  uint64_t steps_finished() const { return steps_finished_; }
  uint64_t tokens_finished() const { return tokens_finished_; }
  double last_step_ms() const { return last_step_ms_; }

 private:
  uint64_t steps_started_ = 0;
  uint64_t tokens_started_ = 0;
  uint64_t steps_finished_ = 0;
  uint64_t tokens_finished_ = 0;
  double last_step_ms_ = 0;
  int32_t step_tokens_ = 0;
  clock::time_point step_start_{};
};

}  // namespace kvactor::scheduling
