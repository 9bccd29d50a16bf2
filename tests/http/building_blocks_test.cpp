// The pure pieces of the HTTP layer: UTF-8, incremental text with stop strings,
// routing, configuration, static-file paths, the bounded cache dump, Prometheus text.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>

#include <unistd.h>

#include <nlohmann/json.hpp>

#include "http/router.hpp"
#include "http/server_config.hpp"
#include "http/server_metrics.hpp"
#include "http/static_files.hpp"
#include "http/text_stream.hpp"
#include "http/utf8.hpp"

using namespace kvactor::http;

TEST_CASE("UTF-8 validation and incomplete tails") {
  CHECK(is_valid_utf8("plain"));
  CHECK(is_valid_utf8("caf\xC3\xA9 \xE4\xBD\xA0 \xF0\x9F\x98\x80"));
  CHECK_FALSE(is_valid_utf8("\xC0\x80"));          // overlong
  CHECK_FALSE(is_valid_utf8("\xF4\x90\x80\x80"));  // > U+10FFFF
  CHECK_FALSE(is_valid_utf8("\x80"));
  CHECK(first_invalid_utf8("ab\xFFz") == 2);
  CHECK(complete_utf8_prefix("ab\xE4\xBD") == 2);  // waits for the third byte
  CHECK(complete_utf8_prefix("ab\xE4\xBD\xA0") == 5);
  CHECK(complete_utf8_prefix("ab\xFF") == 3);  // invalid never completes: let it through
}

namespace {
// Token t decodes to the t-th string here (a stand-in for the tokenizer).
text_stream make_stream(std::vector<std::string> pieces, std::vector<std::string> stop) {
  auto shared = std::make_shared<std::vector<std::string>>(std::move(pieces));
  return text_stream([shared](int32_t, int32_t t) { return (*shared)[static_cast<std::size_t>(t)]; }, 0, {99},
                     std::move(stop));
}
}  // namespace

TEST_CASE("text_stream holds back split characters and possible stop strings") {
  auto s = make_stream({"Hel", "lo", " wo", "rld", "\xE4", "\xBD\xA0", "EN", "D!", "x"}, {"END"});
  CHECK(s.push(0) == "Hel");
  CHECK(s.push(1) == "lo");
  CHECK(s.push(4) == "");  // half a character
  CHECK(s.push(5) == "\xE4\xBD\xA0");
  CHECK(s.push(6) == "");  // "EN" may start "END"
  CHECK(s.push(7) == "");  // "END!" -> stop; nothing after it
  CHECK(s.stopped());
  CHECK(s.push(8) == "");
  CHECK(s.text() == "Hello\xE4\xBD\xA0");
  CHECK(s.tokens() == 6);
  CHECK(s.finish() == "");
}

TEST_CASE("text_stream releases a held prefix that turned out not to stop") {
  auto s = make_stream({"a", "E", "N", "x", "\n"}, {"END", "\n\n"});
  CHECK(s.push(0) == "a");
  CHECK(s.push(1) == "");
  CHECK(s.push(2) == "");
  CHECK(s.push(3) == "ENx");
  CHECK(s.push(4) == "");  // "\n" may start "\n\n"
  CHECK(s.finish() == "\n");
  CHECK(s.text() == "aENx\n");
  CHECK_FALSE(s.stopped());
}

TEST_CASE("text_stream: control tokens produce no text") {
  auto s = make_stream({"a"}, {});
  CHECK(s.push(0) == "a");
  CHECK(s.push(99) == "");
  CHECK(s.text() == "a");
}

TEST_CASE("routes, 404 and 405") {
  auto ok = route_request("POST", "/generate");
  REQUIRE(std::holds_alternative<route>(ok));
  CHECK(std::get<route>(ok).target == endpoint::generate);
  auto rid = route_request("GET", "/v1/inspect/requests/abc%20d");
  REQUIRE(std::holds_alternative<route>(rid));
  CHECK(std::get<route>(rid).target == endpoint::inspect_request);
  CHECK(std::get<route>(rid).argument == "abc d");
  auto q = route_request("GET", "/v1/inspect/cache?depth=2&max_nodes=5");
  REQUIRE(std::holds_alternative<route>(q));
  CHECK(std::get<route>(q).query.at("depth") == "2");
  auto nf = route_request("GET", "/nope");
  REQUIRE(std::holds_alternative<api_error>(nf));
  CHECK(std::get<api_error>(nf).status == 404);
  auto wm = route_request("GET", "/generate");
  REQUIRE(std::holds_alternative<api_error>(wm));
  CHECK(std::get<api_error>(wm).status == 405);
  CHECK(std::get<api_error>(wm).allow == "POST");
  CHECK(std::get<api_error>(route_request("DELETE", "/health")).status == 405);
  CHECK(std::get<api_error>(route_request("GET", "/health?x=%zz")).status == 400);
}

TEST_CASE("config: defaults, overrides, and errors naming the key") {
  auto cfg =
      load_server_config(R"({"model":"m.bin","page_size":32})", {{"port", "9000"}, {"host", "0.0.0.0"}}, "/repo");
  CHECK(cfg.engine.model_path == "/repo/m.bin");
  CHECK(cfg.engine.page_size == 32);
  CHECK(cfg.port == 9000);
  CHECK(cfg.host == "0.0.0.0");
  CHECK(cfg.model_name == "m");
  CHECK(cfg.console_dir == "/repo/console");

  auto fails_naming = [](const std::string& json, std::vector<std::pair<std::string, std::string>> over,
                         const std::string& key) {
    try {
      (void)load_server_config(json, over, "/repo");
      FAIL("accepted: " << json);
    } catch (const config_error& e) {
      CHECK_MESSAGE(std::string(e.what()).rfind(key + ":", 0) == 0, e.what());
    }
  };
  fails_naming(R"({"model":"m","pages":3})", {}, "pages");
  fails_naming(R"({"model":"m","page_size":"16"})", {}, "page_size");
  fails_naming(R"({"model":"m","page_size":0})", {}, "page_size");
  fails_naming(R"({"model":"m","port":70000})", {}, "port");
  fails_naming(R"({"model":"m","io_threads":1.5})", {}, "io_threads");
  fails_naming(R"({"model":"m"})", {{"queue_limit", "ten"}}, "queue_limit");
  fails_naming(R"({"model":"m"})", {{"bogus", "1"}}, "bogus");
  fails_naming(R"({"model":"m","device":"tpu"})", {}, "device");
  fails_naming(R"({"model":"m","eviction_policy":"fifo"})", {}, "eviction_policy");
  fails_naming(R"({"model":"m","actor_scheduler":"polling"})", {}, "actor_scheduler");
  fails_naming(R"({"model":"m","q8_0_activations":"int4"})", {}, "q8_0_activations");
  fails_naming(R"({"model":"m","device":"hip","q8_0_activations":"int8"})", {}, "q8_0_activations");
  CHECK(load_server_config(R"({"model":"m"})", {}, "/").engine.q8_0_activations == "auto");
  CHECK(
      load_server_config(R"({"model":"m","device":"hip","q8_0_activations":"f32"})", {}, "/").engine.q8_0_activations ==
      "f32");
  CHECK(load_server_config(R"({"model":"m"})", {{"q8_0_activations", "int8"}}, "/").engine.q8_0_activations == "int8");
  fails_naming(R"({})", {}, "model");
  fails_naming(R"([1])", {}, "config");
  fails_naming(R"({"model":5})", {}, "model");

  auto missing = load_server_config(R"({"model":"/definitely/not/here.bin"})", {}, "/");
  try {
    check_model_files(missing);
    FAIL("missing model accepted");
  } catch (const config_error& e) {
    CHECK(std::string(e.what()).rfind("model:", 0) == 0);
  }
  CHECK(config_keys_help().find("--page-size N") != std::string::npos);
}

TEST_CASE("console files: content types, index, and no way out of the directory") {
  namespace fs = std::filesystem;
  const fs::path root = fs::temp_directory_path() / ("kvactor_console_" + std::to_string(::getpid()));
  fs::create_directories(root / "js");
  std::ofstream(root / "index.html") << "<html>hi</html>";
  std::ofstream(root / "js" / "app.js") << "let x = 1;";
  std::ofstream(root.parent_path() / "kvactor_secret.txt") << "secret";
  fs::create_symlink(root.parent_path() / "kvactor_secret.txt", root / "link.txt");

  auto index = console_file(root.string(), "");
  REQUIRE(std::holds_alternative<http_reply>(index));
  CHECK(std::get<http_reply>(index).body == "<html>hi</html>");
  CHECK(std::get<http_reply>(index).content_type == "text/html; charset=utf-8");
  auto js = console_file(root.string(), "js/app.js");
  REQUIRE(std::holds_alternative<http_reply>(js));
  CHECK(std::get<http_reply>(js).content_type == "text/javascript; charset=utf-8");
  CHECK(content_type_for("a.css") == "text/css; charset=utf-8");
  CHECK(content_type_for("a.png") == "image/png");
  for (const char* bad : {"../kvactor_secret.txt", "js/../../kvactor_secret.txt", "/etc/passwd", "link.txt",
                          "missing.js", "js", "a\\b", "./index.html"})
    CHECK_MESSAGE(std::holds_alternative<api_error>(console_file(root.string(), bad)), bad);
  fs::remove_all(root);
  fs::remove(root.parent_path() / "kvactor_secret.txt");
}

TEST_CASE("Prometheus text merges engine counters and HTTP histograms") {
  server_metrics m;
  m.time_to_first_token.observe(0.003);
  m.time_to_first_token.observe(0.2);
  m.count_response(200);
  m.count_response(503);
  const std::string text = render_prometheus(
      R"({"requests":{"finished":10,"rejected":2},"queue_depth":1,"running":3,"pages":{"total":64,"free":60},"evictions":4})",
      m);
  CHECK(text.find("kvactor_requests_total{outcome=\"finished\"} 10\n") != std::string::npos);
  CHECK(text.find("kvactor_requests_total{outcome=\"rejected\"} 2\n") != std::string::npos);
  CHECK(text.find("kvactor_queue_depth 1\n") != std::string::npos);
  CHECK(text.find("kvactor_pages{state=\"free\"} 60\n") != std::string::npos);
  CHECK(text.find("kvactor_evictions_total 4\n") != std::string::npos);
  CHECK(text.find("kvactor_time_to_first_token_seconds_bucket{le=\"0.005\"} 1\n") != std::string::npos);
  CHECK(text.find("kvactor_time_to_first_token_seconds_bucket{le=\"+Inf\"} 2\n") != std::string::npos);
  CHECK(text.find("kvactor_time_to_first_token_seconds_count 2\n") != std::string::npos);
  CHECK(text.find("kvactor_http_responses_total{code=\"503\"} 1\n") != std::string::npos);
  CHECK(text.find("kvactor_preemptions_total") == std::string::npos);  // absent upstream: not invented
}
