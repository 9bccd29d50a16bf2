// Prompt log probabilities through the engine (echo with logprobs): a request with
// prompt_logprobs gets, in its first event, the score of every prompt token after the first,
// equal bit for bit to the backend's scoring of the whole prompt alone; the prompt is computed
// afresh (no prefix-cache match), its tokens are the ones it gets without scoring, and none of
// it changes under concurrency, chunked prefill or preemption.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "actors_test_support.hpp"
#include "device/cpu_backend.hpp"

using namespace kvactor;
using namespace kvactor::actors_test;
using namespace std::chrono_literals;

namespace {

// The whole prompt in one step on a fresh backend, every position scored.
std::vector<scored_token> reference_scores(const std::vector<int32_t>& prompt, int top_n) {
  const loaded_model& m = stories260k();
  auto be = make_cpu_backend(m.weights, kv_layout{16, 32}, 1);
  sequence_step s;
  s.seq_id = 1;
  s.tokens = prompt;
  for (int p = 0; p < 32; ++p) s.block_table.push_back(p);
  s.sampling.logprobs = top_n;
  for (std::size_t i = 0; i < prompt.size(); ++i) s.score_next.push_back(i + 1 < prompt.size() ? prompt[i + 1] : -1);
  return be->step({s})[0].scored;
}

}  // namespace

TEST_CASE("prompt logprobs: every prompt token scored as alone, no cache match, under pressure and preemption") {
  // 16 pages of 16 for 12 requests of ~3-4 pages each: prefill is chunked, requests are preempted.
  engine_config cfg = small_engine_config(16);
  cfg.prefill_chunk = 24;
  auto engine = stories_engine(cfg);
  const auto prompts = test_prompts(12, true);  // a shared prefix: unscored requests hit the cache
  event_log log;
  struct asked {
    std::vector<int32_t> prompt;
    sampling_params sampling;
    bool scored;
    int max_tokens;
    bool stop_at_eos;
  };
  std::map<std::string, asked> all;
  // Warm the cache with the shared prefix first.
  {
    generation_request warm;
    warm.prompt = prompts[0];
    warm.max_tokens = 4;
    const std::string rid = engine->submit(warm, log.callback());
    all[rid] = {warm.prompt, warm.sampling, false, warm.max_tokens, true};
    REQUIRE(log.wait(1, 30s));
  }
  for (std::size_t i = 0; i < prompts.size(); ++i) {
    generation_request req;
    req.prompt = prompts[i];
    req.max_tokens = 30;
    req.stop_at_eos = false;
    req.prompt_logprobs = i % 2 == 0;
    if (req.prompt_logprobs) req.sampling.logprobs = static_cast<int32_t>(i % 4);  // 0 or 2 alternatives
    if (i % 3 == 1) {
      req.sampling.temperature = 0.9f;
      req.sampling.seed = i;
    }
    const std::string rid = engine->submit(req, log.callback());
    all[rid] = {req.prompt, req.sampling, req.prompt_logprobs, req.max_tokens, false};
  }
  REQUIRE(log.wait(all.size(), 120s));
  auto out = log.outcomes();
  int cached_unscored = 0;
  for (const auto& [rid, a] : all) {
    CAPTURE(rid);
    const auto& o = out.at(rid);
    REQUIRE(o.final_event.type == generation_event::kind::finished);
    CHECK(o.tokens == reference_generate(stories260k(), a.prompt, a.max_tokens, a.sampling, a.stop_at_eos));
    if (!a.scored) {
      CHECK(o.events_with_scores == 0);
      cached_unscored += o.final_event.usage.cached_tokens > 0;
      continue;
    }
    CHECK(o.events_with_scores == 1);
    CHECK(o.final_event.usage.cached_tokens == 0);
    const auto want = reference_scores(a.prompt, a.sampling.logprobs);
    REQUIRE(o.prompt_scores.size() == a.prompt.size() - 1);
    REQUIRE(want.size() == o.prompt_scores.size());
    for (std::size_t i = 0; i < want.size(); ++i) {
      CAPTURE(i);
      CHECK(o.prompt_scores[i].position == static_cast<int32_t>(i) + 1);
      CHECK(o.prompt_scores[i].logprob == want[i].logprob);
      CHECK(o.prompt_scores[i].top_ids == want[i].top_ids);
      CHECK(o.prompt_scores[i].top_logprobs == want[i].top_logprobs);
    }
  }
  CHECK(cached_unscored > 0);
  auto metrics = nlohmann::json::parse(engine->inspect_now("metrics"));
  CHECK(metrics["preemptions"].get<int>() > 0);
  CHECK(engine->wait_until_quiet(10s) == "");
}

TEST_CASE("prompt logprobs: a one-token prompt has nothing to score and still generates") {
  auto engine = stories_engine(small_engine_config(32));
  event_log log;
  generation_request req;
  req.prompt = {1};
  req.max_tokens = 5;
  req.prompt_logprobs = true;
  req.sampling.logprobs = 1;
  const std::string rid = engine->submit(req, log.callback());
  REQUIRE(log.wait(1, 30s));
  const auto o = log.outcomes().at(rid);
  CHECK(o.final_event.type == generation_event::kind::finished);
  CHECK(o.events_with_scores == 0);
  CHECK(o.tokens == reference_generate(stories260k(), req.prompt, 5, req.sampling));
}
