// Concurrency never changes an answer: N concurrent requests (shared and unshared
// prefixes, greedy and seeded sampling) produce exactly each prompt's solo output.
#include <doctest/doctest.h>

#include "actors_test_support.hpp"

using namespace kvactor;
using namespace kvactor::actors_test;
using namespace std::chrono_literals;

namespace {

void run_concurrent(int n, bool shared, bool sampled, int num_pages) {
  auto engine = stories_engine(small_engine_config(num_pages));
  auto prompts = test_prompts(8, shared);
  const int max_tokens = 6;
  event_log log;
  std::map<std::string, std::pair<std::vector<int32_t>, sampling_params>> asked;
  for (int i = 0; i < n; ++i) {
    generation_request req;
    req.prompt = prompts[static_cast<std::size_t>(i % 8)];
    req.max_tokens = max_tokens;
    if (sampled) {
      req.sampling.temperature = 0.9f;
      req.sampling.top_p = 0.95f;
      req.sampling.seed = 1000 + static_cast<uint64_t>(i % 5);
    }
    auto rid = engine->submit(req, log.callback());
    asked[rid] = {req.prompt, req.sampling};
  }
  REQUIRE(log.wait(static_cast<std::size_t>(n), 60s));
  auto out = log.outcomes();
  std::map<std::pair<std::vector<int32_t>, uint64_t>, std::vector<int32_t>> reference;
  int mismatches = 0;
  for (auto& [rid, what] : asked) {
    auto& o = out.at(rid);
    CHECK(o.final_events == 1);
    CHECK(o.final_event.type == generation_event::kind::finished);
    auto key = std::make_pair(what.first, what.second.seed);
    if (reference.count(key) == 0)
      reference[key] = reference_generate(stories260k(), what.first, max_tokens, what.second);
    if (o.tokens != reference[key])
      ++mismatches;
  }
  CHECK(mismatches == 0);
  CHECK(engine->wait_until_quiet(10s) == "");
  // No request actor left behind: only pool, trie, scheduler, registry and device run.
  CHECK(engine->running_actors() == 5);
  engine.reset();
}

}  // namespace

TEST_CASE("concurrent requests equal their solo outputs") {
  for (int n : {1, 2, 4, 8, 16, 64, 256}) {
    for (bool shared : {false, true}) {
      for (bool sampled : {false, true}) {
        CAPTURE(n);
        CAPTURE(shared);
        CAPTURE(sampled);
        run_concurrent(n, shared, sampled, 1024);
      }
    }
  }
}
