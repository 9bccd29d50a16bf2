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

namespace kvactor::grammar {
struct token_vocabulary;
}

namespace kvactor::http {

enum class api_flavor { shortfin, openai, chat };  // chat: one prompt, rendered from messages

struct exchange_spec {
  api_flavor flavor = api_flavor::shortfin;
  std::vector<prompt_input> prompts;
  std::vector<generation_params> params;  // one per prompt
  std::vector<std::string> rids;          // one per prompt ("" = engine chooses)
  std::string request_id;                 // the HTTP request's x-request-id, shown by inspect
  std::vector<int> choice;                // per entry: its choice number j among its prompt's n (empty: all 0)
  std::vector<std::string> stop;
  bool stream = false;
  bool stream_usage = false;
  bool return_input_ids = false;
  bool echo = false;  // completions: each choice's text starts with its prompt
  std::string model_name;
  std::chrono::milliseconds deadline{0};
  std::string tenant_name = "default";  // /metrics labels
  uint32_t tenant = 0;        // who asked (http/tenants.hpp); with each prompt's cache_salt, the cache namespace
  int32_t tenant_weight = 1;  // fair-share weight in admission
  std::shared_ptr<void> tenant_slot;  // the tenant's in-flight slot (tenant_gate), freed with the exchange
  // The vocabulary structured output masks with (set when some params.structured is not empty).
  std::shared_ptr<const grammar::token_vocabulary> vocabulary;
};

// n > 1: entry i becomes n entries (choice j samples with seed + j, so it equals what
// seed + j gives alone); entries of one prompt are adjacent, as OpenAI numbers choices.
// Call after choose_seeds. The copies share the prompt's pages through the prefix cache.
void expand_choices(exchange_spec& spec);

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
    std::vector<token_logprob> logprobs;         // when asked for: one per generated token
    std::vector<token_logprob> prompt_logprobs;  // echo with logprobs: one per prompt token
    std::size_t logprobs_sent = 0;               // streamed so far
    std::size_t offset_sent = 0;                 // text_offset of the next streamed entry
    bool echoed = false;                         // the prompt went out (echo, streaming)
    bool prompt_scored = false;                  // prompt_logprobs recorded (echo with logprobs)
    bool prompt_sent = false;                    // ... and streamed
  };

  void on_event(std::size_t index, const generation_event& ev);
  void on_token(std::size_t index, const generation_event& ev);
  void record_logprobs(prompt_run& run, const generation_event& ev, int32_t prev);
  void record_prompt_scores(std::size_t index, const generation_event& ev);
  bool scores_prompt(std::size_t index) const { return spec_.echo && spec_.params[index].sampling.logprobs >= 0; }
  void on_finished(std::size_t index, const generation_event& ev);
  void on_error(std::size_t index, const generation_event& ev);
  void emit(std::size_t index, const std::string& delta, const std::string& finish_reason);
  void emit_completion(std::size_t index, const std::string& delta, const std::string& finish_reason,
                       const std::vector<token_logprob>* lp);
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
  std::vector<bool> role_sent_;  // chat: the {"role":"assistant"} chunk of choice i went out
  bool failing_ = false;         // an error arrived before any output: the whole call fails
  bool answered_ = false;
};

}  // namespace kvactor::http
