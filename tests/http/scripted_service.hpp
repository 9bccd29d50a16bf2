// A deterministic stand-in for the engine, for testing the HTTP layer alone: it
// emits a fixed token sequence per prompt from its own thread (as the gateway does
// from actor threads), honours cancel, queue limits and drain, and counts what it
// was asked to do so tests can prove a rejected request left no trace and a
// disconnected one gave its pages back.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "actors/generation_service.hpp"
#include "model/model.hpp"
#include "model/tokenizer.hpp"

namespace kvactor::test {

class scripted_service final : public generation_service {
 public:
  struct options {
    int queue_limit = 64;                           // live requests before QUEUE_FULL
    std::chrono::microseconds token_interval{500};  // between steps (one token per live request)
    int max_seq_len = 512;
    int page_size = 16;
    int total_pages = 1024;
  };
  explicit scripted_service(options opt);
  scripted_service() : scripted_service(options{}) {}
  ~scripted_service() override;

  // The tokens a prompt produces, k = 0.. (what a client must see).
  static int32_t token_at(const std::vector<int32_t>& prompt, int k);

  const tokenizer& tok() const override { return tok_; }
  const model_config& model() const override { return model_; }
  const engine_config& config() const override { return engine_; }
  std::string submit(generation_request req, generation_callback cb) override;
  void cancel(const std::string& rid) override;
  void inspect(const std::string& what, std::function<void(std::string json)> cb) override;
  void shutdown(std::chrono::milliseconds drain) override;

  // Blocks new tokens while set (keeps requests live for disconnect/queue tests).
  void pause(bool paused);
  int submitted() const { return submitted_; }
  int cancelled() const { return cancelled_; }
  int live() const;
  int pages_held() const;  // pages of live requests: 0 when all came back

 private:
  struct live_request {
    generation_request req;
    generation_callback cb;
    int generated = 0;
    bool cancel = false;
  };
  void run();
  static int pages_for(const live_request& r, int page_size);

  options opt_;
  tokenizer tok_;
  model_config model_;
  engine_config engine_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::map<std::string, live_request> live_;
  std::vector<std::function<void()>> deferred_;  // rejections and snapshots, delivered by the worker
  std::atomic<int> submitted_{0}, cancelled_{0}, finished_{0}, rejected_{0};
  int next_rid_ = 0;
  bool paused_ = false;
  bool delivering_ = false;  // the worker is calling back outside the lock
  bool accepting_ = true;
  bool stop_ = false;
  std::thread worker_;
};

}  // namespace kvactor::test
