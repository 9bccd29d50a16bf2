// The real engine (stories260K on the CPU backend) behind a device that fails on
// command, served over HTTP on a loopback port: the stage every fault scenario of
// faults_tests plays on. Together with the hooks of actors/fault_hooks.hpp it can
// kill a request mid-decode, fail a device step and fail page allocations.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "actors/engine_host.hpp"
#include "actors/fault_injecting_backend.hpp"
#include "actors/gateway.hpp"
#include "http/server.hpp"
#include "model/loader.hpp"

namespace kvactor::test {

class faulty_engine final : public engine_host {
 public:
  explicit faulty_engine(const engine_config& cfg);

  // The device fails the step after `more` further steps (0 = the next one).
  void fail_device_after(int more);
  int device_steps() const { return plan_->steps.load(); }
  engine_host& host() { return *this; }

 private:
  faulty_engine(const engine_config& cfg, const loaded_model& model, std::shared_ptr<fault_plan> plan);
  std::shared_ptr<fault_plan> plan_;
};

engine_config stories_config(int num_pages = 512, int max_batch = 8);

// A faulty engine and an HTTP server over it.
struct faulty_server {
  explicit faulty_server(const engine_config& cfg = stories_config());
  ~faulty_server();
  unsigned short port() const { return server->port(); }
  std::unique_ptr<faulty_engine> engine;
  std::unique_ptr<http::http_server> server;
};

// One generation as a test sends it: greedy, streamed or not, with a rid.
struct job {
  std::string rid;
  std::string prompt;
  int max_tokens = 24;
  bool stream = false;
  std::string body() const;  // POST /generate body
};

// What came back: the text, and how it ended ("length", "stop", or an error code).
struct outcome {
  int status = 0;
  std::string text;
  std::string ending;
};
outcome generate(unsigned short port, const job& j);
outcome parse_outcome(int status, const std::string& content_type, const std::string& body);

// Twelve distinct prompts sharing prefixes (so cache pages are shared among them).
std::vector<job> mixed_jobs(int count, int max_tokens);

// The invariants every scenario ends with; empty when all hold, else what failed:
// no request live, free + cached == total (nothing private), no trie lock or handle,
// the pool/trie cross-check, and /v1/inspect/cache agrees over HTTP.
std::string check_quiet(faulty_server& s);

// The server still answers: /health is 200 and a fresh request gets its solo answer.
std::string check_still_serving(faulty_server& s, const job& probe, const std::string& solo_text);

}  // namespace kvactor::test
