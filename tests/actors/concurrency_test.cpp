// Concurrency never changes an answer: N concurrent requests (shared and unshared
// prefixes, greedy and seeded sampling) produce exactly each prompt's solo output.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "actors_test_support.hpp"

using namespace kvactor;
using namespace kvactor::actors_test;
using namespace std::chrono_literals;

namespace {

void run_concurrent(int n, bool shared, bool sampled, int num_pages, int max_tokens = 6, int page_size = 16) {
  auto engine = stories_engine(small_engine_config(num_pages, page_size));
  auto prompts = test_prompts(8, shared);
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

TEST_CASE("pool pressure on the real model: 4x demand, outputs equal solo outputs, preemption happened") {
  // 16 requests x ~4 pages (prompt + 40 tokens, pages of 16) = ~64 pages on 16.
  auto cfg = small_engine_config(16);
  auto engine = stories_engine(cfg);
  auto prompts = test_prompts(16, false);
  event_log log;
  std::map<std::string, std::pair<std::vector<int32_t>, sampling_params>> asked;
  for (int i = 0; i < 16; ++i) {
    generation_request req;
    req.prompt = prompts[static_cast<std::size_t>(i)];
    req.max_tokens = 40;
    req.stop_at_eos = false;
    if (i % 2 == 1) {
      req.sampling.temperature = 1.0f;
      req.sampling.top_k = 40;
      req.sampling.seed = static_cast<uint64_t>(i);
    }
    auto rid = engine->submit(req, log.callback());
    asked[rid] = {req.prompt, req.sampling};
  }
  REQUIRE(log.wait(16, 60s));
  auto out = log.outcomes();
  for (auto& [rid, what] : asked) {
    CAPTURE(rid);
    auto& o = out.at(rid);
    CAPTURE(o.final_event.error_code);
    CHECK(o.final_event.type == generation_event::kind::finished);
    CHECK(o.tokens == reference_generate(stories260k(), what.first, 40, what.second, false));
  }
  auto metrics = nlohmann::json::parse(engine->inspect_now("metrics"));
  CHECK(metrics["preemptions"].get<int>() > 0);
  CHECK(engine->wait_until_quiet(10s) == "");
}

TEST_CASE("continued decode steps (issue 18): pages of 4, 48 tokens, outputs equal solo outputs, every page back") {
  // Pages of 4 put a page boundary (publish, allocate: the request actor's own offer) every
  // 4th token and scheduler-continued steps between them, for requests at different phases.
  for (int num_pages : {1024, 64}) {  // 64 pages: continuation mixed with starving and preemption
    for (bool sampled : {false, true}) {
      CAPTURE(num_pages);
      CAPTURE(sampled);
      run_concurrent(24, true, sampled, num_pages, 48, 4);
    }
  }
}
