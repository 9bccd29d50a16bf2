// One POST /generate, /v1/completions or /v1/chat/completions in flight: submits one engine request per
// prompt, turns engine events into text (stop strings, UTF-8 boundaries), streams
// or collects it, and answers exactly once. Engine callbacks arrive on actor
// threads; each is posted onto the connection's executor before it touches state,
// so all members run there and no lock is needed.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "actors/gateway.hpp"
#include "http/reply.hpp"
#include "http/request_parsing.hpp"
#include "http/response_json.hpp"
#include "http/server_metrics.hpp"
#include "http/text_stream.hpp"

namespace kvactor::http {

enum class api_flavor { shortfin, openai, chat };  // chat: one prompt, rendered from messages

struct exchange_spec {
  api_flavor flavor = api_flavor::shortfin;
  std::vector<prompt_input> prompts;
  std::vector<generation_params> params;  // one per prompt
  std::vector<std::string> rids;          // one per prompt ("" = engine chooses)
  std::vector<std::string> stop;
  bool stream = false;
  bool stream_usage = false;
  bool return_input_ids = false;
  std::string model_name;
  std::chrono::milliseconds deadline{0};
  std::string tenant_name = "default";  // /metrics labels
  uint32_t tenant = 0;        // who asked (http/tenants.hpp); with each prompt's cache_salt, the cache namespace
  int32_t tenant_weight = 1;  // fair-share weight in admission
  std::shared_ptr<void> tenant_slot;  // the tenant's in-flight slot (tenant_gate), freed with the exchange
};

class generation_exchange : public std::enable_shared_from_this<generation_exchange> {
 public:
  using clock = std::chrono::steady_clock;

  generation_exchange(generation_service& service, std::shared_ptr<reply_sink> sink, server_metrics& metrics,
                      exchange_spec spec, clock::time_point received);
  ~generation_exchange();

  // Submits every prompt. Call on the connection's executor.
  void start();
  // The client went away: cancel whatever is still running (pages come back).
  void client_gone();
  bool done() const { return answered_; }

 private:
  struct prompt_run {
    std::string rid;
    std::optional<text_stream> text;
    std::vector<int32_t> output_ids;
    bool finished = false;
    std::string finish_reason;
    generation_usage usage;
    std::optional<api_error> error;
    std::optional<clock::time_point> last_token;
  };

  void on_event(std::size_t index, const generation_event& ev);
  void on_token(std::size_t index, int32_t token);
  void on_finished(std::size_t index, const generation_event& ev);
  void on_error(std::size_t index, const generation_event& ev);
  void emit(std::size_t index, const std::string& delta, const std::string& finish_reason);
  void cancel_running();
  void maybe_answer();
  std::vector<prompt_outcome> outcomes() const;

  generation_service& service_;
  std::shared_ptr<reply_sink> sink_;
  server_metrics& metrics_;
  exchange_spec spec_;
  clock::time_point received_;
  completion_identity identity_;
  std::vector<prompt_run> runs_;
  std::size_t finished_ = 0;
  bool stream_begun_ = false;
  bool role_sent_ = false;  // chat: the {"role":"assistant"} chunk went out
  bool failing_ = false;  // an error arrived before any output: the whole call fails
  bool answered_ = false;
};

}  // namespace kvactor::http
