// engine_host: an actor system running one engine over a given backend, behind a
// CAF-free interface: the generation_service itself. The gateway is an engine_host over
// a loaded model; tests and benchmarks build one over the null or a fault-injecting
// backend.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "actors/engine_config.hpp"
#include "actors/generation_service.hpp"
#include "device/backend.hpp"
#include "model/model.hpp"

namespace kvactor {

struct page_totals {
  int32_t total = 0;
  int32_t free = 0;
  int32_t private_pages = 0;
  int32_t cached = 0;
  int32_t locked = 0;   // cached pages with a lock
  int32_t handles = 0;  // live trie handles
  int32_t live_requests = 0;
};

class engine_host : public generation_service {
 public:
  // Throws std::invalid_argument for a bad config. `worker_threads` 0 = CAF default.
  // `end_ids`: generated tokens that end a request (engine_settings::end_ids).
  // `tok`: the vocabulary tok() returns. Engines over the null or a timing backend have
  // none (their tokens are plain ids): tok() then throws std::logic_error, so such an
  // engine serves submit/cancel/inspect but cannot stand behind the HTTP layer.
  engine_host(const engine_config& cfg, const model_config& model, std::vector<int32_t> end_ids,
              std::shared_ptr<backend> be, int worker_threads = 0, std::shared_ptr<const tokenizer> tok = nullptr);
  ~engine_host() override;  // shutdown(0) then stops every actor
  engine_host(const engine_host&) = delete;
  engine_host& operator=(const engine_host&) = delete;

  const tokenizer& tok() const override;
  const model_config& model() const override;
  const engine_config& config() const override;
  // The registry names the request (generation_service::submit); submit waits for that
  // answer, one round trip, so never call it from one of this engine's own actor threads.
  std::string submit(generation_request req, generation_callback cb) override;
  void cancel(const std::string& rid) override;
  void inspect(const std::string& what, std::function<void(std::string json)> cb) override;
  void shutdown(std::chrono::milliseconds drain) override;

  // Blocking helpers (never call them from an actor thread).
  std::string inspect_now(const std::string& what);
  page_totals totals();
  // Waits up to `timeout` until no request is live, free + cached == total and no
  // lock is held; then runs the pool/trie cross-check. "" when all holds, else why.
  std::string wait_until_quiet(std::chrono::milliseconds timeout);
  // Running CAF actors (the engine's own plus live requests).
  std::size_t running_actors() const;
  // The policy CAF's scheduler runs: "sharing" or "stealing" (read from the running
  // coordinator, not from the config; engine_config::actor_scheduler).
  std::string actor_scheduler() const;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace kvactor
