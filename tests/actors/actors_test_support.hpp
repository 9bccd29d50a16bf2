// Shared pieces of the actor tests: the stories260K model, an independent reference
// generator that drives a backend directly (no actors), and a thread-safe event log.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "actors/engine_host.hpp"
#include "actors/gateway.hpp"
#include "device/backend.hpp"
#include "model/loader.hpp"

namespace kvactor::actors_test {

// stories260K + tok512 from KVACTOR_MODELS_DIR, loaded once per process.
const loaded_model& stories260k();

// Generation for one prompt alone on a fresh CPU backend, one step per token,
// the whole prompt in one prefill step. Same stopping rules as a request actor.
// With `results`, each sampled step's result (token, log probabilities) is appended;
// `stop_ids` end generation like EOS.
std::vector<int32_t> reference_generate(const loaded_model& m, const std::vector<int32_t>& prompt, int max_tokens,
                                        const sampling_params& sampling, bool stop_at_eos = true,
                                        std::vector<sequence_result>* results = nullptr,
                                        const std::vector<int32_t>& stop_ids = {});

engine_config small_engine_config(int num_pages, int page_size = 16);

// A CPU-backend engine over stories260K.
std::unique_ptr<engine_host> stories_engine(const engine_config& cfg);

struct request_outcome {
  std::vector<int32_t> tokens;
  std::vector<float> logprobs;                // per token event (0 when not asked for)
  std::vector<std::vector<int32_t>> top_ids;  // per token event
  std::vector<scored_token> prompt_scores;    // from the event that carried them
  int events_with_scores = 0;
  bool ended = false;
  generation_event final_event;
  int final_events = 0;
};

// Collects events per rid from any thread; wait() until `n` requests ended.
class event_log {
 public:
  generation_callback callback();
  bool wait(std::size_t n, std::chrono::milliseconds timeout);
  std::map<std::string, request_outcome> outcomes();

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  std::map<std::string, request_outcome> outcomes_;
  std::size_t ended_ = 0;
};

// Prompts of the bundled tokenizer: `count` prompts, `shared` = a common long prefix.
std::vector<std::vector<int32_t>> test_prompts(int count, bool shared);

}  // namespace kvactor::actors_test
