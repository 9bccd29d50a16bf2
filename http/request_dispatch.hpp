// Routes one parsed HTTP request to its handler and answers through the
// connection's reply_sink. Beast-free: session.cpp hands over method, target and
// body; everything the endpoints do is decided here.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <string>

#include "actors/gateway.hpp"
#include "grammar/output_constraint.hpp"
#include "http/chat_prompt.hpp"
#include "http/connection_registry.hpp"
#include "http/generation_exchange.hpp"
#include "http/reply.hpp"
#include "http/request_parsing.hpp"
#include "http/server_config.hpp"
#include "http/server_metrics.hpp"
#include "http/tenant_view.hpp"

namespace kvactor::http {

// Shared by every connection of one server.
struct server_context {
  server_context(server_config c, generation_service& s);
  server_config cfg;
  generation_service& service;
  prompt_limits limits;
  chat_prompt chat;  // renders /v1/chat/completions and /apply-template messages
  server_metrics metrics;
  std::atomic<bool> draining{false};      // shutting down: no new generations
  std::atomic<int> answers_in_flight{0};  // requests read whose answer is not yet written
  // Open connections by client address and state: per-client limits, shedding (issue 22).
  connection_registry connections{
      client_limits{cfg.max_connections, cfg.max_connections_per_client, cfg.max_requests_per_client}};
  tenant_gate tenant_requests;          // generation requests in flight per tenant (max_requests_per_tenant)
  grammar::lazy_vocabulary vocabulary;  // token bytes and trie for structured output, built on first use
};

struct incoming_request {
  std::string method;
  std::string target;
  std::string body;
  std::chrono::steady_clock::time_point received;
  std::string authorization;  // the Authorization header ("" if none)
  std::string request_id;     // x-request-id (the client's, or generated)
};

// Answers `req` through `sink`, now or later. Returns the exchange when engine work
// was started (the session tells it if the client goes away), else nullptr.
std::shared_ptr<generation_exchange> dispatch(server_context& ctx, const incoming_request& req,
                                              const std::shared_ptr<reply_sink>& sink);

}  // namespace kvactor::http
