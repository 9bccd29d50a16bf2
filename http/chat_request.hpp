// POST /v1/chat/completions and POST /apply-template bodies to typed calls: pure
// functions like request_parsing.hpp (body in, call or api_error out). Messages are
// checked (roles, content types), rendered by the server's chat_prompt and tokenized
// here, so a conversation the template refuses is a 400 before the engine sees it.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "http/chat_prompt.hpp"
#include "http/request_parsing.hpp"

namespace kvactor::http {

// POST /v1/chat/completions (OpenAI).
struct chat_call {
  std::string model;        // as sent (may be empty)
  nlohmann::json messages;  // as the template saw them (content parts joined)
  prompt_input prompt;      // the rendered conversation and its ids
  generation_params params;
  std::vector<std::string> stop;
  bool stream = false;
  bool stream_usage = false;  // stream_options.include_usage
};

// POST /apply-template (llama.cpp): the text a chat request with these messages feeds the model.
struct apply_template_call {
  std::string prompt;
};

parse_result<chat_call> parse_chat_completion(std::string_view body, const prompt_limits& limits,
                                              const chat_prompt& chat);
parse_result<apply_template_call> parse_apply_template(std::string_view body, const prompt_limits& limits,
                                                       const chat_prompt& chat);

// The messages of an OpenAI request, checked and normalised for the template: every
// message an object with a known role (system, user, assistant, tool) and string content
// (a list of {"type":"text","text":...} parts is joined with "\n"); other keys refused.
// Throws api_error naming the field.
nlohmann::json checked_messages(const nlohmann::json& doc);

}  // namespace kvactor::http
