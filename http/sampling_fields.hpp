// The sampling fields OpenAI, vLLM and llama.cpp requests share beyond temperature, top_p,
// top_k and seed: penalties, logit_bias, min_p, stop token ids, ignore_eos, cache_prompt,
// n and best_of. One reader per field, each refusing a bad value with a 400 naming it;
// /v1/completions, /v1/chat/completions and /generate's sampling_params all use them.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "http/request_parsing.hpp"

namespace kvactor::http::fields {

// presence_penalty, frequency_penalty, repetition_penalty, min_p, logit_bias,
// stop_token_ids, ignore_eos and cache_prompt into `p` (each absent or null: neutral).
// `where` prefixes field names in messages ("sampling_params.").
void read_sampling_extras(const nlohmann::json& obj, const std::string& where, const prompt_limits& limits,
                          generation_params& p);
// n (choices per prompt, 1..max_choices) and best_of (null or 1; more is refused: the
// server does not rank candidates, vLLM dropped it too).
int read_choices(const nlohmann::json& obj, const prompt_limits& limits, std::size_t prompts);

// Most alternatives a logprobs / top_logprobs request may ask for per token (OpenAI's chat limit).
constexpr int max_top_logprobs = 20;
constexpr int max_choices = 64;

}  // namespace kvactor::http::fields
