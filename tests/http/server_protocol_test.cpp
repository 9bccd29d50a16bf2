// The endpoints over a real socket with the scripted engine: answers, streaming,
// every error status, and that rejected requests never reach the engine.
#include <doctest/doctest.h>

#include <thread>

#include <nlohmann/json.hpp>

#include "tests/http/http_client.hpp"
#include "tests/http/served.hpp"

using namespace kvactor::test;
using nlohmann::json;

namespace {

json body_json(const http_result& r) {
  json j = json::parse(r.body, nullptr, false);
  REQUIRE_MESSAGE(!j.is_discarded(), r.body);
  return j;
}

// An error answer: the status, the JSON shape, and the code.
void check_error(const http_result& r, int status, const std::string& code) {
  CHECK_MESSAGE(r.status == status, r.body);
  CHECK(r.header("content-type") == "application/json");
  const json j = body_json(r);
  REQUIRE(j.contains("error"));
  CHECK(j["error"]["code"] == code);
  CHECK(j["error"]["message"].is_string());
  CHECK(j["error"]["type"] == (status >= 500   ? "server_error"
                               : status == 404 ? "not_found_error"
                                               : "invalid_request_error"));
  CHECK(j["error"].contains("param"));
}

}  // namespace

TEST_CASE("health, models, console and inspection endpoints") {
  served s;
  auto health = http_call(s.port(), "GET", "/health");
  CHECK(health.status == 200);
  CHECK(body_json(health)["status"] == "ok");

  auto models = http_call(s.port(), "GET", "/v1/models");
  CHECK(models.status == 200);
  CHECK(body_json(models)["data"][0]["id"] == "scripted");
  CHECK(body_json(models)["data"][0]["max_model_len"] == 512);

  auto console = http_call(s.port(), "GET", "/console");
  CHECK(console.status == 200);
  CHECK(console.header("content-type") == "text/html; charset=utf-8");
  CHECK(console.body.find("<title>console</title>") != std::string::npos);
  auto js = http_call(s.port(), "GET", "/console/app.js");
  CHECK(js.status == 200);
  CHECK(js.header("content-type") == "text/javascript; charset=utf-8");
  check_error(http_call(s.port(), "GET", "/console/..%2F..%2Fetc%2Fpasswd"), 404, "NOT_FOUND");
  check_error(http_call(s.port(), "GET", "/console/missing.css"), 404, "NOT_FOUND");

  auto actors = http_call(s.port(), "GET", "/v1/inspect/actors");
  CHECK(actors.status == 200);
  CHECK(body_json(actors)["actors"].is_array());
  auto cache = http_call(s.port(), "GET", "/v1/inspect/cache?depth=1");
  CHECK(cache.status == 200);
  CHECK(body_json(cache)["tree"]["truncated"] == true);
  CHECK(body_json(cache)["pages"]["total"] == 1024);
  check_error(http_call(s.port(), "GET", "/v1/inspect/cache?depth=-4"), 400, "OUT_OF_RANGE");
  CHECK(body_json(http_call(s.port(), "GET", "/v1/inspect/requests"))["requests"].is_array());
  check_error(http_call(s.port(), "GET", "/v1/inspect/requests/nobody"), 404, "NOT_FOUND");

  auto metrics = http_call(s.port(), "GET", "/metrics");
  CHECK(metrics.status == 200);
  CHECK(metrics.header("content-type").rfind("text/plain", 0) == 0);
  CHECK(metrics.body.find("kvactor_pages{state=\"total\"} 1024") != std::string::npos);
  CHECK(metrics.body.find("# TYPE kvactor_time_to_first_token_seconds histogram") != std::string::npos);
}

TEST_CASE("POST /generate answers in shortfin's shape, alone and as a batch") {
  served s;
  auto r = http_call(
      s.port(), "POST", "/generate",
      R"({"text":"Once upon a time","sampling_params":{"max_completion_tokens":6},"rid":"r1","return_input_ids":true})");
  REQUIRE(r.status == 200);
  const json j = body_json(r);
  const auto prompt = s.encode("Once upon a time");
  CHECK(j["responses"][0]["prompt"] == "Once upon a time");
  CHECK(j["responses"][0]["rid"] == "r1");
  CHECK(j["responses"][0]["input_ids"] == json(prompt));
  CHECK(j["responses"][0]["responses"][0]["text"] == s.expected_text(prompt, 6));

  auto batch = http_call(
      s.port(), "POST", "/generate",
      R"({"input_ids":[[1,403],[1,407,261],[1,378]],"sampling_params":[{"max_completion_tokens":2},{"max_completion_tokens":3},{}]})");
  REQUIRE(batch.status == 200);
  const json b = body_json(batch);
  REQUIRE(b["responses"].size() == 3);
  CHECK(b["responses"][0]["responses"][0]["text"] == s.expected_text({1, 403}, 2));
  CHECK(b["responses"][1]["responses"][0]["text"] == s.expected_text({1, 407, 261}, 3));
  CHECK(b["responses"][2]["responses"][0]["text"] == s.expected_text({1, 378}, 8));  // config default
  CHECK(b["responses"][0].contains("input_ids") == false);
}

TEST_CASE("POST /generate streams server-sent events ending with [DONE]") {
  served s;
  auto r = http_call(s.port(), "POST", "/generate",
                     R"({"text":["Once","upon"],"sampling_params":{"max_completion_tokens":5},"stream":true})");
  REQUIRE(r.status == 200);
  CHECK(r.header("content-type") == "text/event-stream");
  CHECK(r.header("transfer-encoding") == "chunked");
  const auto events = sse_data(r.body);
  REQUIRE(!events.empty());
  CHECK(events.back() == "[DONE]");
  std::string text[2];
  int finished = 0;
  for (std::size_t i = 0; i + 1 < events.size(); ++i) {
    const json e = json::parse(events[i]);
    text[e["index"].get<int>()] += e["text"].get<std::string>();
    if (e.contains("finish_reason")) {
      CHECK(e["finish_reason"] == "length");
      ++finished;
    }
  }
  CHECK(finished == 2);
  CHECK(text[0] == s.expected_text(s.encode("Once"), 5));
  CHECK(text[1] == s.expected_text(s.encode("upon"), 5));
}

TEST_CASE("POST /v1/completions: OpenAI shape, usage, token prompts, streaming") {
  served s;
  auto r = http_call(s.port(), "POST", "/v1/completions",
                     R"({"model":"scripted","prompt":[1,403,407],"max_tokens":4,"temperature":0})");
  REQUIRE(r.status == 200);
  const json j = body_json(r);
  CHECK(j["object"] == "text_completion");
  CHECK(j["model"] == "scripted");
  CHECK(j["id"].get<std::string>().rfind("cmpl-", 0) == 0);
  CHECK(j["choices"][0]["text"] == s.expected_text({1, 403, 407}, 4));
  CHECK(j["choices"][0]["finish_reason"] == "length");
  CHECK(j["usage"]["prompt_tokens"] == 3);
  CHECK(j["usage"]["completion_tokens"] == 4);
  CHECK(j["usage"]["total_tokens"] == 7);
  CHECK(j["usage"]["prompt_tokens_details"]["cached_tokens"] == 0);

  auto list = http_call(s.port(), "POST", "/v1/completions", R"({"prompt":["Once","upon"],"max_tokens":2})");
  REQUIRE(list.status == 200);
  CHECK(body_json(list)["choices"].size() == 2);
  CHECK(body_json(list)["choices"][1]["index"] == 1);
  CHECK(body_json(list)["usage"]["completion_tokens"] == 4);

  auto st = http_call(s.port(), "POST", "/v1/completions",
                      R"({"prompt":"Once","max_tokens":5,"stream":true,"stream_options":{"include_usage":true}})");
  REQUIRE(st.status == 200);
  const auto events = sse_data(st.body);
  REQUIRE(events.size() >= 3);
  CHECK(events.back() == "[DONE]");
  std::string text;
  for (std::size_t i = 0; i + 2 < events.size(); ++i)
    text += json::parse(events[i])["choices"][0]["text"].get<std::string>();
  CHECK(text == s.expected_text(s.encode("Once"), 5));
  const json usage = json::parse(events[events.size() - 2]);
  CHECK(usage["choices"].empty());
  CHECK(usage["usage"]["completion_tokens"] == 5);
}

TEST_CASE("stop strings trim the text and cancel the engine request") {
  served s;
  const auto prompt = s.encode("Once");
  const std::string full = s.expected_text(prompt, 40);
  // A stop string from the middle of what would be generated.
  const std::string stop = full.substr(20, 4);
  const std::string expected = full.substr(0, full.find(stop));
  const int cancelled_before = s.service->cancelled();
  const json req = {{"prompt", "Once"}, {"max_tokens", 40}, {"stop", {stop}}, {"temperature", 0}};
  auto r = http_call(s.port(), "POST", "/v1/completions", req.dump());
  REQUIRE(r.status == 200);
  const json j = body_json(r);
  CHECK(j["choices"][0]["text"] == expected);
  CHECK(j["choices"][0]["finish_reason"] == "stop");
  CHECK(j["usage"]["completion_tokens"].get<int>() < 40);
  CHECK(s.service->cancelled() == cancelled_before + 1);

  json sreq = req;
  sreq["stream"] = true;
  auto st = http_call(s.port(), "POST", "/v1/completions", sreq.dump());
  std::string text;
  std::string reason;
  for (const auto& e : sse_data(st.body)) {
    if (e == "[DONE]") break;
    const json c = json::parse(e);
    text += c["choices"][0]["text"].get<std::string>();
    if (!c["choices"][0]["finish_reason"].is_null()) reason = c["choices"][0]["finish_reason"];
  }
  CHECK(text == expected);
  CHECK(reason == "stop");
}

TEST_CASE("every bad request is a 4xx JSON error and never reaches the engine") {
  served s;
  const unsigned short p = s.port();
  check_error(http_call(p, "POST", "/generate", "{oops"), 400, "INVALID_JSON");
  check_error(http_call(p, "POST", "/generate", R"({"text":7})"), 400, "INVALID_TYPE");
  check_error(http_call(p, "POST", "/generate", R"({"text":"a","input_ids":[1]})"), 400, "CONFLICTING_FIELDS");
  check_error(http_call(p, "POST", "/generate", R"({})"), 400, "MISSING_FIELD");
  check_error(http_call(p, "POST", "/generate", R"({"text":"a","sampling_params":{"top_p":7}})"), 400, "OUT_OF_RANGE");
  check_error(http_call(p, "POST", "/generate", R"({"input_ids":[1,9999]})"), 400, "TOKEN_OUT_OF_VOCABULARY");
  check_error(http_call(p, "POST", "/v1/completions", R"({"prompt":")" + std::string(600, 'x') + R"("})"), 400,
              "context_length_exceeded");
  check_error(http_call(p, "POST", "/v1/completions", "{\"prompt\":\"\xC3\x28\"}"), 400, "INVALID_UTF8");
  check_error(http_call(p, "POST", "/v1/completions", R"({"prompt":")" + std::string(5000, 'x') + R"("})"), 413,
              "BODY_TOO_LARGE");
  check_error(http_call(p, "GET", "/v2/whatever"), 404, "NOT_FOUND");
  auto wm = http_call(p, "GET", "/v1/completions");
  check_error(wm, 405, "METHOD_NOT_ALLOWED");
  CHECK(wm.header("allow") == "POST");
  check_error(http_call(p, "PATCH", "/health"), 405, "METHOD_NOT_ALLOWED");
  CHECK(s.service->submitted() == 0);
  // The server is still fine afterwards.
  CHECK(http_call(p, "POST", "/generate", R"({"text":"a","sampling_params":{"max_completion_tokens":1}})").status ==
        200);
  CHECK(s.service->submitted() == 1);
}

TEST_CASE("a body too large for the limit is refused from its Content-Length, before it is read") {
  served s;
  http_connection c(s.port());
  c.send_raw("POST /generate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n");
  const std::string got = c.read_raw(std::chrono::milliseconds(2000), "}}");
  CHECK(got.rfind("HTTP/1.1 413", 0) == 0);
  CHECK(got.find("BODY_TOO_LARGE") != std::string::npos);
  CHECK(c.closed_by_peer(std::chrono::milliseconds(2000)));
}

TEST_CASE("malformed HTTP gets 400 and the connection is closed") {
  served s;
  http_connection c(s.port());
  c.send_raw("THIS IS NOT HTTP\r\n\r\n");
  const std::string got = c.read_raw(std::chrono::milliseconds(2000), "}}");
  CHECK(got.rfind("HTTP/1.1 400", 0) == 0);
  CHECK(c.closed_by_peer(std::chrono::milliseconds(2000)));
}

TEST_CASE("Expect: 100-continue is honoured") {
  served s;
  http_connection c(s.port());
  const std::string body = R"({"text":"a","sampling_params":{"max_completion_tokens":1}})";
  c.send_raw("POST /generate HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: " +
             std::to_string(body.size()) + "\r\n\r\n");
  CHECK(c.read_raw(std::chrono::milliseconds(2000), "\r\n\r\n").rfind("HTTP/1.1 100 Continue", 0) == 0);
  c.send_raw(body);
  CHECK(c.read_raw(std::chrono::milliseconds(2000), "}]}").rfind("HTTP/1.1 200", 0) == 0);
}

TEST_CASE("a chunked body that grows past the limit gets 413") {
  served s;
  http_connection c(s.port());
  std::string chunk(3000, 'x');
  c.send_raw("POST /generate HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n");
  for (int i = 0; i < 3; ++i) {
    char size[16];
    std::snprintf(size, sizeof size, "%zx\r\n", chunk.size());
    c.send_raw(size + chunk + "\r\n");
  }
  const std::string got = c.read_raw(std::chrono::milliseconds(2000), "}}");
  CHECK(got.rfind("HTTP/1.1 413", 0) == 0);
  CHECK(s.service->submitted() == 0);
}

TEST_CASE("pipelined requests are answered in order") {
  served s;
  http_connection c(s.port());
  const std::string body = R"({"text":"a","sampling_params":{"max_completion_tokens":2}})";
  c.send_raw("POST /generate HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" +
             body + "GET /health HTTP/1.1\r\nHost: x\r\n\r\nGET /v1/models HTTP/1.1\r\nHost: x\r\n\r\n");
  const std::string got = c.read_raw(std::chrono::milliseconds(3000), "owned_by");
  const auto first = got.find("\"responses\""), second = got.find("\"status\":\"ok\""), third = got.find("owned_by");
  REQUIRE(first != std::string::npos);
  REQUIRE(second != std::string::npos);
  REQUIRE(third != std::string::npos);
  CHECK(first < second);
  CHECK(second < third);
}
