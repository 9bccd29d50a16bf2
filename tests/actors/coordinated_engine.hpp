// An engine under CAF's test coordinator: every message is delivered by the test,
// one at a time, in an order chosen by a seeded random generator, so interleavings
// are deterministic and reproducible by seed.
#pragma once

#include <caf/all.hpp>

#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "actors/engine.hpp"
#include "actors/fault_injecting_backend.hpp"
#include "actors/null_backend.hpp"

namespace kvactor::actors_test {

struct coordinated_outcome {
  std::vector<int32_t> tokens;
  std::vector<generation_event> finals;  // exactly one expected
};

class coordinated_engine {
 public:
  // Null backend (vocab 512, context 512) unless `be` is given.
  coordinated_engine(engine_settings settings, uint64_t seed, std::shared_ptr<backend> be = nullptr);
  ~coordinated_engine();

  static engine_settings default_settings(int32_t num_pages, int32_t page_size = 4);

  request_actor submit(const std::string& rid, std::vector<int32_t> prompt, int max_tokens);

  // Runs up to `max_jobs` jobs, each picked at random among the ready actors.
  std::size_t run_random(std::size_t max_jobs = 1000000);
  std::size_t run_fifo() {
    std::size_t n = sched_->run();
    while (sched_->trigger_timeout()) n += sched_->run();
    return n;
  }

  // Runs jobs of the given actors only; everyone else stays frozen.
  template <class... Handles>
  std::size_t run_only(const Handles&... hs) {
    std::vector<caf::resumable*> allowed{dynamic_cast<caf::resumable*>(caf::actor_cast<caf::abstract_actor*>(hs))...};
    return sched_->run_jobs_filtered(
        [&](caf::resumable* r) { return std::find(allowed.begin(), allowed.end(), r) != allowed.end(); });
  }

  // Asks `whom` running only the probe and `whom`: everyone else stays frozen.
  template <class T, class Handle, class... Ts>
  std::optional<T> ask_isolated(const Handle& whom, Ts... xs) {
    auto result = std::make_shared<std::optional<T>>();
    auto probe = spawn_probe<T>(whom, result, xs...);
    auto* a = dynamic_cast<caf::resumable*>(caf::actor_cast<caf::abstract_actor*>(probe));
    auto* b = dynamic_cast<caf::resumable*>(caf::actor_cast<caf::abstract_actor*>(whom));
    sched_->run_jobs_filtered([&](caf::resumable* r) { return r == a || r == b; });
    return *result;
  }

  // Blocking-free request/response under the coordinator: runs jobs until answered.
  template <class T, class Handle, class... Ts>
  std::optional<T> ask(const Handle& whom, Ts... xs) {
    auto result = std::make_shared<std::optional<T>>();
    spawn_probe<T>(whom, result, xs...);
    run_fifo();
    return *result;
  }

  // "" when free + cached == total, no private page, no lock, no handle, the pool
  // and trie agree page by page and both structures pass their own checks.
  std::string check_quiet();
  // Stops every engine actor and checks that no actor is left running.
  bool stop_all();

  std::map<std::string, coordinated_outcome>& outcomes() { return outcomes_; }
  engine_actors& actors() { return actors_; }
  caf::actor_system& system() { return *sys_; }
  caf::scheduler::test_coordinator& sched() { return *sched_; }
  const engine_settings& settings() const { return settings_; }
  scheduler_counts scheduler_stats();

 private:
  // An actor that asks `whom` once and stores the answer. (The handle travels as a
  // spawn argument: CAF 0.17's zero-argument spawn path trips UBSan.)
  template <class T, class Handle, class... Ts>
  caf::actor spawn_probe(const Handle& whom, std::shared_ptr<std::optional<T>> result, Ts... xs) {
    return sys_->spawn(
        [=](caf::event_based_actor* self, Handle target) {
          self->request(target, caf::infinite, xs...).then([=](T& x) { *result = std::move(x); }, [](caf::error&) {});
        },
        whom);
  }

  caf::actor_system_config cfg_;
  std::unique_ptr<caf::actor_system> sys_;
  caf::scheduler::test_coordinator* sched_ = nullptr;
  engine_settings settings_;
  engine_actors actors_;
  std::mt19937_64 rng_;
  uint64_t next_seq_ = 1;
  std::map<std::string, coordinated_outcome> outcomes_;
  bool stopped_ = false;
};

// What the null backend generates for `prompt` (max_tokens tokens, no stop token).
std::vector<int32_t> null_reference(const std::vector<int32_t>& prompt, int max_tokens, int vocab = 512);

}  // namespace kvactor::actors_test
