// The gateway end to end on the bundled model: submit, tokens, finished, inspection,
// errors for bad input, shutdown.
#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <future>
#include <set>

#include "actors/gateway.hpp"
#include "actors_test_support.hpp"
#include "device/cpu_backend.hpp"
#include "model/tokenizer.hpp"

using namespace kvactor;
using namespace kvactor::actors_test;
using namespace std::chrono_literals;

namespace {

engine_config stories_config() {
  auto cfg = small_engine_config(256);
  cfg.model_path = std::string(KVACTOR_MODELS_DIR) + "/stories260K.bin";
  cfg.tokenizer_path = std::string(KVACTOR_MODELS_DIR) + "/tok512.bin";
  return cfg;
}

std::string inspect_now(gateway& gw, const std::string& what) {
  auto p = std::make_shared<std::promise<std::string>>();
  auto f = p->get_future();
  gw.inspect(what, [p](std::string j) { p->set_value(std::move(j)); });
  return f.get();
}

}  // namespace

TEST_CASE("gateway: with prefix_cache 0 a repeated prompt matches nothing and gives the same tokens") {
  auto cfg = stories_config();
  cfg.prefix_cache = 0;
  gateway gw(cfg);
  generation_request req;
  req.prompt = gw.tok().encode("Once upon a time there was a big dog who liked to run", true, false);
  req.max_tokens = 8;
  REQUIRE(req.prompt.size() > 16);  // at least one full page that could have been shared
  std::vector<std::vector<int32_t>> outputs;
  for (int i = 0; i < 2; ++i) {
    event_log log;
    auto rid = gw.submit(req, log.callback());
    REQUIRE(log.wait(1, 30s));
    auto o = log.outcomes().at(rid);
    CHECK(o.final_event.type == generation_event::kind::finished);
    CHECK(o.final_event.usage.cached_tokens == 0);
    outputs.push_back(o.tokens);
  }
  CHECK(outputs[0] == outputs[1]);
  auto metrics = nlohmann::json::parse(inspect_now(gw, "metrics"));
  CHECK(metrics["cache_hit_tokens"] == 0);
  CHECK(metrics["pages"]["private"] == 0);
}

TEST_CASE("gateway: a greedy request streams the reference tokens and finishes with usage") {
  gateway gw(stories_config());
  auto prompt = gw.tok().encode("Once upon a time", true, false);
  event_log log;
  generation_request req;
  req.prompt = prompt;
  req.max_tokens = 20;
  auto rid = gw.submit(req, log.callback());
  CHECK(!rid.empty());
  REQUIRE(log.wait(1, 30s));
  auto o = log.outcomes().at(rid);
  CHECK(o.final_event.type == generation_event::kind::finished);
  CHECK(o.final_event.finish_reason == "length");
  CHECK(o.final_events == 1);
  CHECK(o.tokens == reference_generate(stories260k(), prompt, 20, sampling_params{}));
  CHECK(o.final_event.usage.prompt_tokens == static_cast<int>(prompt.size()));
  CHECK(o.final_event.usage.completion_tokens == 20);
  CHECK(gw.tok().decode(o.tokens).find("Lily") != std::string::npos);

  // The same prompt again hits the cache for its full pages and gives the same tokens.
  event_log again;
  auto rid2 = gw.submit(req, again.callback());
  REQUIRE(again.wait(1, 30s));
  auto o2 = again.outcomes().at(rid2);
  CHECK(o2.tokens == o.tokens);
  CHECK(o2.final_event.usage.cached_tokens == (static_cast<int>(prompt.size()) - 1) / 16 * 16);

  auto metrics = nlohmann::json::parse(inspect_now(gw, "metrics"));
  CHECK(metrics["requests"]["finished"] == 2);
  CHECK(metrics["generated_tokens"] == 40);
  CHECK(metrics["pages"]["total"] == 256);
  CHECK(metrics["pages"]["private"] == 0);
  CHECK(metrics["queue_depth"] == 0);
  CHECK(metrics["cache_hit_tokens"] == o2.final_event.usage.cached_tokens);
  auto cache = nlohmann::json::parse(inspect_now(gw, "cache"));
  CHECK(cache["invariants_ok"] == true);
  CHECK(cache["invariants_checked"] == "counters");  // a poll runs no O(pages) walk
  auto checked = nlohmann::json::parse(inspect_now(gw, "cache?depth=0&max_nodes=0&check=full"));
  CHECK(checked["invariants_ok"] == true);
  CHECK(checked["invariants_checked"] == "full");
  CHECK(checked["pages"] == cache["pages"]);
  CHECK(checked["tree"].empty());
  CHECK(cache["pages"]["private"] == 0);
  CHECK(cache["page_states"].get<std::string>().size() == 256);
  auto full_tree = nlohmann::json::parse(inspect_now(gw, "cache"));
  CHECK(full_tree["tree"]["truncated"] == false);
  CHECK(full_tree["tree"]["children"].size() == 1);  // one cached page: tokens 0..15 of the prompt + output
  // max_nodes counts the namespace root: 1 leaves the page out and says so.
  auto bounded = nlohmann::json::parse(inspect_now(gw, "cache?depth=8&max_nodes=1"));
  CHECK(bounded["tree"]["truncated"] == true);
  CHECK(bounded["tree"]["children"].empty());
  auto actors = nlohmann::json::parse(inspect_now(gw, "actors"));
  std::set<std::string> kinds;
  for (auto& a : actors["actors"]) kinds.insert(a["kind"].get<std::string>());
  CHECK(kinds == std::set<std::string>{"gateway", "page_pool", "trie", "scheduler", "device"});
  auto one = nlohmann::json::parse(inspect_now(gw, "request:" + rid));
  CHECK(one["rid"] == rid);
  CHECK(one["phase"] == "done");
  CHECK(one["generated_tokens"] == 20);
  auto missing = nlohmann::json::parse(inspect_now(gw, "request:nope"));
  CHECK(missing["error"]["code"] == "NOT_FOUND");
  gw.shutdown(1s);
}

TEST_CASE("gateway: bad requests get BAD_REQUEST, shutdown gets SHUTTING_DOWN") {
  gateway gw(stories_config());
  event_log log;
  generation_request empty;
  auto r1 = gw.submit(empty, log.callback());
  generation_request bad_token;
  bad_token.prompt = {1, 9999};
  auto r2 = gw.submit(bad_token, log.callback());
  generation_request too_long;
  too_long.prompt.assign(600, 5);
  auto r3 = gw.submit(too_long, log.callback());
  REQUIRE(log.wait(3, 10s));
  auto out = log.outcomes();
  for (auto& rid : {r1, r2, r3}) {
    CHECK(out.at(rid).final_event.type == generation_event::kind::error);
    CHECK(out.at(rid).final_event.error == engine_errc::bad_request);
  }
  gw.shutdown(0ms);
  event_log late;
  generation_request ok;
  ok.prompt = {1, 20};
  auto r4 = gw.submit(ok, late.callback());
  REQUIRE(late.wait(1, 10s));
  CHECK(late.outcomes().at(r4).final_event.error == engine_errc::shutting_down);
}

TEST_CASE("gateway: an unloadable model is a runtime_error naming the file") {
  engine_config cfg;
  cfg.model_path = "/nonexistent/model.bin";
  cfg.tokenizer_path = "/nonexistent/tok.bin";
  CHECK_THROWS_WITH_AS(gateway{cfg}, doctest::Contains("/nonexistent/model.bin"), std::runtime_error);
}

TEST_CASE("engine: cancel by rid, a deadline, and shutdown each return every page") {
  auto engine = stories_engine(small_engine_config(256));
  auto prompt = test_prompts(1, true)[0];
  event_log log;
  generation_request long_one;
  long_one.prompt = prompt;
  long_one.max_tokens = 400;
  long_one.stop_at_eos = false;

  auto cancelled = engine->submit(long_one, log.callback());
  engine->cancel(cancelled);
  auto timed = long_one;
  timed.deadline = 2ms;
  auto deadline = engine->submit(timed, log.callback());
  REQUIRE(log.wait(2, 30s));
  auto out = log.outcomes();
  CHECK(out.at(cancelled).final_event.finish_reason == "cancelled");
  CHECK(out.at(deadline).final_event.finish_reason == "cancelled");
  CHECK(out.at(deadline).tokens.size() < 400);
  CHECK(engine->wait_until_quiet(10s) == "");

  // Shutdown with no drain time cancels whatever runs and waits for the pages.
  std::vector<std::string> rids;
  for (int i = 0; i < 64; ++i) rids.push_back(engine->submit(long_one, log.callback()));
  // While they run, inspection sees them as request actors with a live phase.
  auto live = nlohmann::json::parse(engine->inspect_now("requests"));
  int live_seen = 0;
  for (auto& r : live["requests"])
    if (r["phase"] == "queued" || r["phase"] == "prefill" || r["phase"] == "decode") ++live_seen;
  CHECK(live_seen >= 1);
  auto actors = nlohmann::json::parse(engine->inspect_now("actors"));
  int request_actors = 0;
  for (auto& a : actors["actors"]) request_actors += a["kind"] == "request";
  CHECK(request_actors >= 1);
  engine->shutdown(0ms);
  REQUIRE(log.wait(66, 30s));
  out = log.outcomes();
  int cancelled_by_shutdown = 0;
  for (auto& rid : rids) {
    CHECK(out.at(rid).final_events == 1);
    auto& ev = out.at(rid).final_event;
    CHECK((ev.finish_reason == "cancelled" || ev.finish_reason == "length"));
    cancelled_by_shutdown += ev.finish_reason == "cancelled";
  }
  CHECK(cancelled_by_shutdown > 0);
  auto t = engine->totals();
  CHECK(t.free + t.cached == t.total);
  CHECK(t.locked == 0);
  CHECK(t.live_requests == 0);
  CHECK(engine->running_actors() == 5);
}

TEST_CASE("gateway: an unknown device is a runtime_error naming it") {
  auto cfg = stories_config();
  cfg.device = "tpu";
  CHECK_THROWS_WITH_AS(gateway{cfg}, doctest::Contains("tpu"), std::runtime_error);
}

// Request ids are caller data: bytes that are not UTF-8 (an HTTP path's %FF, say)
// must not break the JSON the actors write about them.
TEST_CASE("engine: a request id that is not UTF-8 finishes normally and can be inspected") {
  auto engine = stories_engine(small_engine_config(64));
  event_log log;
  generation_request req;
  req.rid = "odd-\xff-id";
  req.prompt = test_prompts(1, false)[0];
  req.max_tokens = 3;
  req.stop_at_eos = false;
  auto rid = engine->submit(req, log.callback());
  REQUIRE(log.wait(1, 30s));
  auto ended = log.outcomes().at(rid).final_event;
  CHECK(ended.type == generation_event::kind::finished);
  CHECK(ended.finish_reason == "length");

  // Answered (not lost with a crashed inspection actor) for a known and an unknown id.
  for (const std::string& what : {"request:" + rid, std::string("request:\xfe"), std::string("requests")}) {
    auto answer = std::make_shared<std::promise<std::string>>();
    auto got = answer->get_future();
    engine->inspect(what, [answer](std::string j) { answer->set_value(std::move(j)); });
    REQUIRE(got.wait_for(10s) == std::future_status::ready);
    CHECK(nlohmann::json::parse(got.get(), nullptr, false).is_object());
  }
  CHECK(engine->wait_until_quiet(10s) == "");
}

TEST_CASE("engine: a request ends at any end-of-generation id, not only EOS, and reports its kind") {
  const auto& m = stories260k();
  const auto prompt = test_prompts(1, false)[0];
  sampling_params greedy;
  const auto expected = reference_generate(m, prompt, 8, greedy);
  REQUIRE(expected.size() == 8);
  // Make the fourth greedy token an end-of-turn token of this engine (as <|eot_id|> is for Llama 3).
  const int32_t end_of_turn = expected[3];
  REQUIRE(std::find(expected.begin(), expected.begin() + 3, end_of_turn) == expected.begin() + 3);
  engine_config cfg = small_engine_config(64);
  std::shared_ptr<backend> be = make_cpu_backend(m.weights, kv_layout{cfg.page_size, cfg.num_pages}, 1);
  std::vector<int32_t> end_ids = end_of_generation_ids(*m.tok);
  CHECK(std::find(end_ids.begin(), end_ids.end(), m.tok->eos_id()) != end_ids.end());
  CHECK(std::find(end_ids.begin(), end_ids.end(), m.tok->bos_id()) != end_ids.end());
  end_ids.push_back(end_of_turn);
  engine_host engine(cfg, m.weights->config, end_ids, std::move(be), 2);

  event_log log;
  generation_request req;
  req.prompt = prompt;
  req.max_tokens = 8;
  req.kind = "chat";
  const std::string rid = engine.submit(req, log.callback());
  REQUIRE(log.wait(1, 30s));
  const auto out = log.outcomes().at(rid);
  CHECK(out.final_event.finish_reason == "stop");
  CHECK(out.tokens == std::vector<int32_t>(expected.begin(), expected.begin() + 3));  // the end token is not output
  CHECK(out.final_event.usage.completion_tokens == 3);
  const auto snapshot = nlohmann::json::parse(engine.inspect_now("request:" + rid));
  CHECK(snapshot["kind"] == "chat");
  CHECK(engine.wait_until_quiet(10s) == "");

  // Without stop_at_eos the same token is just output.
  req.stop_at_eos = false;
  const std::string plain = engine.submit(req, log.callback());
  REQUIRE(log.wait(2, 30s));
  CHECK(log.outcomes().at(plain).tokens == expected);
}

TEST_CASE("gateway: namespaces isolate the prefix cache (tenants), answers stay the same") {
  gateway gw(stories_config());
  generation_request req;
  req.prompt = gw.tok().encode("Once upon a time there was a big dog who liked to run in the park", true, false);
  req.max_tokens = 8;
  REQUIRE(req.prompt.size() > 16);
  const int full = (static_cast<int>(req.prompt.size()) - 1) / 16 * 16;
  auto run = [&gw](generation_request r, uint64_t ns) {
    r.ns = ns;
    r.tenant = static_cast<uint32_t>(ns >> 32);
    event_log log;
    auto rid = gw.submit(r, log.callback());
    REQUIRE(log.wait(1, 30s));
    return log.outcomes().at(rid);
  };
  const uint64_t a = uint64_t{1} << 32, b = uint64_t{2} << 32, a_salted = a | 77u;
  auto first = run(req, a);
  CHECK(first.final_event.usage.cached_tokens == 0);
  auto other = run(req, b);  // another tenant: nothing of a's pages
  CHECK(other.final_event.usage.cached_tokens == 0);
  CHECK(other.tokens == first.tokens);
  CHECK(run(req, a_salted).final_event.usage.cached_tokens == 0);
  CHECK(run(req, a).final_event.usage.cached_tokens == full);  // its own namespace hits
  CHECK(run(req, b).final_event.usage.cached_tokens == full);
  auto cache = nlohmann::json::parse(inspect_now(gw, "cache"));
  CHECK(cache["invariants_ok"] == true);
  std::set<uint64_t> namespaces;
  for (auto& n : cache["tree"]["namespaces"]) namespaces.insert(n["ns"].get<uint64_t>());
  CHECK(namespaces == std::set<uint64_t>{a, a_salted, b});
  for (auto& c : cache["tree"]["children"]) CHECK(namespaces.count(c["ns"].get<uint64_t>()) == 1);
}

TEST_CASE("engine: actor_scheduler picks the CAF policy that runs; every policy gives the same answers") {
  // auto: sharing when the backend keeps 2 threads busy, stealing with 1; an explicit value wins.
  struct setting {
    std::string policy;
    int device_threads;
    std::string runs;
  };
  const std::vector<setting> settings{
      {"auto", 1, "stealing"}, {"auto", 2, "sharing"}, {"sharing", 1, "sharing"}, {"stealing", 2, "stealing"}};
  auto& m = stories260k();
  std::vector<std::vector<int32_t>> prompts;
  for (const char* text : {"Once upon a time", "The little dog ran to the park", "Lily had a red ball and",
                           "Once upon a time there was", "Tom and his mom went", "The sun was hot and"})
    prompts.push_back(m.tok->encode(text, true, false));
  std::vector<std::vector<int32_t>> first;  // the answers under the first setting
  for (const auto& s : settings) {
    CAPTURE(s.policy);
    CAPTURE(s.device_threads);
    auto cfg = small_engine_config(256);
    cfg.actor_scheduler = s.policy;
    cfg.device_threads = s.device_threads;
    auto e = stories_engine(cfg);
    CHECK(e->actor_scheduler() == s.runs);
    event_log log;
    std::vector<std::string> rids;
    for (int round = 0; round < 2; ++round)  // 12 requests at once, each prompt twice (prefix sharing)
      for (const auto& p : prompts) {
        generation_request req;
        req.prompt = p;
        req.max_tokens = 24;
        rids.push_back(e->submit(req, log.callback()));
      }
    REQUIRE(log.wait(rids.size(), 60s));
    std::vector<std::vector<int32_t>> got;
    for (const auto& rid : rids) got.push_back(log.outcomes().at(rid).tokens);
    for (std::size_t i = 0; i < prompts.size(); ++i) CHECK(got[i] == got[i + prompts.size()]);
    if (first.empty())
      first = got;
    else
      CHECK(got == first);
    CHECK(e->wait_until_quiet(10s) == "");
  }
  CHECK(kvactor::engine_config{}.actor_scheduler == "auto");  // the default
  auto bad = small_engine_config(256);
  bad.actor_scheduler = "polling";
  CHECK_THROWS_AS(stories_engine(bad), std::invalid_argument);
}

TEST_CASE("engine config: every choice key is checked against one list, the error naming the key") {
  kvactor::engine_config cfg;
  CHECK(kvactor::engine_choice_error(cfg) == "");
  CHECK(cfg.q8_0_activations == "auto");  // the default: int8 on the CPU, f32 on the GPU
  cfg.device = "hip";
  CHECK(kvactor::engine_choice_error(cfg) == "");
  cfg.q8_0_activations = "int8";
  CHECK(kvactor::engine_choice_error(cfg).rfind("q8_0_activations: \"int8\" is CPU-only", 0) == 0);
  cfg.q8_0_activations = "f32";
  CHECK(kvactor::engine_choice_error(cfg) == "");
  cfg.q8_0_activations = "int4";
  CHECK(kvactor::engine_choice_error(cfg) == "q8_0_activations: must be \"auto\", \"int8\" or \"f32\", got \"int4\"");
  cfg = kvactor::engine_config{};
  cfg.device = "tpu";
  CHECK(kvactor::engine_choice_error(cfg) == "device: must be \"cpu\" or \"hip\", got \"tpu\"");
  cfg = kvactor::engine_config{};
  cfg.eviction_policy = "fifo";
  CHECK(kvactor::engine_choice_error(cfg).rfind("eviction_policy: ", 0) == 0);
  auto bad = small_engine_config(256);
  bad.q8_0_activations = "int4";
  CHECK_THROWS_WITH_AS(stories_engine(bad), doctest::Contains("q8_0_activations"), std::invalid_argument);
}
