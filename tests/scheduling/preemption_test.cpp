#include <doctest/doctest.h>

#include "scheduling/preemption.hpp"
#include "scheduling/step_statistics.hpp"

using namespace kvactor::scheduling;

TEST_CASE("the victim is the latest admitted request not already being preempted") {
  CHECK(choose_victim({{3, false}, {9, false}, {5, false}}) == std::optional<std::size_t>{1});
  CHECK(choose_victim({{3, false}, {9, true}, {5, false}}) == std::optional<std::size_t>{2});
  CHECK_FALSE(choose_victim({{3, true}}).has_value());
  CHECK_FALSE(choose_victim({}).has_value());
}

TEST_CASE("a starving request alone is parked, otherwise someone is preempted") {
  CHECK(on_starving(1) == starve_action::park);
  CHECK(on_starving(0) == starve_action::park);
  CHECK(on_starving(2) == starve_action::preempt);
}

TEST_CASE("step statistics: started steps count batched tokens, finished ones the duration") {
  step_statistics s;
  auto t0 = step_statistics::clock::time_point{} + std::chrono::seconds(5);
  s.started(18, t0);
  CHECK(s.steps_started() == 1);
  CHECK(s.tokens_started() == 18);
  CHECK(s.steps_finished() == 0);
  s.finished(t0 + std::chrono::milliseconds(7));
  CHECK(s.steps_finished() == 1);
  CHECK(s.tokens_finished() == 18);
  CHECK(s.last_step_ms() == doctest::Approx(7.0));
  s.started(3, t0 + std::chrono::milliseconds(10));  // a failed step is never finished
  s.started(2, t0 + std::chrono::milliseconds(20));
  s.finished(t0 + std::chrono::milliseconds(21));
  CHECK(s.steps_started() == 3);
  CHECK(s.tokens_started() == 23);
  CHECK(s.tokens_finished() == 20);
  CHECK(s.last_step_ms() == doctest::Approx(1.0));
}
