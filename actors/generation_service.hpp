// generation_service: how callers outside the actor system (CLI, HTTP sessions) submit
// generation requests and receive their tokens as they are produced. engine_host (one
// engine in this process; gateway = engine_host + a loaded model) and
// cluster::cluster_router (nodes elsewhere) implement it.
//
// This header deliberately includes no CAF: HTTP translation units stay light.
// Callbacks run on actor threads and must not block; an HTTP session posts the
// event onto its own executor and returns.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "actors/engine_config.hpp"
#include "actors/engine_errc.hpp"
#include "device/sampling.hpp"

namespace kvactor {
namespace grammar {
struct output_constraint;
}

class tokenizer;
struct model_config;

struct generation_request {
  std::string rid;              // caller's id; made unique by the gateway if empty
  std::vector<int32_t> prompt;  // token ids, BOS included when wanted
  int max_tokens = 16;          // generated tokens at most
  sampling_params sampling;
  bool stop_at_eos = true;              // stop when the model emits EOS (or BOS, as llama2.c)
  std::vector<int32_t> stop_token_ids;  // generating one of these ends the request ("stop"), like EOS
  bool cache_prompt = true;             // false: the prompt is not matched in the prefix cache (computed afresh)
  // Score the prompt (echo with logprobs): the log probability of every prompt token after the
  // first, with sampling.logprobs alternatives, in the first event. The whole prompt is then
  // computed (no prefix-cache match), since a cached position has no logits.
  bool prompt_logprobs = false;
  std::chrono::milliseconds deadline{0};  // 0 = none; past it the request is cancelled
  std::string kind;                       // the API that asked ("generate", "completion", "chat"); shown by inspect
  std::string request_id;                 // the HTTP request's x-request-id ("" = none); shown by inspect
  // Tenants (issue 20): the prompt matches and publishes only in trie namespace `ns`;
  // admission is fair across `tenant`s by `tenant_weight` (scheduling/fair_share.hpp).
  uint64_t ns = 0;
  uint32_t tenant = 0;
  int32_t tenant_weight = 1;
  // Structured output (grammar/output_constraint.hpp): every sampled token is one the grammar
  // allows; the request ends ("stop") when the grammar is complete. Null = unconstrained.
  std::shared_ptr<const grammar::output_constraint> constraint;
};

struct generation_usage {
  int prompt_tokens = 0;
  int cached_tokens = 0;  // prompt tokens whose K/V came from the prefix cache
  int completion_tokens = 0;
};

struct generation_event {
  enum class kind { token, finished, error };
  kind type = kind::token;
  std::string rid;
  int32_t token = -1;            // kind::token
  float logprob = 0.0f;          // kind::token, when sampling.logprobs >= 0: log_softmax of the raw logits
  std::vector<int32_t> top_ids;  // ... and the sampling.logprobs most likely tokens, most likely first
  std::vector<float> top_logprobs;
  // The first token or finished event of a request with prompt_logprobs: positions 1..prompt-1.
  std::vector<scored_token> prompt_scores;
  std::string finish_reason;            // kind::finished: "length" | "stop" | "cancelled"
  engine_errc error = engine_errc::ok;  // kind::error: queue_full, bad_request, device_error, shutting_down, ...
  std::string error_message;
  generation_usage usage;  // filled on finished and error
};

// Exactly one finished-or-error event ends every submitted request.
using generation_callback = std::function<void(const generation_event&)>;

// The one set of bounds on the cache tree of "cache" (http/API.md): levels below the
// root and nodes kept breadth-first, the root included. http/ refuses values outside.
struct cache_tree_limits {
  static constexpr int32_t default_depth = 8;
  static constexpr int32_t max_depth = 1024;
  static constexpr int32_t default_nodes = 256;
  static constexpr int32_t max_nodes = 1 << 20;
};

// What a front end (HTTP, CLI) needs from the engine. `gateway` is the real one; HTTP
// tests may substitute a scripted one to exercise error paths without a model.
class generation_service {
 public:
  virtual ~generation_service() = default;

  virtual const tokenizer& tok() const = 0;
  virtual const model_config& model() const = 0;
  virtual const engine_config& config() const = 0;

  // Returns at once; events follow on `cb`. Returns the request's rid.
  virtual std::string submit(generation_request req, generation_callback cb) = 0;
  // Cancels a running or queued request; its pages and locks are returned. No-op if unknown.
  virtual void cancel(const std::string& rid) = 0;

  // JSON snapshots (serialised), as served by /v1/inspect/* (contract: http/API.md):
  // what = "actors" | "cache[?depth=D&max_nodes=N&check=full]" | "requests" |
  // "request:<rid>" | "metrics". The service bounds the cache tree itself
  // (cache_tree_limits); the caller serves the text as it is. Delivered on cb from an
  // actor thread.
  virtual void inspect(const std::string& what, std::function<void(std::string json)> cb) = 0;

  // Stops accepting (submit then fails with SHUTTING_DOWN), lets in-flight requests
  // finish for up to `drain`, cancels the rest, and waits until every page is back.
  virtual void shutdown(std::chrono::milliseconds drain) = 0;
};

// The generated tokens that end a request for this vocabulary: its end-of-generation
// ids (EOS and end-of-turn tokens such as <|eot_id|>, <|im_end|>) and BOS.
std::vector<int32_t> end_of_generation_ids(const tokenizer& tok);

}  // namespace kvactor
