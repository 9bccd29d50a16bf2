// A real server over the bundled stories260K on an ephemeral loopback port, for the
// end-to-end tests that drive the whole engine through HTTP.
#pragma once

#include <string>
#include <vector>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "actors/gateway.hpp"
#include "http/server.hpp"
#include "tests/http/http_client.hpp"

namespace kvactor::test {

inline http::server_config stories_server_config(int num_pages = 1024) {
  http::server_config cfg;
  cfg.engine.model_path = std::string(KVACTOR_MODELS_DIR) + "/stories260K.bin";
  cfg.engine.tokenizer_path = std::string(KVACTOR_MODELS_DIR) + "/tok512.bin";
  cfg.engine.num_pages = num_pages;
  cfg.host = "127.0.0.1";
  cfg.port = 0;
  cfg.io_threads = 2;
  cfg.model_name = "stories260K";
  return cfg;
}

// Json: nlohmann::json, or nlohmann::ordered_json where a request body's key order matters.
template <class Json = nlohmann::json>
struct stories_served {
  explicit stories_served(const http::server_config& cfg = stories_server_config())
      : engine(cfg.engine), server(cfg, engine) {}
  http_result call(const std::string& target, const Json& body) {
    return http_call(server.port(), "POST", target, body.dump());
  }
  Json post(const std::string& target, const Json& body, int expect_status = 200) {
    const http_result r = call(target, body);
    REQUIRE_MESSAGE(r.status == expect_status, r.body);
    return Json::parse(r.body);
  }
  // The chunks of a streamed answer, [DONE] excluded.
  std::vector<Json> stream(const std::string& target, Json body) {
    body["stream"] = true;
    const http_result r = call(target, body);
    REQUIRE_MESSAGE(r.status == 200, r.body);
    std::vector<Json> out;
    for (const auto& e : sse_data(r.body))
      if (e != "[DONE]") out.push_back(Json::parse(e));
    return out;
  }
  gateway engine;
  http::http_server server;
};

}  // namespace kvactor::test
