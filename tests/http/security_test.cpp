// Hostile or careless clients against a real socket (scripted engine): the API key,
// the limits on prompts, tokens, batches, connections and pipelining, and the
// console's static files refusing every way out of their directory.
#include <doctest/doctest.h>

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <future>
#include <thread>

#include <nlohmann/json.hpp>

#include "http/authorization.hpp"
#include "http/server_config.hpp"
#include "tests/http/http_client.hpp"
#include "tests/http/served.hpp"

using namespace kvactor;
using namespace kvactor::test;
using nlohmann::json;

namespace {

const std::string test_key = "kv-test-key-6f1d2e3c4b5a6978";

std::string error_code(const http_result& r) {
  const json j = json::parse(r.body, nullptr, false);
  if (j.is_discarded() || !j.contains("error")) return "<not an error: " + r.body + ">";
  return j["error"]["code"].get<std::string>();
}

template <class F>
bool eventually(F cond, std::chrono::milliseconds within = std::chrono::milliseconds(5000)) {
  const auto end = std::chrono::steady_clock::now() + within;
  while (std::chrono::steady_clock::now() < end) {
    if (cond()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return cond();
}

// Counts complete responses in raw bytes read from a connection.
int count_responses(const std::string& raw) {
  int n = 0;
  for (auto pos = raw.find("HTTP/1.1 "); pos != std::string::npos; pos = raw.find("HTTP/1.1 ", pos + 1)) ++n;
  return n;
}

const std::string small_generate = R"({"text":"a","sampling_params":{"max_completion_tokens":2}})";

}  // namespace

TEST_CASE("bearer tokens: exact match only, scheme case-insensitive") {
  using http::bearer_token_matches;
  CHECK(bearer_token_matches("Bearer " + test_key, test_key));
  CHECK(bearer_token_matches("bearer " + test_key, test_key));
  CHECK(bearer_token_matches("BEARER   " + test_key + "  ", test_key));
  CHECK_FALSE(bearer_token_matches("Bearer " + test_key + "x", test_key));
  CHECK_FALSE(bearer_token_matches("Bearer " + test_key.substr(0, test_key.size() - 1), test_key));
  CHECK_FALSE(bearer_token_matches("Bearer X" + test_key.substr(1), test_key));
  CHECK_FALSE(bearer_token_matches("Bearer", test_key));
  CHECK_FALSE(bearer_token_matches("Bearer ", test_key));
  CHECK_FALSE(bearer_token_matches("Bearer" + test_key, test_key));
  CHECK_FALSE(bearer_token_matches("Basic " + test_key, test_key));
  CHECK_FALSE(bearer_token_matches(test_key, test_key));
  CHECK_FALSE(bearer_token_matches("", test_key));
  CHECK_FALSE(bearer_token_matches("Bearer ", ""));  // no key configured never matches
  using http::endpoint;
  for (auto e : {endpoint::generate, endpoint::completions, endpoint::inspect_actors, endpoint::inspect_cache,
                 endpoint::inspect_requests, endpoint::inspect_request, endpoint::inspect_cluster})
    CHECK(http::needs_api_key(e));
  for (auto e : {endpoint::health, endpoint::models, endpoint::metrics, endpoint::console})
    CHECK_FALSE(http::needs_api_key(e));
}

TEST_CASE("an API key protects generation and inspection, with 401 and WWW-Authenticate") {
  auto cfg = test_config();
  cfg.api_key = test_key;
  served s({}, cfg);
  const header_list good = {{"Authorization", "Bearer " + test_key}};
  const header_list wrong = {{"Authorization", "Bearer not-the-key-0000000000"}};

  struct call {
    const char* method;
    const char* target;
    std::string body;
  };
  const std::vector<call> protected_calls = {
      {"POST", "/generate", small_generate}, {"POST", "/v1/completions", R"({"prompt":"a","max_tokens":2})"},
      {"GET", "/v1/inspect/actors", ""},     {"GET", "/v1/inspect/cache", ""},
      {"GET", "/v1/inspect/requests", ""},   {"GET", "/v1/inspect/requests/some-rid", ""},
  };
  for (const auto& c : protected_calls) {
    const std::string target = c.target;
    CAPTURE(target);
    const auto none = http_call(s.port(), c.method, c.target, c.body);
    CHECK(none.status == 401);
    CHECK(error_code(none) == "UNAUTHORIZED");
    CHECK(none.header("www-authenticate") == R"(Bearer realm="kvactor")");
    CHECK(none.header("content-type") == "application/json");
    const auto bad = http_call(s.port(), c.method, c.target, c.body, wrong);
    CHECK(bad.status == 401);
    CHECK(bad.header("www-authenticate") == R"(Bearer realm="kvactor", error="invalid_token")");
    CHECK(bad.body.find("not-the-key") == std::string::npos);  // what was sent is not echoed
    CHECK(bad.body.find(test_key) == std::string::npos);
  }
  CHECK(s.service->submitted() == 0);  // nothing unauthenticated reached the engine
  {
    http_connection kept(s.port());
    const auto refused = kept.call("POST", "/generate", small_generate, wrong);
    CHECK(refused.status == 401);
    CHECK(refused.keep_alive);  // a refusal keeps the connection, like any 4xx
    CHECK(kept.call("POST", "/generate", small_generate, good).status == 200);
  }
  CHECK(s.service->submitted() == 1);

  CHECK(http_call(s.port(), "POST", "/generate", small_generate, good).status == 200);
  CHECK(http_call(s.port(), "POST", "/v1/completions", R"({"prompt":"a","max_tokens":2})", good).status == 200);
  CHECK(http_call(s.port(), "GET", "/v1/inspect/actors", "", good).status == 200);
  CHECK(s.service->submitted() == 3);

  // Open without the key: liveness, discovery, aggregate metrics, the console page.
  for (const char* open : {"/health", "/v1/models", "/metrics", "/console", "/console/app.js"}) {
    CAPTURE(open);
    CHECK(http_call(s.port(), "GET", open).status == 200);
  }
  // Routing errors come before authentication: they reveal nothing about the key.
  CHECK(http_call(s.port(), "GET", "/nope").status == 404);
}

TEST_CASE("the API key comes from a file or the environment, never from a flag, and errors never show it") {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("kvactor_key_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const std::string key_file = (dir / "key").string();
  std::ofstream(key_file) << test_key << "\n";
  ::unsetenv(http::api_key_env);

  const std::string base = R"({"model":"m.bin"})";
  CHECK(http::load_server_config(base, {}, "/repo").api_key.empty());
  CHECK(http::load_server_config(base, {{"api_key_file", key_file}}, "/repo").api_key == test_key);

  ::setenv(http::api_key_env, "env-key-abcdefghijklmnop", 1);
  CHECK(http::load_server_config(base, {}, "/repo").api_key == "env-key-abcdefghijklmnop");
  CHECK(http::load_server_config(base, {{"api_key_file", key_file}}, "/repo").api_key == test_key);  // file wins
  ::unsetenv(http::api_key_env);

  auto refused = [&](std::vector<std::pair<std::string, std::string>> over, const std::string& key_name,
                     const std::string& secret) {
    try {
      (void)http::load_server_config(base, over, "/repo");
      FAIL("accepted");
    } catch (const http::config_error& e) {
      const std::string what = e.what();
      CHECK_MESSAGE(what.rfind(key_name + ":", 0) == 0, what);
      if (!secret.empty()) CHECK_MESSAGE(what.find(secret) == std::string::npos, what);
    }
  };
  refused({{"api_key", test_key}}, "api_key", "");  // no such flag: a key on the command line shows in ps
  refused({{"api_key_file", (dir / "missing").string()}}, "api_key_file", "");
  std::ofstream(dir / "short") << "short-secret";
  refused({{"api_key_file", (dir / "short").string()}}, "api_key_file", "short-secret");
  std::ofstream(dir / "spaced") << "a secret with spaces in it";
  refused({{"api_key_file", (dir / "spaced").string()}}, "api_key_file", "secret with");
  ::setenv(http::api_key_env, "tiny", 1);
  refused({}, http::api_key_env, "tiny");
  ::unsetenv(http::api_key_env);

  const std::string help = http::config_keys_help();
  CHECK(help.find("--api-key-file") != std::string::npos);
  CHECK(help.find("--api-key ") == std::string::npos);
  fs::remove_all(dir);
}

TEST_CASE("the server binds 127.0.0.1 unless told otherwise") {
  CHECK(http::server_config{}.host == "127.0.0.1");
  std::ifstream in(http::repository_dir() + "/configs/default.json");
  REQUIRE(in);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ::unsetenv(http::api_key_env);
  const auto cfg = http::load_server_config(text, {}, http::repository_dir());
  CHECK(cfg.host == "127.0.0.1");
  CHECK(cfg.api_key.empty());
  // Every limit has its default in the shipped configuration.
  const json shipped = json::parse(text);
  for (const char* key :
       {"body_limit_bytes", "max_prompt_tokens", "max_new_tokens", "max_prompts_per_request", "max_connections",
        "max_requests_per_connection", "pipeline_buffer_bytes", "api_key_file", "header_timeout_ms",
        "body_min_bytes_per_s", "max_connections_per_client", "max_requests_per_client"})
    CHECK_MESSAGE(shipped.contains(key), key);
}

TEST_CASE("limits on prompt length, max tokens and batch size are 400s that never reach the engine") {
  auto cfg = test_config();
  cfg.max_prompt_tokens = 20;
  cfg.max_new_tokens = 10;
  cfg.max_prompts_per_request = 3;
  served s({}, cfg);
  std::string ids = "[1";
  for (int i = 0; i < 24; ++i) ids += ",5";
  ids += "]";
  const auto long_ids = http_call(s.port(), "POST", "/generate", R"({"input_ids":)" + ids + "}");
  CHECK(long_ids.status == 400);
  CHECK(error_code(long_ids) == "PROMPT_TOO_LONG");
  CHECK(json::parse(long_ids.body)["error"]["message"].get<std::string>().find("20 tokens") != std::string::npos);
  const auto long_text = http_call(s.port(), "POST", "/v1/completions",
                                   json{{"prompt", std::string(400, 'x') + " once upon a time"}}.dump());
  CHECK(error_code(long_text) == "PROMPT_TOO_LONG");

  const auto many_tokens = http_call(s.port(), "POST", "/v1/completions", R"({"prompt":"a","max_tokens":11})");
  CHECK(many_tokens.status == 400);
  CHECK(error_code(many_tokens) == "OUT_OF_RANGE");
  CHECK(json::parse(many_tokens.body)["error"]["message"].get<std::string>().find("max_tokens") != std::string::npos);
  CHECK(error_code(http_call(s.port(), "POST", "/generate",
                             R"({"text":"a","sampling_params":{"max_completion_tokens":11}})")) == "OUT_OF_RANGE");

  CHECK(error_code(http_call(s.port(), "POST", "/generate", R"({"text":["a","b","c","d"]})")) == "OUT_OF_RANGE");
  CHECK(error_code(http_call(s.port(), "POST", "/generate", R"({"input_ids":[[1],[1],[1],[1]]})")) == "OUT_OF_RANGE");
  CHECK(error_code(http_call(s.port(), "POST", "/v1/completions", R"({"prompt":["a","b","c","d"]})")) ==
        "OUT_OF_RANGE");
  CHECK(s.service->submitted() == 0);

  // At the limits exactly: accepted.
  CHECK(http_call(s.port(), "POST", "/v1/completions", R"({"prompt":"a","max_tokens":10})").status == 200);
  CHECK(http_call(s.port(), "POST", "/generate",
                  R"({"text":["a","b","c"],"sampling_params":{"max_completion_tokens":2}})")
            .status == 200);
}

TEST_CASE(
    "over max_connections the oldest idle connection is shed; when all are answering, 503; far over, a plain close") {
  auto cfg = test_config();
  cfg.max_connections = 3;
  cfg.idle_timeout_ms = 20000;
  served s({}, cfg);
  std::vector<http_connection> held;
  for (int i = 0; i < 3; ++i) {
    held.emplace_back(s.port());
    REQUIRE(held.back().call("GET", "/health").status == 200);
  }
  // Full of idle keep-alive connections: a newcomer is served, the oldest idle one goes.
  http_connection newcomer(s.port());
  CHECK(newcomer.call("GET", "/health").status == 200);
  // The oldest idle one as the server saw them (its bookkeeping of an answer written can
  // trail the client's reading it, so which of the three is not fixed): exactly one goes.
  REQUIRE(eventually([&] { return s.server->metrics().shed_idle_connections.load() == 1; }));
  int served = 0;
  for (auto& h : held) served += h.call("GET", "/health").status == 200 ? 1 : 0;
  CHECK(served == 2);
  CHECK(s.server->metrics().shed_idle_connections.load() == 1);
  held.clear();
  newcomer.close();
  REQUIRE(eventually([&] { return s.server->metrics().open_connections.load() == 0; }));

  // Full of connections that are all answering (paused generations): 503, nothing shed.
  s.service->pause(true);
  const std::string generate =
      "POST /generate HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(small_generate.size()) + "\r\n\r\n" +
      small_generate;
  std::vector<http_connection> busy;
  for (int i = 0; i < 3; ++i) {
    busy.emplace_back(s.port());
    busy.back().send_raw(generate);
  }
  REQUIRE(eventually([&] { return s.service->submitted() == 3; }));
  http_connection over(s.port());
  const auto refused = over.call("GET", "/health");
  CHECK(refused.status == 503);
  CHECK(error_code(refused) == "TOO_MANY_CONNECTIONS");
  CHECK(refused.header("retry-after") == "1");
  CHECK_FALSE(refused.keep_alive);
  CHECK(over.closed_by_peer(std::chrono::milliseconds(2000)));

  // Three silent extra connections are refused sessions (each gone within a second);
  // with six open, a seventh is closed at once without an answer.
  std::vector<http_connection> silent;
  for (int i = 0; i < 3; ++i) silent.emplace_back(s.port());
  REQUIRE(eventually([&] { return s.server->metrics().open_connections.load() == 6; }));
  http_connection flood(s.port());
  const auto t0 = std::chrono::steady_clock::now();
  CHECK(flood.closed_by_peer(std::chrono::milliseconds(3000)));
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::milliseconds(500));
  CHECK(s.server->metrics().refused_connections.load() >= 5);
  // The refused ones go; the busy ones finish their answers.
  CHECK(eventually([&] { return s.server->metrics().open_connections.load() == 3; }));
  CHECK(s.server->metrics().shed_reading_connections.load() == 0);
  s.service->pause(false);
  for (auto& b : busy)
    CHECK(b.read_raw(std::chrono::milliseconds(3000), "\r\n\r\n").find("200 OK") != std::string::npos);
  // The busy ones turn idle once their answers are written; until then a fresh connection
  // finds every connection answering and is refused (seen under ASan on a loaded machine).
  http_result metrics;
  REQUIRE(eventually([&] {
    metrics = http_call(s.port(), "GET", "/metrics");
    return metrics.status == 200;
  }));
  CHECK(metrics.body.find("kvactor_http_refused_connections_total ") != std::string::npos);
  // (This fresh connection found the server full of idle ones again: it shed one more.)
  CHECK(metrics.body.find("kvactor_http_shed_connections_total{state=\"idle\"} 2") != std::string::npos);
}

TEST_CASE("pipelining is bounded: max_requests_per_connection closes, read-ahead is capped") {
  auto cfg = test_config();
  cfg.max_requests_per_connection = 3;
  cfg.pipeline_buffer_bytes = 1024;
  served s({}, cfg);
  {
    http_connection c(s.port());
    std::string five;
    for (int i = 0; i < 5; ++i) five += "GET /health HTTP/1.1\r\nHost: x\r\n\r\n";
    c.send_raw(five);
    std::string got;
    const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(3);
    while (std::chrono::steady_clock::now() < end && count_responses(got) < 3)
      got += c.read_raw(std::chrono::milliseconds(100));
    got += c.read_raw(std::chrono::milliseconds(300));
    CHECK(count_responses(got) == 3);
    CHECK(got.find("Connection: close") != std::string::npos);
    CHECK(c.closed_by_peer(std::chrono::milliseconds(2000)));
  }
  {
    // A paused generation with ~64 KiB of pipelined requests behind it: the server reads
    // ahead at most pipeline_buffer_bytes (TCP holds back the rest), then answers every
    // request in order once the generation ends.
    auto roomy = test_config();
    roomy.pipeline_buffer_bytes = 1024;
    served r({}, roomy);
    r.service->pause(true);
    http_connection c(r.port());
    std::string pipelined =
        "POST /generate HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(small_generate.size()) + "\r\n\r\n" +
        small_generate;
    const int healths = 1500;
    for (int i = 0; i < healths; ++i) pipelined += "GET /health HTTP/1.1\r\nHost: x\r\n\r\n";
    pipelined += "GET /v1/models HTTP/1.1\r\nHost: x\r\n\r\n";
    auto writer = std::async(std::launch::async, [&c, pipelined] { c.send_raw(pipelined); });
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    CHECK(r.service->submitted() == 1);
    r.service->pause(false);
    std::string got;
    const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < end && got.find("owned_by") == std::string::npos)
      got += c.read_raw(std::chrono::milliseconds(100));
    writer.get();
    CHECK(count_responses(got) == healths + 2);
    const auto first = got.find("\"responses\""), second = got.find("\"status\":\"ok\""), third = got.find("owned_by");
    REQUIRE(first != std::string::npos);
    REQUIRE(second != std::string::npos);
    REQUIRE(third != std::string::npos);
    CHECK(first < second);
    CHECK(second < third);
  }
}

TEST_CASE("console files: no traversal by encoding, absolute paths, NUL bytes or symlinks") {
  namespace fs = std::filesystem;
  auto cfg = test_config();
  const fs::path root = cfg.console_dir;
  const fs::path outside = root.parent_path() / ("kvactor_outside_" + std::to_string(::getpid()));
  fs::create_directories(outside);
  std::ofstream(outside / "secret.txt") << "TOP-SECRET-CONTENT";
  std::error_code ec;
  fs::remove(root / "out.txt", ec);
  fs::remove(root / "outdir", ec);
  fs::create_symlink(outside / "secret.txt", root / "out.txt");
  fs::create_directory_symlink(outside, root / "outdir");
  const std::string up = "../" + outside.filename().string() + "/secret.txt";
  served s({}, cfg);
  const std::string name = outside.filename().string();
  const std::vector<std::string> attacks = {
      "/console/" + up,
      "/console/%2e%2e/" + name + "/secret.txt",
      "/console/%2E%2E%2F" + name + "%2Fsecret.txt",
      "/console/..%2f" + name + "%2fsecret.txt",
      "/console/.%2e/" + name + "/secret.txt",
      "/console/js/..%2f..%2f" + name + "/secret.txt",
      "/console/%2f" + outside.string().substr(1) + "/secret.txt",
      "/console//" + outside.string().substr(1) + "/secret.txt",
      "/console/" + outside.string() + "/secret.txt",
      "/console/..%5c" + name + "%5csecret.txt",
      "/console/..\\" + name + "\\secret.txt",
      "/console/out.txt",
      "/console/outdir/secret.txt",
      "/console/index.html%00.txt",
      "/console/%00",
      "/console/%c0%ae%c0%ae/" + name + "/secret.txt",  // overlong UTF-8 for '.'
      "/console/%252e%252e/" + name + "/secret.txt",    // double encoding
      "/console/.",
      "/console/..",
  };
  for (const auto& target : attacks) {
    CAPTURE(target);
    const auto r = http_call(s.port(), "GET", target);
    CHECK((r.status == 404 || r.status == 400));
    CHECK(r.body.find("TOP-SECRET") == std::string::npos);
  }
  CHECK(http_call(s.port(), "GET", "/console/app.js").status == 200);  // the real files still serve
  fs::remove(root / "out.txt", ec);
  fs::remove(root / "outdir", ec);
  fs::remove_all(outside, ec);
}
