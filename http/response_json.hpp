// Response bodies and server-sent events for /generate (shortfin's shape),
// /v1/completions and /v1/chat/completions (OpenAI's shapes). Formatting only; no state.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "actors/gateway.hpp"
#include "http/api_error.hpp"

namespace kvactor::http {

// One generated token's log probability (log_softmax of the raw logits) and the most
// likely alternatives at its position, each with its text.
struct token_logprob {
  std::string token;
  float logprob = 0.0f;
  std::vector<std::pair<std::string, float>> top;  // most likely first
  bool scored = true;  // false: the prompt's first token (echo), which nothing predicts: null value and top
};

// The outcome of one prompt (one choice), as the exchange collected it.
struct prompt_outcome {
  std::string rid;
  std::string prompt_text;
  std::vector<int32_t> prompt_ids;
  std::string text;  // generated text (stop string trimmed)
  std::vector<int32_t> output_ids;
  std::string finish_reason;  // length | stop | cancelled
  generation_usage usage;
  std::optional<uint64_t> seed;  // the seed a sampled prompt used (given or chosen); none when greedy
  std::optional<std::vector<token_logprob>> logprobs;  // when asked for: one per token of `text`
  std::vector<token_logprob> prompt_logprobs;          // echo with logprobs: one per prompt token, before `logprobs`
  std::size_t text_offset = 0;  // where the generated text starts in `text` (the prompt's length with echo)
  bool repeat_choice = false;   // a second or later choice of its prompt: usage counts the prompt once
};

// {"responses":[{"prompt":...,"responses":[{"text":...}]}]}; with return_input_ids
// each prompt entry also carries "input_ids".
std::string shortfin_response(const std::vector<prompt_outcome>& outcomes, bool return_input_ids);
// data: {"index":i,"rid":...,"text":delta[,"finish_reason":...]}\n\n
std::string shortfin_event(std::size_t index, const std::string& rid, const std::string& delta,
                           const std::string& finish_reason);

struct completion_identity {
  std::string id;  // "cmpl-<rid of the first prompt>"
  std::string model;
  int64_t created = 0;  // unix seconds
};

std::string completion_response(const completion_identity& who, const std::vector<prompt_outcome>& outcomes);
// With `logprobs`, the choice carries those tokens' log probabilities, offsets from `text_offset`.
// With echo and logprobs the first chunk also carries the prompt's tokens (`prompt_logprobs`),
// whose offsets count from 0 (capped at text_offset, where the generated text starts).
std::string completion_event(const completion_identity& who, std::size_t index, const std::string& delta,
                             const std::string& finish_reason, const std::vector<token_logprob>* logprobs = nullptr,
                             std::size_t text_offset = 0, const std::vector<token_logprob>* prompt_logprobs = nullptr);
// The last chunk when stream_options.include_usage is set: "choices":[] plus usage.
std::string completion_usage_event(const completion_identity& who, const std::vector<prompt_outcome>& outcomes);
// /v1/chat/completions: one choice per outcome, {"role":"assistant","content":text}.
std::string chat_completion_response(const completion_identity& who, const std::vector<prompt_outcome>& outcomes);
std::string chat_completion_response(const completion_identity& who, const prompt_outcome& outcome);
// A "chat.completion.chunk" event: delta {"role":"assistant","content":""} (the first chunk of
// a stream), {"content":delta}, or {} with the finish_reason (the last one).
enum class chat_delta { role, content, finish };
// `index` is the choice's; `logprobs` (content chunks) the log probabilities of its tokens.
std::string chat_completion_event(const completion_identity& who, chat_delta kind, const std::string& content,
                                  const std::string& finish_reason, std::size_t index = 0,
                                  const std::vector<token_logprob>* logprobs = nullptr);
// The last chunk when stream_options.include_usage is set: "choices":[] plus usage.
std::string chat_usage_event(const completion_identity& who, const std::vector<prompt_outcome>& outcomes);
std::string chat_usage_event(const completion_identity& who, const prompt_outcome& outcome);
// An error reported inside a stream that has already begun.
std::string error_event(const api_error& e);  // data: {"error":{...}} (error_body)

inline const char* done_event = "data: [DONE]\n\n";

}  // namespace kvactor::http
