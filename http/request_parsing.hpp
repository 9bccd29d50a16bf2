// Request bodies to typed calls: pure functions (body text in, typed call or typed
// error out), so every validation rule is tested without a socket. Nothing here
// touches the engine: a rejected request leaves no trace.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "device/sampling.hpp"
#include "http/api_error.hpp"
#include "http/structured_output.hpp"

namespace kvactor::http {

// What validation needs to know about the model, without depending on it.
struct prompt_limits {
  int vocab_size = 0;
  int max_seq_len = 0;  // prompt + generated tokens must fit
  int default_max_tokens = 16;
  std::size_t body_limit = 1 << 20;
  int max_prompt_tokens = 1 << 30;  // longer prompts: 400 PROMPT_TOO_LONG
  int max_new_tokens = 1 << 30;     // cap on max_tokens / max_completion_tokens (besides max_seq_len)
  int max_prompts_per_request = 1 << 30;
  // A token covers at most this many bytes of text (the tokenizer's longest piece, at least 4
  // for an unknown code point); text longer than this times a token limit is refused before
  // it is encoded, so an oversize prompt costs no tokenizer time. 0 = no such check.
  std::size_t max_bytes_per_token = 0;
  std::function<std::vector<int32_t>(const std::string&)> encode;  // text -> ids (BOS included)
  std::function<std::string(const std::vector<int32_t>&)> decode;  // ids -> text
};

struct prompt_input {
  std::vector<int32_t> ids;  // what the engine receives
  std::string text;          // as sent, or decoded from ids when sent as ids
  bool given_as_text = true;
};

struct generation_params {
  int max_tokens = 16;
  sampling_params sampling;
  bool seed_given = false;              // false: a sampled request gets a fresh seed (choose_seeds), reported back
  std::vector<int32_t> stop_token_ids;  // generating one ends the choice ("stop"; the token is not shown)
  bool ignore_eos = false;              // true: EOS does not end generation
  bool cache_prompt = true;             // false: no prefix-cache match for this request
  int n = 1;                            // choices per prompt; choice j samples with seed + j
  std::string cache_salt;               // narrows prefix-cache sharing inside the tenant ("" = none; http/tenants.hpp)
  structured_output structured;         // response_format / grammar (http/structured_output.hpp); empty = none
};

// POST /generate (shortfin's GenerateReqInput).
struct generate_call {
  std::vector<prompt_input> prompts;
  std::vector<generation_params> params;  // one per prompt
  std::vector<std::string> rids;          // one per prompt; "" = let the engine choose
  bool batch = false;                     // text/input_ids was a list of prompts
  bool stream = false;
  bool return_input_ids = false;
};

// POST /v1/completions (OpenAI).
struct completion_call {
  std::string model;  // as sent (may be empty)
  std::vector<prompt_input> prompts;
  generation_params params;
  std::vector<std::string> stop;  // generation ends before any of these
  bool stream = false;
  bool stream_usage = false;  // stream_options.include_usage
  bool echo = false;          // each choice's text starts with its prompt
};

template <class T>
using parse_result = std::variant<T, api_error>;

parse_result<generate_call> parse_generate(std::string_view body, const prompt_limits& limits);
parse_result<completion_call> parse_completion(std::string_view body, const prompt_limits& limits);

}  // namespace kvactor::http
