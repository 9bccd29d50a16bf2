// The HTTP server: listens, runs `io_threads` threads, serves the endpoints of
// http/API.md over a generation_service. No Beast in this header, so the CLI and
// tests that include it compile quickly.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "actors/gateway.hpp"
#include "http/server_config.hpp"
#include "http/server_metrics.hpp"

namespace kvactor::http {

class http_server {
 public:
  // Binds cfg.host:cfg.port (port 0 = ephemeral) and starts accepting on io threads.
  // Throws std::runtime_error naming the address if it cannot listen.
  http_server(const server_config& cfg, generation_service& service);
  // Shuts down (drain 0) if shutdown() was not called.
  ~http_server();
  http_server(const http_server&) = delete;
  http_server& operator=(const http_server&) = delete;

  unsigned short port() const;

  // Graceful stop: stop accepting; new generations get 503 SHUTTING_DOWN; the
  // service drains (in-flight requests finish for up to `drain`, then are cancelled,
  // every page returned); answers in flight are flushed; io threads stop.
  void shutdown(std::chrono::milliseconds drain);

  const server_metrics& metrics() const;
  // The connection limit in force (max_connections 0 resolved from the descriptor limit).
  int max_connections() const;
  // Where chat requests' template comes from ("ChatML (...)" for a model without one).
  const std::string& chat_template_origin() const;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace kvactor::http
