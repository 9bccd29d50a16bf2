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

// The outcome of one prompt, as the exchange collected it.
struct prompt_outcome {
  std::string rid;
  std::string prompt_text;
  std::vector<int32_t> prompt_ids;
  std::string text;               // generated text (stop string trimmed)
  std::vector<int32_t> output_ids;
  std::string finish_reason;      // length | stop | cancelled
  generation_usage usage;
  std::optional<uint64_t> seed;   // the seed a sampled prompt used (given or chosen); none when greedy
};

// {"responses":[{"prompt":...,"responses":[{"text":...}]}]}; with return_input_ids
// each prompt entry also carries "input_ids".
std::string shortfin_response(const std::vector<prompt_outcome>& outcomes, bool return_input_ids);
// data: {"index":i,"rid":...,"text":delta[,"finish_reason":...]}\n\n
std::string shortfin_event(std::size_t index, const std::string& rid, const std::string& delta,
                           const std::string& finish_reason);

struct completion_identity {
  std::string id;     // "cmpl-<rid of the first prompt>"
  std::string model;
  int64_t created = 0;  // unix seconds
};

std::string completion_response(const completion_identity& who, const std::vector<prompt_outcome>& outcomes);
std::string completion_event(const completion_identity& who, std::size_t index, const std::string& delta,
                             const std::string& finish_reason);
// The last chunk when stream_options.include_usage is set: "choices":[] plus usage.
std::string completion_usage_event(const completion_identity& who, const std::vector<prompt_outcome>& outcomes);
// /v1/chat/completions: one choice, {"role":"assistant","content":text}.
std::string chat_completion_response(const completion_identity& who, const prompt_outcome& outcome);
// A "chat.completion.chunk" event: delta {"role":"assistant","content":""} (the first chunk of
// a stream), {"content":delta}, or {} with the finish_reason (the last one).
enum class chat_delta { role, content, finish };
std::string chat_completion_event(const completion_identity& who, chat_delta kind, const std::string& content,
                                  const std::string& finish_reason);
// The last chunk when stream_options.include_usage is set: "choices":[] plus usage.
std::string chat_usage_event(const completion_identity& who, const prompt_outcome& outcome);
// An error reported inside a stream that has already begun.
std::string error_event(const api_error& e);  // data: {"error":{...}} (error_body)

inline const char* done_event = "data: [DONE]\n\n";

}  // namespace kvactor::http
