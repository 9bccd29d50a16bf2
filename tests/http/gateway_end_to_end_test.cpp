// The server over the real engine (gateway, actors, CPU backend) on stories260K:
// concurrency never changes an answer, metrics and inspection agree, a disconnect
// returns its pages, shutdown drains under load, and the `kvactor serve` binary
// exits 0 on SIGTERM.
#include <doctest/doctest.h>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <future>
#include <map>
#include <regex>
#include <thread>

#include <nlohmann/json.hpp>

#include "actors/gateway.hpp"
#include "http/server.hpp"
#include "tests/http/child_process.hpp"
#include "tests/http/http_client.hpp"

using namespace kvactor;
using namespace kvactor::test;
using nlohmann::json;

namespace {

http::server_config real_config() {
  http::server_config cfg;
  cfg.engine.model_path = std::string(KVACTOR_MODELS_DIR) + "/stories260K.bin";
  cfg.engine.tokenizer_path = std::string(KVACTOR_MODELS_DIR) + "/tok512.bin";
  cfg.engine.num_pages = 2048;
  cfg.engine.max_batch = 64;
  cfg.host = "127.0.0.1";
  cfg.port = 0;
  cfg.io_threads = 2;
  cfg.model_name = "stories260K";
  return cfg;
}

struct real_served {
  explicit real_served(http::server_config cfg = real_config()) : engine(cfg.engine), server(cfg, engine) {}
  unsigned short port() const { return server.port(); }
  json snapshot(const std::string& what) {
    std::promise<std::string> p;
    auto f = p.get_future();
    engine.inspect(what, [&p](std::string s) { p.set_value(std::move(s)); });
    return json::parse(f.get());
  }
  gateway engine;
  http::http_server server;
};

template <class F>
bool eventually(F cond, std::chrono::milliseconds within = std::chrono::milliseconds(10000)) {
  const auto end = std::chrono::steady_clock::now() + within;
  while (std::chrono::steady_clock::now() < end) {
    if (cond()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return cond();
}

// One sample of a Prometheus metric by its full name with labels.
double metric(const std::string& text, const std::string& name) {
  const auto pos = text.find("\n" + name + " ");
  REQUIRE_MESSAGE(pos != std::string::npos, name);
  return std::stod(text.substr(pos + name.size() + 2));
}

struct job {
  std::string target;
  json body;
};

// The generated text of an answer, streamed or not, in either API's shape.
std::string answer_text(const http_result& r) {
  REQUIRE_MESSAGE(r.status == 200, r.body);
  if (r.header("content-type") == "text/event-stream") {
    std::string text;
    for (const auto& e : sse_data(r.body)) {
      if (e == "[DONE]") break;
      const json j = json::parse(e);
      text += j.contains("choices") ? j["choices"][0]["text"].get<std::string>() : j["text"].get<std::string>();
    }
    return text;
  }
  const json j = json::parse(r.body);
  return j.contains("choices") ? j["choices"][0]["text"].get<std::string>()
                               : j["responses"][0]["responses"][0]["text"].get<std::string>();
}

std::vector<job> mixed_jobs() {
  const char* openings[] = {"Once upon a time", "One day, a little girl named Lily", "Tom had a big red ball",
                            "The sun was shining"};
  const char* endings[] = {" and", " She", " He went to the park.", " they", ", there was", " The dog", " so", "."};
  std::vector<job> jobs;
  for (int i = 0; i < 64; ++i) {
    const std::string prompt = std::string(openings[i % 4]) + endings[(i / 4) % 8];
    const bool sampled = i % 3 == 0, stream = i % 2 == 1;
    // The other sampling fields in rotation: each is a pure function of the request too.
    json extra = json::object();
    if (i % 5 == 1) extra.update({{"presence_penalty", 0.8}, {"frequency_penalty", 0.5}, {"repetition_penalty", 1.3}});
    if (i % 7 == 2) extra["logit_bias"] = {{"400", 4}, {"13", -100}};
    if (i % 6 == 3) extra["min_p"] = 0.1;
    if (i % 8 == 5) extra["cache_prompt"] = false;
    if (i % 4 < 2) {
      json sp = {{"max_completion_tokens", 12 + i % 9}};
      if (sampled) sp.update({{"temperature", 0.8}, {"top_k", 40}, {"seed", 1000 + i}});
      sp.update(extra);
      jobs.push_back({"/generate", {{"text", prompt}, {"sampling_params", sp}, {"stream", stream}}});
    } else {
      json b = {
          {"prompt", prompt}, {"max_tokens", 12 + i % 9}, {"temperature", sampled ? 0.8 : 0.0}, {"stream", stream}};
      if (sampled) b["seed"] = 2000 + i;
      if (i % 3 == 1) b["logprobs"] = 2;
      b.update(extra);
      jobs.push_back({"/v1/completions", b});
    }
  }
  return jobs;
}

}  // namespace

TEST_CASE("real engine: 256 concurrent HTTP requests give exactly the answers sent one at a time") {
  real_served s;
  const auto jobs = mixed_jobs();
  std::vector<std::string> alone;
  for (const auto& j : jobs) alone.push_back(answer_text(http_call(s.port(), "POST", j.target, j.body.dump())));
  CHECK(alone[0].size() > 10);
  MESSAGE("e.g. '" << jobs[0].body.dump() << "' -> '" << alone[0] << "'");

  std::vector<std::future<http_result>> together;
  for (int copy = 0; copy < 4; ++copy)
    for (const auto& j : jobs)
      together.push_back(
          std::async(std::launch::async, [&s, j] { return http_call(s.port(), "POST", j.target, j.body.dump()); }));
  int mismatches = 0;
  for (std::size_t i = 0; i < together.size(); ++i) {
    const std::string got = answer_text(together[i].get());
    if (got != alone[i % jobs.size()]) {
      ++mismatches;
      MESSAGE("request " << i << ": '" << got << "' vs alone '" << alone[i % jobs.size()] << "'");
    }
  }
  CHECK(mismatches == 0);
}

TEST_CASE(
    "real engine: a sampled request without a seed reports the seed it used, and replaying it gives the same text") {
  real_served s;
  const json unseeded = {{"prompt", "Once upon a time"}, {"max_tokens", 24}, {"temperature", 1.0}};
  const json a = json::parse(http_call(s.port(), "POST", "/v1/completions", unseeded.dump()).body);
  const json b = json::parse(http_call(s.port(), "POST", "/v1/completions", unseeded.dump()).body);
  REQUIRE(a.contains("seed"));
  REQUIRE(b.contains("seed"));
  CHECK(a["seed"] != b["seed"]);  // a fresh seed each, not seed 0 for all
  json replay = unseeded;
  replay["seed"] = a["seed"];
  const json again = json::parse(http_call(s.port(), "POST", "/v1/completions", replay.dump()).body);
  CHECK(again["seed"] == a["seed"]);
  CHECK(again["choices"][0]["text"] == a["choices"][0]["text"]);
  // Greedy answers carry no seed.
  const json greedy = {{"prompt", "Once upon a time"}, {"max_tokens", 4}, {"temperature", 0}};
  CHECK_FALSE(json::parse(http_call(s.port(), "POST", "/v1/completions", greedy.dump()).body).contains("seed"));
  // Chat too.
  const json chat = {{"messages", {{{"role", "user"}, {"content", "Hi"}}}}, {"max_tokens", 4}};
  CHECK(json::parse(http_call(s.port(), "POST", "/v1/chat/completions", chat.dump()).body).contains("seed"));
}

TEST_CASE("real engine: metrics and inspection agree, and usage reports cached prompt tokens") {
  real_served s;
  const std::string prompt =
      "Once upon a time, there was a little girl named Lily. She loved to play outside in the park with her dog.";
  const json body = {{"prompt", prompt}, {"max_tokens", 8}, {"temperature", 0}};
  const auto before = http_call(s.port(), "GET", "/metrics").body;
  const json first = json::parse(http_call(s.port(), "POST", "/v1/completions", body.dump()).body);
  const json second = json::parse(http_call(s.port(), "POST", "/v1/completions", body.dump()).body);
  CHECK(first["choices"][0]["text"] == second["choices"][0]["text"]);
  const int cached = second["usage"]["prompt_tokens_details"]["cached_tokens"].get<int>();
  CHECK(cached > 0);  // the second request reuses the first one's full pages
  CHECK(cached < second["usage"]["prompt_tokens"].get<int>());

  // Quiet now: the same numbers through every door.
  const std::string after = http_call(s.port(), "GET", "/metrics").body;
  const json cache = json::parse(http_call(s.port(), "GET", "/v1/inspect/cache").body);
  const json requests = json::parse(http_call(s.port(), "GET", "/v1/inspect/requests").body);
  const json actors = json::parse(http_call(s.port(), "GET", "/v1/inspect/actors").body);
  // check=full runs the O(pages) invariant walks on demand; a plain poll checks counters.
  const json full = json::parse(http_call(s.port(), "GET", "/v1/inspect/cache?check=full").body);
  CHECK(full["invariants_ok"] == true);
  CHECK(full["invariants_checked"] == "full");
  CHECK(cache["invariants_checked"] == "counters");
  CHECK(full["page_states"] == cache["page_states"]);
  const auto bad_check = http_call(s.port(), "GET", "/v1/inspect/cache?check=everything");
  CHECK(bad_check.status == 400);
  CHECK(bad_check.body.find("check") != std::string::npos);
  for (const char* state : {"total", "free", "private", "cached_locked", "cached_evictable"})
    CHECK_MESSAGE(
        metric(after, std::string("kvactor_pages{state=\"") + state + "\"}") == cache["pages"][state].get<double>(),
        state);
  CHECK(cache["invariants_ok"] == true);
  CHECK(cache["pages"]["private"] == 0);
  CHECK(cache["pages"]["cached_locked"] == 0);
  CHECK(metric(after, "kvactor_pages{state=\"free\"}") + metric(after, "kvactor_pages{state=\"cached_evictable\"}") ==
        metric(after, "kvactor_pages{state=\"total\"}"));
  CHECK(metric(after, "kvactor_requests_total{outcome=\"finished\"}") -
            metric(before, "kvactor_requests_total{outcome=\"finished\"}") ==
        2);
  CHECK(metric(after, "kvactor_prefix_cache_hit_tokens_total") -
            metric(before, "kvactor_prefix_cache_hit_tokens_total") ==
        cached + first["usage"]["prompt_tokens_details"]["cached_tokens"].get<int>());
  CHECK(metric(after, "kvactor_time_to_first_token_seconds_count") -
            metric(before, "kvactor_time_to_first_token_seconds_count") ==
        2);
  CHECK(metric(after, "kvactor_running_requests") == 0);
  CHECK(actors["actors"].is_array());
  CHECK(actors["actors"].size() >= 3);

  // Both requests are listed, and the single-request view matches the list entry.
  const std::string rid = second["id"].get<std::string>().substr(5);  // "cmpl-<rid>"
  const auto one = http_call(s.port(), "GET", "/v1/inspect/requests/" + rid);
  REQUIRE(one.status == 200);
  const json entry = json::parse(one.body);
  CHECK(entry["rid"] == rid);
  CHECK(entry["cached_tokens"] == cached);
  bool listed = false;
  for (const auto& r : requests["requests"])
    if (r["rid"] == rid) listed = r["generated_tokens"] == entry["generated_tokens"];
  CHECK(listed);
}

TEST_CASE("real engine: a client gone mid-stream is cancelled and every page comes back") {
  real_served s;
  http_connection c(s.port());
  const std::string body = R"({"prompt":"Once upon a time","max_tokens":400,"temperature":0,"stream":true})";
  c.send_raw("POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" +
             body);
  REQUIRE(c.read_raw(std::chrono::milliseconds(10000), "data: ").find("data: ") != std::string::npos);
  c.close();
  CHECK(eventually([&] {
    const json m = s.snapshot("metrics");
    return m["requests"]["cancelled"] == 1 && m["pages"]["private"] == 0 && m["pages"]["cached_locked"] == 0;
  }));
  const json cache = s.snapshot("cache");
  CHECK(cache["invariants_ok"] == true);
  CHECK(cache["pages"]["free"].get<int>() + cache["pages"]["cached_evictable"].get<int>() ==
        cache["pages"]["total"].get<int>());
}

TEST_CASE("real engine: graceful shutdown under load finishes every request and returns every page") {
  real_served s;
  std::vector<std::future<http_result>> inflight;
  for (int i = 0; i < 48; ++i)
    inflight.push_back(std::async(std::launch::async, [&s, i] {
      const json b = {{"prompt", "Lily and Tom " + std::to_string(i)},
                      {"max_tokens", 200},
                      {"temperature", 0},
                      {"stream", i % 2 == 0}};
      return http_call(s.port(), "POST", "/v1/completions", b.dump());
    }));
  // Requests the engine has accepted (queued or running) when the shutdown begins.
  auto engine_live = [&s] {
    const json m = s.snapshot("metrics");
    return m["running"].get<int>() + m["queue_depth"].get<int>();
  };
  REQUIRE(eventually([&] { return engine_live() >= 8; }));
  const int in_flight_at_signal = engine_live();
  s.server.shutdown(std::chrono::seconds(60));
  int finished = 0, refused = 0;
  for (auto& f : inflight) {
    const auto r = f.get();
    if (r.status == 0 || (r.status == 503 && r.body.find("SHUTTING_DOWN") != std::string::npos)) {
      ++refused;  // arrived after the listener closed: refused, never half-answered
      continue;
    }
    REQUIRE(r.status == 200);
    const bool streamed = r.header("content-type") == "text/event-stream";
    const std::string reason =
        streamed ? (r.body.find("\"finish_reason\":\"length\"") != std::string::npos ? "length" : "stop")
                 : json::parse(r.body)["choices"][0]["finish_reason"].get<std::string>();
    if (streamed) CHECK(sse_data(r.body).back() == "[DONE]");
    CHECK((reason == "length" || reason == "stop"));  // drained to the end, not cancelled
    ++finished;
  }
  CHECK(finished >= in_flight_at_signal);
  CHECK(finished + refused == 48);
  const json m = s.snapshot("metrics");
  CHECK(m["requests"]["finished"].get<int>() == finished);
  CHECK(m["requests"]["cancelled"] == 0);
  const json cache = s.snapshot("cache");
  CHECK(cache["invariants_ok"] == true);
  CHECK(cache["pages"]["private"] == 0);
  CHECK(cache["pages"]["cached_locked"] == 0);
}

TEST_CASE("real engine: a full queue answers 503 QUEUE_FULL with Retry-After, and the rest still succeed") {
  auto cfg = real_config();
  cfg.engine.max_batch = 1;
  cfg.engine.queue_limit = 1;
  real_served s(cfg);
  std::vector<std::future<http_result>> burst;
  for (int i = 0; i < 12; ++i)
    burst.push_back(std::async(std::launch::async, [&s, i] {
      const json b = {{"prompt", "Tom " + std::to_string(i)}, {"max_tokens", 100}, {"temperature", 0}};
      return http_call(s.port(), "POST", "/v1/completions", b.dump());
    }));
  int ok = 0, full = 0;
  for (auto& f : burst) {
    const auto r = f.get();
    if (r.status == 200) {
      ++ok;
    } else {
      CHECK(r.status == 503);
      CHECK(r.header("retry-after") == "1");
      CHECK(json::parse(r.body)["error"]["code"] == "QUEUE_FULL");
      ++full;
    }
  }
  CHECK(ok >= 1);
  CHECK(full >= 1);
  CHECK(ok + full == 12);
  const json m = s.snapshot("metrics");
  CHECK(m["requests"]["rejected"] == full);
  CHECK(m["pages"]["private"] == 0);
}

namespace {
int tree_depth(const json& node) {
  int deepest = 0;
  if (node.contains("children"))
    for (const auto& c : node["children"]) deepest = std::max(deepest, 1 + tree_depth(c));
  return deepest;
}
}  // namespace

TEST_CASE("real engine: /v1/inspect/cache?depth=D shows more than the gateway's default 8 levels") {
  real_served s;
  // 14 full pages of 16 tokens: a chain 14 levels deep once published.
  std::vector<int> ids{1};
  for (int i = 1; i < 14 * 16 + 5; ++i) ids.push_back(3 + (i * 7) % 500);
  const json body = {{"input_ids", ids}, {"sampling_params", {{"max_completion_tokens", 1}}}};
  REQUIRE(http_call(s.port(), "POST", "/generate", body.dump()).status == 200);

  const json deep = json::parse(http_call(s.port(), "GET", "/v1/inspect/cache?depth=20&max_nodes=1000").body);
  CHECK(tree_depth(deep["tree"]) == 14);
  CHECK(deep["tree"]["truncated"] == false);
  const json shallow = json::parse(http_call(s.port(), "GET", "/v1/inspect/cache?depth=3").body);
  CHECK(tree_depth(shallow["tree"]) == 3);
  CHECK(shallow["tree"]["truncated"] == true);
}

TEST_CASE("real engine: an inspected request id that is not UTF-8 gets a 404, not silence") {
  real_served s;
  const auto reply = http_call(s.port(), "GET", "/v1/inspect/requests/%FF%FE");
  CHECK(reply.status == 404);
  CHECK(json::parse(reply.body, nullptr, false)["error"]["code"] == "NOT_FOUND");
}

TEST_CASE("real engine: a stop string trims the text, cancels generation, and frees its pages") {
  real_served s;
  const json plain = {{"prompt", "Once upon a time"}, {"max_tokens", 60}, {"temperature", 0}};
  const std::string full =
      json::parse(http_call(s.port(), "POST", "/v1/completions", plain.dump()).body)["choices"][0]["text"];
  REQUIRE(full.size() > 40);
  const std::string stop = full.substr(25, 3);
  json with_stop = plain;
  with_stop["stop"] = stop;
  const json r = json::parse(http_call(s.port(), "POST", "/v1/completions", with_stop.dump()).body);
  CHECK(r["choices"][0]["text"] == full.substr(0, full.find(stop)));
  CHECK(r["choices"][0]["finish_reason"] == "stop");
  CHECK(r["usage"]["completion_tokens"].get<int>() < 60);
  CHECK(eventually([&] {
    const json m = s.snapshot("metrics");
    return m["requests"]["cancelled"] == 1 && m["pages"]["private"] == 0 && m["pages"]["cached_locked"] == 0;
  }));
}

#ifdef KVACTOR_BINARY

TEST_CASE("kvactor serve: SIGTERM under load drains, answers everything, exits 0") {
  child server({KVACTOR_BINARY, "serve", "--port", "0", "--io-threads", "2"});
  const auto m = server.wait_for(std::regex("http://127\\.0\\.0\\.1:([0-9]+)"), std::chrono::seconds(30));
  REQUIRE_MESSAGE(!m.empty(), server.err);
  const auto port = static_cast<unsigned short>(std::stoi(m[1].str()));
  CHECK(http_call(port, "GET", "/health").status == 200);
  std::vector<std::future<http_result>> inflight;
  for (int i = 0; i < 16; ++i)
    inflight.push_back(std::async(std::launch::async, [port, i] {
      const json b = {{"text", "Tom " + std::to_string(i)}, {"sampling_params", {{"max_completion_tokens", 60}}}};
      return http_call(port, "POST", "/generate", b.dump());
    }));
  // SIGTERM once the engine holds at least one of them (a fixed sleep raced a loaded
  // machine under ASan: every request still in flight on the client side got 503).
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  bool engine_has_one = false;
  while (!engine_has_one && std::chrono::steady_clock::now() < deadline) {
    const http_result r = http_call(port, "GET", "/v1/inspect/requests");
    engine_has_one = r.status == 200 && r.body.find("\"generate\"") != std::string::npos;
    if (!engine_has_one) std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  REQUIRE(engine_has_one);
  kill(server.pid, SIGTERM);
  int answered = 0;
  for (auto& f : inflight) {
    const auto r = f.get();
    if (r.status == 0) continue;  // connected after the listener closed: refused, fine
    // Arrived after SIGTERM: refused as draining (503 SHUTTING_DOWN), never dropped.
    if (r.status == 503) {
      CHECK(r.body.find("SHUTTING_DOWN") != std::string::npos);
      continue;
    }
    CHECK(r.status == 200);
    answered += r.status == 200;
  }
  CHECK(answered >= 1);
  CHECK(server.wait_exit() == 0);
  server.wait_for(std::regex("stopped"), std::chrono::seconds(2));  // the rest of its stderr
  CHECK(server.err.find("draining") != std::string::npos);
  CHECK(server.err.find("stopped") != std::string::npos);
}

TEST_CASE("kvactor serve: an invalid configuration is refused naming the key") {
  {
    child bad({KVACTOR_BINARY, "serve", "--page-size", "0"});
    CHECK(bad.wait_exit() == 2);
    bad.wait_for(std::regex("page_size"), std::chrono::seconds(2));
    CHECK(bad.err.find("page_size") != std::string::npos);
  }
  {
    child missing({KVACTOR_BINARY, "serve", "--model", "/nonexistent/model.bin"});
    CHECK(missing.wait_exit() == 2);
    missing.wait_for(std::regex("model"), std::chrono::seconds(2));
    CHECK(missing.err.find("model: file not found") != std::string::npos);
  }
  {
    child unknown({KVACTOR_BINARY, "serve", "--colour", "blue"});
    CHECK(unknown.wait_exit() == 2);
    unknown.wait_for(std::regex("colour"), std::chrono::seconds(2));
    CHECK(unknown.err.find("colour: unknown configuration key") != std::string::npos);
  }
}
#endif
