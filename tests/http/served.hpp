// A real server on an ephemeral loopback port over the scripted engine, for tests.
#pragma once

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include <unistd.h>

#include "http/server.hpp"
#include "model/tokenizer.hpp"
#include "tests/http/scripted_service.hpp"

namespace kvactor::test {

inline http::server_config test_config() {
  http::server_config cfg;
  cfg.host = "127.0.0.1";
  cfg.port = 0;
  cfg.io_threads = 2;
  cfg.body_limit_bytes = 4096;
  cfg.idle_timeout_ms = 3000;
  cfg.read_timeout_ms = 300;
  cfg.write_timeout_ms = 3000;
  cfg.default_max_tokens = 8;
  cfg.model_name = "scripted";
  cfg.console_dir =
      (std::filesystem::temp_directory_path() / ("kvactor_http_console_" + std::to_string(::getpid()))).string();
  std::filesystem::create_directories(cfg.console_dir);
  std::ofstream(cfg.console_dir + "/index.html") << "<!doctype html><title>console</title>";
  std::ofstream(cfg.console_dir + "/app.js") << "console.log(1);";
  return cfg;
}

struct served {
  explicit served(scripted_service::options opt = {}, http::server_config cfg = test_config())
      : service(std::make_unique<scripted_service>(opt)), server(std::make_unique<http::http_server>(cfg, *service)) {}
  ~served() {
    server.reset();  // before the service: sessions may still hold engine callbacks
    service.reset();
  }
  unsigned short port() const { return server->port(); }

  // What the scripted engine's tokens read as, the way the server decodes them.
  std::string expected_text(const std::vector<int32_t>& prompt, int n) const {
    std::string out;
    int32_t prev = prompt.back();
    for (int k = 0; k < n; ++k) {
      const int32_t t = scripted_service::token_at(prompt, k);
      out += service->tok().decode_piece(prev, t);
      prev = t;
    }
    return out;
  }
  std::vector<int32_t> encode(const std::string& text) const { return service->tok().encode(text, true, false); }

  std::unique_ptr<scripted_service> service;
  std::unique_ptr<http::http_server> server;
};

}  // namespace kvactor::test
