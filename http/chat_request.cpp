#include "http/chat_request.hpp"

#include <algorithm>

#include "http/request_fields.hpp"
#include "http/sampling_fields.hpp"

namespace kvactor::http {
namespace {

using nlohmann::json;
using namespace fields;

constexpr std::string_view known_roles[] = {"system", "user", "assistant", "tool"};

std::string joined_text_parts(const json& parts, const std::string& field) {
  if (parts.empty()) reject(400, "OUT_OF_RANGE", field + ": a list of content parts needs at least one part");
  std::string text;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    const std::string where = field + "[" + std::to_string(i) + "]";
    const json& part = parts[i];
    if (!part.is_object()) wrong_type(where, "a content part object", part);
    if (!present(part, "type")) reject(400, "MISSING_FIELD", where + ".type: required");
    if (!part.at("type").is_string()) wrong_type(where + ".type", "a string", part.at("type"));
    const std::string type = part.at("type").get<std::string>();
    if (type != "text")
      reject(400, "UNSUPPORTED_CONTENT", where + ".type: \"" + type + "\" content is not supported (only \"text\")");
    refuse_unknown_keys(part, {"type", "text"}, where + ".");
    if (!present(part, "text")) reject(400, "MISSING_FIELD", where + ".text: required");
    if (!part.at("text").is_string()) wrong_type(where + ".text", "a string", part.at("text"));
    if (i > 0) text += "\n";
    text += part.at("text").get<std::string>();
  }
  return text;
}

json checked_message(const json& m, const std::string& where) {
  if (!m.is_object()) wrong_type(where, "a message object", m);
  refuse_unknown_keys(m, {"role", "content", "name", "tool_call_id", "tool_calls"}, where + ".");
  if (!present(m, "role")) reject(400, "MISSING_FIELD", where + ".role: required");
  if (!m.at("role").is_string()) wrong_type(where + ".role", "a string", m.at("role"));
  const std::string role = m.at("role").get<std::string>();
  if (std::find(std::begin(known_roles), std::end(known_roles), role) == std::end(known_roles))
    reject(400, "INVALID_ROLE",
           where + ".role: unknown role \"" + role + "\" (expected system, user, assistant or tool)");

  json out = {{"role", role}};
  const bool has_tool_calls = present(m, "tool_calls");
  if (has_tool_calls) {
    if (role != "assistant")
      reject(400, "INVALID_TYPE", where + ".tool_calls: only an assistant message has tool calls");
    if (!m.at("tool_calls").is_array()) wrong_type(where + ".tool_calls", "a list", m.at("tool_calls"));
    out["tool_calls"] = m.at("tool_calls");
  }
  if (!present(m, "content")) {
    // OpenAI: an assistant message that only calls tools has content null.
    if (!has_tool_calls) reject(400, "MISSING_FIELD", where + ".content: required");
    out["content"] = nullptr;
  } else if (m.at("content").is_string()) {
    out["content"] = m.at("content");
  } else if (m.at("content").is_array()) {
    out["content"] = joined_text_parts(m.at("content"), where + ".content");
  } else {
    wrong_type(where + ".content", "a string or a list of text parts", m.at("content"));
  }
  for (const char* key : {"name", "tool_call_id"}) {
    if (!present(m, key)) continue;
    if (!m.at(key).is_string()) wrong_type(where + "." + key, "a string", m.at(key));
    out[key] = m.at(key);
  }
  if (present(m, "tool_call_id") && role != "tool")
    reject(400, "INVALID_TYPE", where + ".tool_call_id: only a tool message answers a tool call");
  return out;
}

std::string rendered(const chat_prompt& chat, const json& messages, bool add_generation_prompt) {
  try {
    return chat.render(messages, add_generation_prompt);
  } catch (const chat_render_error& e) {
    reject(400, "TEMPLATE_ERROR", std::string("messages: the chat template refused them: ") + e.what());
  }
}

// logprobs (a boolean) and top_logprobs (alternatives per token, only with logprobs true).
void read_chat_logprobs(const json& doc, generation_params& p) {
  const bool wanted = read_bool(doc, "logprobs", "", false);
  const long long top = read_int(doc, "top_logprobs", "", 0, 0, max_top_logprobs);
  if (present(doc, "top_logprobs") && !wanted)
    reject(400, "INVALID_TYPE", "top_logprobs: only allowed when logprobs is true");
  p.sampling.logprobs = wanted ? static_cast<int32_t>(top) : -1;
}

chat_call chat_from(const json& doc, const prompt_limits& limits, const chat_prompt& chat) {
  // Everything the server honours, plus fields accepted only at their neutral value.
  refuse_unknown_keys(doc,
                      {"model",
                       "messages",
                       "max_tokens",
                       "max_completion_tokens",
                       "temperature",
                       "top_p",
                       "top_k",
                       "min_p",
                       "seed",
                       "stop",
                       "stop_token_ids",
                       "stream",
                       "stream_options",
                       "n",
                       "best_of",
                       "logprobs",
                       "top_logprobs",
                       "presence_penalty",
                       "frequency_penalty",
                       "repetition_penalty",
                       "logit_bias",
                       "ignore_eos",
                       "cache_prompt",
                       "cache_salt",
                       "response_format",
                       "grammar"},
                      "");

  chat_call call;
  if (present(doc, "model")) {
    if (!doc.at("model").is_string()) wrong_type("model", "a string", doc.at("model"));
    call.model = doc.at("model").get<std::string>();
  }
  call.messages = checked_messages(doc);

  const long long cap = new_tokens_cap(limits);
  const bool has_max = present(doc, "max_tokens"), has_max_completion = present(doc, "max_completion_tokens");
  const long long max_tokens = read_int(doc, "max_tokens", "", limits.default_max_tokens, 1, cap);
  const long long max_completion = read_int(doc, "max_completion_tokens", "", max_tokens, 1, cap);
  if (has_max && has_max_completion && max_tokens != max_completion)
    reject(400, "CONFLICTING_FIELDS", "max_tokens and max_completion_tokens differ; give one of them");
  call.params.max_tokens = static_cast<int>(max_completion);
  call.params.sampling.temperature = static_cast<float>(read_number(doc, "temperature", "", 1.0, 0.0, 2.0, false));
  call.params.sampling.top_p = static_cast<float>(read_number(doc, "top_p", "", 1.0, 0.0, 1.0, true));
  call.params.sampling.top_k = static_cast<int>(read_int(doc, "top_k", "", 0, 0, limits.vocab_size));
  call.params.sampling.seed = read_seed(doc, "seed", "");
  call.params.seed_given = present(doc, "seed");
  read_chat_logprobs(doc, call.params);
  read_sampling_extras(doc, "", limits, call.params);
  call.params.n = read_choices(doc, limits, 1);
  call.params.cache_salt = read_cache_salt(doc);
  call.stream = read_bool(doc, "stream", "", false);
  call.stream_usage = read_include_usage(doc, call.stream);
  call.stop = read_stop(doc);
  // ChatML ends a turn with this text; a model that has no such token may still write it.
  if (chat.is_chatml_fallback()) call.stop.push_back("<|im_end|>");

  call.prompt.text = rendered(chat, call.messages, true);
  call.prompt.given_as_text = true;
  check_text_fits(call.prompt.text, limits, "messages");
  call.prompt.ids = chat.tokenize(call.prompt.text);
  check_context(call.prompt, call.params.max_tokens, limits, "messages");
  return call;
}

apply_template_call apply_template_from(const json& doc, const prompt_limits&, const chat_prompt& chat) {
  refuse_unknown_keys(doc, {"model", "messages", "add_generation_prompt"}, "");
  const json messages = checked_messages(doc);
  return {rendered(chat, messages, read_bool(doc, "add_generation_prompt", "", true))};
}

}  // namespace

json checked_messages(const json& doc) {
  if (!present(doc, "messages")) reject(400, "MISSING_FIELD", "messages: required");
  const json& messages = doc.at("messages");
  if (!messages.is_array()) wrong_type("messages", "a list of messages", messages);
  if (messages.empty()) reject(400, "OUT_OF_RANGE", "messages: a conversation needs at least one message");
  json out = json::array();
  for (std::size_t i = 0; i < messages.size(); ++i)
    out.push_back(checked_message(messages[i], "messages[" + std::to_string(i) + "]"));
  return out;
}

parse_result<chat_call> parse_chat_completion(std::string_view body, const prompt_limits& limits,
                                              const chat_prompt& chat) {
  auto build = [body](const json& doc, const prompt_limits& l, const chat_prompt& c) {
    chat_call call = chat_from(doc, l, c);
    call.params.structured = read_structured_output(body, doc, "", true);
    return call;
  };
  return guarded<chat_call>(body, limits.body_limit, build, limits, chat);
}

parse_result<apply_template_call> parse_apply_template(std::string_view body, const prompt_limits& limits,
                                                       const chat_prompt& chat) {
  return guarded<apply_template_call>(body, limits.body_limit, apply_template_from, limits, chat);
}

}  // namespace kvactor::http
