// Concurrency never changes an answer: N concurrent requests (shared and unshared
// prefixes, greedy and seeded sampling) produce exactly each prompt's solo output.
#include <doctest/doctest.h>

#include <algorithm>

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
    if (o.tokens != reference[key]) ++mismatches;
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
    CAPTURE(to_string(o.final_event.error));
    CHECK(o.final_event.type == generation_event::kind::finished);
    CHECK(o.tokens == reference_generate(stories260k(), what.first, 40, what.second, false));
  }
  auto metrics = nlohmann::json::parse(engine->inspect_now("metrics"));
  CHECK(metrics["preemptions"].get<int>() > 0);
  CHECK(engine->wait_until_quiet(10s) == "");
}

namespace {

// Combination `c` (bits): penalties, logit_bias, min_p, logprobs, sampled, stop token,
// cache_prompt false.
generation_request combination_request(int c, const std::vector<int32_t>& prompt) {
  generation_request req;
  req.prompt = prompt;
  req.max_tokens = 8;
  sampling_params& s = req.sampling;
  if (c & 1) {
    s.presence_penalty = 0.7f;
    s.frequency_penalty = 0.4f;
    s.repetition_penalty = 1.3f;
  }
  if (c & 2) {
    s.bias_ids = {prompt.back(), 70, 300};
    s.bias_values = {3.0f, -100.0f, 2.5f};
  }
  if (c & 4) s.min_p = 0.05f;
  if (c & 8) s.logprobs = 3;
  if (c & 16) {
    s.temperature = 0.8f;
    s.top_k = 40;
    s.seed = 77 + static_cast<uint64_t>(c);
  }
  if (c & 32) req.stop_token_ids = {prompt[1]};
  req.cache_prompt = (c & 64) == 0;
  return req;
}

}  // namespace

TEST_CASE("every sampling parameter combination: concurrent outputs and logprobs equal solo ones") {
  auto engine = stories_engine(small_engine_config(1024));
  auto prompts = test_prompts(8, true);  // a shared prefix: cached pages are reused across combinations
  event_log log;
  std::map<std::string, std::pair<int, std::size_t>> asked;  // rid -> (combination, prompt)
  const int combinations = 128;
  for (int round = 0; round < 2; ++round)
    for (int c = 0; c < combinations; ++c) {
      const std::size_t p = static_cast<std::size_t>(c + round) % prompts.size();
      auto rid = engine->submit(combination_request(c, prompts[p]), log.callback());
      asked[rid] = {c, p};
    }
  REQUIRE(log.wait(asked.size(), 120s));
  auto out = log.outcomes();
  int mismatches = 0, penalised_differs = 0, cached_hits = 0;
  for (auto& [rid, what] : asked) {
    CAPTURE(what.first);
    const auto req = combination_request(what.first, prompts[what.second]);
    auto& o = out.at(rid);
    CHECK(o.final_event.type == generation_event::kind::finished);
    std::vector<sequence_result> ref;
    const auto tokens =
        reference_generate(stories260k(), req.prompt, req.max_tokens, req.sampling, true, &ref, req.stop_token_ids);
    if (o.tokens != tokens) ++mismatches;
    if (what.first & 64)
      CHECK(o.final_event.usage.cached_tokens == 0);  // cache_prompt false: no match
    else if (o.final_event.usage.cached_tokens > 0)
      ++cached_hits;
    REQUIRE(o.logprobs.size() == ref.size());
    for (std::size_t i = 0; i < ref.size(); ++i) {
      CHECK(o.logprobs[i] == ref[i].logprob);  // bit-identical: batch-invariant numerics
      CHECK(o.top_ids[i] == ref[i].top_ids);
      CHECK(o.top_ids[i].size() == (req.sampling.logprobs >= 0 ? 3u : 0u));
    }
    if (what.first & 1) {
      sampling_params plain = req.sampling;
      plain.presence_penalty = plain.frequency_penalty = 0.0f;
      plain.repetition_penalty = 1.0f;
      if (reference_generate(stories260k(), req.prompt, req.max_tokens, plain, true, nullptr, req.stop_token_ids) !=
          tokens)
        ++penalised_differs;
    }
  }
  CHECK(mismatches == 0);
  CHECK(penalised_differs > 0);  // the penalties do change outputs on this model
  CHECK(cached_hits > 0);
  CHECK(engine->wait_until_quiet(10s) == "");
}

TEST_CASE("stop_token_ids end a request at the first listed token, which is not output (like EOS)") {
  auto engine = stories_engine(small_engine_config(256));
  const auto prompt = test_prompts(1, false).at(0);
  const auto solo = reference_generate(stories260k(), prompt, 12, sampling_params{}, false);
  REQUIRE(solo.size() == 12);
  const int32_t stop = solo[5];
  const auto first = static_cast<std::size_t>(std::find(solo.begin(), solo.end(), stop) - solo.begin());
  event_log log;
  generation_request req;
  req.prompt = prompt;
  req.max_tokens = 12;
  req.stop_at_eos = false;
  req.stop_token_ids = {stop};
  const auto rid = engine->submit(req, log.callback());
  REQUIRE(log.wait(1, 30s));
  const auto o = log.outcomes().at(rid);
  CHECK(o.final_event.finish_reason == "stop");
  CHECK(o.tokens == std::vector<int32_t>(solo.begin(), solo.begin() + static_cast<std::ptrdiff_t>(first)));
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
