// OpenAI's error shape and the HTTP details around it (issue 17 items 2 and 3): the
// engine error table, the param a parser names, CORS, HEAD, x-request-id and
// /v1/models/{id}. Pure parts without a socket, the rest over the scripted engine.
#include <doctest/doctest.h>

#include <set>

#include <nlohmann/json.hpp>

#include "http/api_error.hpp"
#include "http/chat_request.hpp"
#include "http/cors.hpp"
#include "http/request_parsing.hpp"
#include "http/server_config.hpp"
#include "model/tokenizer.hpp"
#include "tests/http/http_client.hpp"
#include "tests/http/served.hpp"

using namespace kvactor;
using namespace kvactor::http;
using kvactor::test::http_call;
using kvactor::test::http_connection;
using kvactor::test::http_result;
using kvactor::test::served;
using nlohmann::json;

namespace {

const tokenizer& tok512() {
  static const auto t = tokenizer::load_llama2c(std::string(KVACTOR_MODELS_DIR) + "/tok512.bin", 512);
  return t;
}

prompt_limits limits() {
  prompt_limits l;
  l.vocab_size = 512;
  l.max_seq_len = 64;
  l.default_max_tokens = 8;
  l.body_limit = 4096;
  l.encode = [](const std::string& s) { return tok512().encode(s, true, false); };
  l.decode = [](const std::vector<int32_t>& ids) { return tok512().decode(ids); };
  return l;
}

template <class T>
api_error error_of(const parse_result<T>& r) {
  REQUIRE(std::holds_alternative<api_error>(r));
  return std::get<api_error>(r);
}

// The whole OpenAI shape: exactly message, type, param (string or null) and code.
json openai_error(const http_result& r, int status) {
  CHECK_MESSAGE(r.status == status, r.body);
  CHECK(r.header("content-type") == "application/json");
  const json j = json::parse(r.body, nullptr, false);
  REQUIRE_MESSAGE(j.is_object(), r.body);
  REQUIRE(j.contains("error"));
  const json& e = j["error"];
  CHECK(e.size() == 4);
  CHECK(e["message"].is_string());
  CHECK(e["type"].is_string());
  CHECK((e["param"].is_null() || e["param"].is_string()));
  CHECK(e["code"].is_string());
  return e;
}

}  // namespace

TEST_CASE("every engine error maps to a status chosen for it") {
  std::set<std::string> codes;
  for (auto code : all_engine_errcs) {
    CAPTURE(to_string(code));
    const api_error e = engine_error(code, "m");
    CHECK((e.status == 400 || e.status == 500 || e.status == 502 || e.status == 503));
    CHECK(!e.code.empty());
    CHECK(e.message == "m");
    // Retry-After exactly where coming back later can help.
    CHECK((e.retry_after_s > 0) == (e.status == 503));
    if (code != engine_errc::ok) codes.insert(e.code);
    CHECK(engine_errc_from_name(error_code_name(code)) == code);  // wire names round-trip
  }
  CHECK(codes.size() == std::size(all_engine_errcs) - 1);  // no two enumerators share a code
  const api_error full = engine_error(engine_errc::queue_full, "busy");
  CHECK(full.status == 503);
  CHECK(full.code == "QUEUE_FULL");
  CHECK(full.retry_after_s == 1);
  CHECK(engine_error(engine_errc::shutting_down, "").retry_after_s == 5);
  // A prompt too large for the whole cache is the request's fault, never a 500.
  const api_error big = engine_error(engine_errc::context_too_large, "needs 9000 positions");
  CHECK(big.status == 400);
  CHECK(big.code == "CONTEXT_TOO_LARGE_FOR_CACHE");
  CHECK(engine_error(engine_errc::device_error, "").status == 500);
  CHECK(engine_error(engine_errc::node_lost, "").status == 502);
  CHECK(engine_error(engine_errc::bad_request, "").status == 400);
  CHECK(!engine_errc_from_name("NOT_A_CODE"));
}

TEST_CASE("the error body is OpenAI's: message, type from the status, param or null, code") {
  CHECK(std::string(openai_error_type(400)) == "invalid_request_error");
  CHECK(std::string(openai_error_type(401)) == "authentication_error");
  CHECK(std::string(openai_error_type(403)) == "permission_error");
  CHECK(std::string(openai_error_type(404)) == "not_found_error");
  CHECK(std::string(openai_error_type(413)) == "invalid_request_error");
  CHECK(std::string(openai_error_type(429)) == "rate_limit_error");
  CHECK(std::string(openai_error_type(503)) == "server_error");
  api_error e{400, "OUT_OF_RANGE", "top_p: 7 is out of range", 0, {}, "top_p"};
  json j = json::parse(error_body(e));
  CHECK(
      j ==
      json::parse(
          R"({"error":{"message":"top_p: 7 is out of range","type":"invalid_request_error","param":"top_p","code":"OUT_OF_RANGE"}})"));
  e.param.clear();
  CHECK(json::parse(error_body(e))["error"]["param"].is_null());
  CHECK(field_of("messages[0].role: unknown role") == "messages[0].role");
  CHECK(field_of("sampling_params.top_p: 7 is out of range").size() == std::string("sampling_params.top_p").size());
  CHECK(field_of("request body is not valid JSON") == "");
  CHECK(field_of("malformed HTTP request: bad method") == "");
}

TEST_CASE("request parsing errors name the field in param") {
  const auto cmpl = [](const std::string& body) { return error_of(parse_completion(body, limits())); };
  const auto gen = [](const std::string& body) { return error_of(parse_generate(body, limits())); };
  CHECK(cmpl(R"({"prompt":"a","temperature":3})").param == "temperature");
  CHECK(cmpl(R"({"prompt":"a","max_tokens":"5"})").param == "max_tokens");
  CHECK(cmpl(R"({"prompt":"a","stop":[1]})").param == "stop[0]");
  CHECK(cmpl(R"({})").param == "prompt");
  CHECK(cmpl(R"({"prompt":[1,600]})").param == "prompt[1]");
  CHECK(gen(R"({"text":"a","sampling_params":{"top_p":7}})").param == "sampling_params.top_p");
  CHECK(cmpl("{oops").param.empty());  // no field to name: null
  // best_of: 2 is a value this server does not support, not a malformed one.
  const api_error b2 = cmpl(R"({"prompt":"a","best_of":2})");
  CHECK(b2.code == "UNSUPPORTED_FIELD");
  CHECK(b2.param == "best_of");
  // OpenAI clients match this code to shorten the prompt.
  const api_error ctx = cmpl(R"({"prompt":[1,2,3,4],"max_tokens":61})");
  CHECK(ctx.code == "context_length_exceeded");
  CHECK(ctx.param == "prompt");
  const chat_prompt chat = chat_prompt_for(tok512(), "");
  const api_error role =
      error_of(parse_chat_completion(R"({"messages":[{"role":"robot","content":"x"}]})", limits(), chat));
  CHECK(role.code == "INVALID_ROLE");
  CHECK(role.param == "messages[0].role");
}

TEST_CASE("CORS: preflights, allowed and refused origins, same origin, no origin") {
  const std::vector<std::string> allowed = {"https://app.example"};
  auto header = [](const cors_decision& d, const std::string& name) {
    const auto& hs = d.answer ? d.answer->headers : d.headers;
    for (const auto& [k, v] : hs)
      if (k == name) return v;
    return std::string();
  };
  // No Origin (curl, the SDKs): untouched, whatever the method.
  auto none = check_origin(allowed, {"POST", "", "127.0.0.1:8000", ""});
  CHECK(!none.answer);
  CHECK(none.headers.empty());
  auto pre = check_origin(allowed, {"OPTIONS", "https://app.example", "127.0.0.1:8000", "authorization"});
  REQUIRE(pre.answer);
  CHECK(pre.answer->status == 204);
  CHECK(header(pre, "Access-Control-Allow-Origin") == "https://app.example");
  CHECK(header(pre, "Access-Control-Allow-Headers") == "authorization");
  CHECK(header(pre, "Access-Control-Allow-Methods").find("POST") != std::string::npos);
  auto bad_pre = check_origin(allowed, {"OPTIONS", "https://evil.example", "127.0.0.1:8000", ""});
  REQUIRE(bad_pre.answer);
  CHECK(bad_pre.answer->status == 403);
  CHECK(header(bad_pre, "Access-Control-Allow-Origin").empty());
  auto post = check_origin(allowed, {"POST", "https://app.example", "127.0.0.1:8000", ""});
  CHECK(!post.answer);
  CHECK(header(post, "Access-Control-Allow-Origin") == "https://app.example");
  auto evil_post = check_origin(allowed, {"POST", "https://evil.example", "127.0.0.1:8000", ""});
  REQUIRE(evil_post.answer);
  CHECK(evil_post.answer->status == 403);
  CHECK(json::parse(evil_post.answer->body)["error"]["code"] == "ORIGIN_NOT_ALLOWED");
  auto evil_get = check_origin(allowed, {"GET", "https://evil.example", "127.0.0.1:8000", ""});
  CHECK(!evil_get.answer);  // the browser withholds the answer: no header
  CHECK(evil_get.headers.empty());
  // The console, served by this server, posts from its own origin.
  auto console = check_origin({}, {"POST", "http://127.0.0.1:8000", "127.0.0.1:8000", ""});
  CHECK(!console.answer);
  CHECK(console.headers.empty());
  // Default: none allowed; "*" allows any.
  CHECK(check_origin({}, {"POST", "https://app.example", "h", ""}).answer->status == 403);
  CHECK(!check_origin({"*"}, {"POST", "https://app.example", "h", ""}).answer);

  CHECK(parse_cors_origins("") == std::vector<std::string>{});
  CHECK(parse_cors_origins(" https://a.example , http://localhost:3000") ==
        std::vector<std::string>{"https://a.example", "http://localhost:3000"});
  CHECK_THROWS_AS(parse_cors_origins("https://a.example/"), std::invalid_argument);
  CHECK_THROWS_AS(parse_cors_origins("a.example"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(load_server_config(R"({"model":"m.bin","cors_origins":"ftp://x"})", {}, "/"),
                       doctest::Contains("cors_origins"), config_error);
}

TEST_CASE("x-request-id: a usable one is echoed, otherwise one is made") {
  CHECK(choose_request_id("abc-123") == "abc-123");
  const std::string made = choose_request_id("");
  CHECK(made.rfind("req-", 0) == 0);
  CHECK(made.size() == 20);
  CHECK(choose_request_id("") != made);
  CHECK(choose_request_id("has space").rfind("req-", 0) == 0);
  CHECK(choose_request_id(std::string(129, 'a')).rfind("req-", 0) == 0);
}

TEST_CASE("HTTP: HEAD answers headers only and keeps the connection's framing") {
  served s;
  http_connection c(s.port());
  c.send_raw(
      "HEAD /health HTTP/1.1\r\nHost: x\r\n\r\nGET /health HTTP/1.1\r\nHost: x\r\n\r\n"
      "HEAD /v1/completions HTTP/1.1\r\nHost: x\r\n\r\nGET /v1/models HTTP/1.1\r\nHost: x\r\n\r\n");
  const std::string got = c.read_raw(std::chrono::milliseconds(3000), "owned_by");
  // 1: HEAD /health: 200, the GET's Content-Length, no body: the next status line follows at once.
  REQUIRE(got.rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
  const auto end1 = got.find("\r\n\r\n");
  REQUIRE(end1 != std::string::npos);
  CHECK(got.find("Content-Length: 15\r\n") < end1);  // {"status":"ok"}
  const auto second = end1 + 4;
  CHECK(got.compare(second, 17, "HTTP/1.1 200 OK\r\n") == 0);
  const auto body2 = got.find("\r\n\r\n", second) + 4;
  CHECK(got.compare(body2, 15, R"({"status":"ok"})") == 0);
  // 3: HEAD on a POST-only path: 405 with Allow, still no body.
  const auto third = body2 + 15;
  CHECK(got.compare(third, 12, "HTTP/1.1 405") == 0);
  const auto end3 = got.find("\r\n\r\n", third);
  CHECK(got.substr(third, end3 - third).find("Allow: POST") != std::string::npos);
  CHECK(got.compare(end3 + 4, 17, "HTTP/1.1 200 OK\r\n") == 0);
  CHECK(got.find("owned_by") != std::string::npos);
}

TEST_CASE("HTTP: x-request-id, /v1/models/{id}, OPTIONS without Origin, error shapes") {
  served s;
  const unsigned short p = s.port();
  auto echoed = http_call(p, "GET", "/health", "", {{"x-request-id", "client-7"}});
  CHECK(echoed.header("x-request-id") == "client-7");
  auto made = http_call(p, "POST", "/generate", R"({"text":"a","sampling_params":{"max_completion_tokens":1}})");
  CHECK(made.status == 200);
  CHECK(made.header("x-request-id").rfind("req-", 0) == 0);
  auto bad = http_call(p, "POST", "/generate", "{oops", {{"x-request-id", "client-8"}});
  CHECK(bad.header("x-request-id") == "client-8");  // errors carry it too
  CHECK(openai_error(bad, 400)["type"] == "invalid_request_error");

  auto model = http_call(p, "GET", "/v1/models/scripted");
  CHECK(model.status == 200);
  CHECK(json::parse(model.body)["id"] == "scripted");
  CHECK(json::parse(model.body)["object"] == "model");
  const json unknown = openai_error(http_call(p, "GET", "/v1/models/gpt-4"), 404);
  CHECK(unknown["type"] == "not_found_error");
  CHECK(unknown["param"] == "model");
  CHECK(unknown["message"].get<std::string>().find("gpt-4") != std::string::npos);

  auto options = http_call(p, "OPTIONS", "/v1/completions");
  openai_error(options, 405);
  CHECK(options.header("allow") == "POST");
  const json typed = openai_error(http_call(p, "POST", "/v1/completions", R"({"prompt":"a","top_p":7})"), 400);
  CHECK(typed["param"] == "top_p");
  CHECK(typed["code"] == "OUT_OF_RANGE");
  CHECK(s.service->submitted() == 1);

  // An empty text prompt is BOS alone (http/API.md); an empty id list has no prompt.
  auto empty = http_call(p, "POST", "/v1/completions", R"({"prompt":"","max_tokens":1})");
  CHECK_MESSAGE(empty.status == 200, empty.body);
  CHECK(json::parse(empty.body)["usage"]["prompt_tokens"] == 1);
  const json no_ids = openai_error(http_call(p, "POST", "/v1/completions", R"({"prompt":[]})"), 400);
  CHECK(no_ids["param"] == "prompt");
  CHECK(no_ids["code"] == "OUT_OF_RANGE");
  CHECK(s.service->submitted() == 2);
}

TEST_CASE("HTTP: CORS allow-list on a real server") {
  auto cfg = kvactor::test::test_config();
  cfg.cors_allowed = {"https://app.example"};
  served s({}, cfg);
  const unsigned short p = s.port();
  const std::string body = R"({"text":"a","sampling_params":{"max_completion_tokens":1}})";
  auto pre = http_call(p, "OPTIONS", "/generate", "",
                       {{"Origin", "https://app.example"},
                        {"Access-Control-Request-Method", "POST"},
                        {"Access-Control-Request-Headers", "content-type"}});
  CHECK(pre.status == 204);
  CHECK(pre.body.empty());
  CHECK(pre.header("access-control-allow-origin") == "https://app.example");
  CHECK(pre.header("access-control-allow-headers") == "content-type");
  auto refused_pre = http_call(p, "OPTIONS", "/generate", "", {{"Origin", "https://evil.example"}});
  openai_error(refused_pre, 403);
  CHECK(refused_pre.header("access-control-allow-origin").empty());

  auto allowed = http_call(p, "POST", "/generate", body, {{"Origin", "https://app.example"}});
  CHECK(allowed.status == 200);
  CHECK(allowed.header("access-control-allow-origin") == "https://app.example");
  CHECK(s.service->submitted() == 1);
  // A web page on another origin cannot make the server generate (text/plain needs no preflight).
  auto csrf =
      http_call(p, "POST", "/generate", body, {{"Origin", "https://evil.example"}, {"Content-Type", "text/plain"}});
  CHECK(openai_error(csrf, 403)["code"] == "ORIGIN_NOT_ALLOWED");
  CHECK(csrf.header("access-control-allow-origin").empty());
  CHECK(s.service->submitted() == 1);
  // Without Origin (curl, SDKs) nothing changes.
  CHECK(http_call(p, "POST", "/generate", body).status == 200);
  CHECK(s.service->submitted() == 2);
}

TEST_CASE("HTTP: a full queue is 503 QUEUE_FULL, server_error, with Retry-After") {
  kvactor::test::scripted_service::options opt;
  opt.queue_limit = 0;
  served s(opt);
  auto r = http_call(s.port(), "POST", "/v1/completions", R"({"prompt":"a","max_tokens":1})");
  const json e = openai_error(r, 503);
  CHECK(e["code"] == "QUEUE_FULL");
  CHECK(e["type"] == "server_error");
  CHECK(e["param"].is_null());
  CHECK(r.header("retry-after") == "1");
}
