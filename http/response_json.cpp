#include "http/response_json.hpp"

#include <nlohmann/json.hpp>

namespace kvactor::http {
namespace {

using nlohmann::json;

// Generated text may hold invalid UTF-8 (byte-fallback tokens); replace, never throw.
std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }
std::string sse(const json& j) { return "data: " + dump(j) + "\n\n"; }

json usage_of(const std::vector<prompt_outcome>& outcomes) {
  int prompt = 0, completion = 0, cached = 0;
  for (const auto& o : outcomes) {
    completion += o.usage.completion_tokens;
    if (o.repeat_choice) continue;  // n > 1: the prompt is counted once, as OpenAI does
    prompt += o.usage.prompt_tokens;
    cached += o.usage.cached_tokens;
  }
  return {{"prompt_tokens", prompt},
          {"completion_tokens", completion},
          {"total_tokens", prompt + completion},
          {"prompt_tokens_details", {{"cached_tokens", cached}}}};
}

json finish_value(const std::string& reason) { return reason.empty() ? json(nullptr) : json(reason); }

// "seed": the seed the (first) sampled prompt used, so the run can be replayed; absent
// when greedy. The prompts of one /v1/completions request share their parameters.
json with_seed(json body, const std::vector<prompt_outcome>& outcomes) {
  if (!outcomes.empty() && outcomes.front().seed) body["seed"] = *outcomes.front().seed;
  return body;
}

// OpenAI's completions shape: parallel lists, top_logprobs as {text: logprob} maps. With echo,
// the prompt's tokens come first (offsets from 0, capped at text_offset: a tokenizer's pieces
// may not spell the prompt byte for byte, e.g. SentencePiece's dummy-prefix space), then the
// generated ones from text_offset.
json completion_logprobs(const std::vector<token_logprob>& entries, std::size_t text_offset,
                         const std::vector<token_logprob>* prompt = nullptr) {
  json tokens = json::array(), values = json::array(), tops = json::array(), offsets = json::array();
  auto add = [&](const token_logprob& e, std::size_t offset) {
    tokens.push_back(e.token);
    if (!e.scored) {
      values.push_back(nullptr);
      tops.push_back(nullptr);
    } else {
      values.push_back(e.logprob);
      json top = json::object();
      for (const auto& [text, lp] : e.top)
        if (!top.contains(text)) top[text] = lp;  // two ids with the same text: the likelier one
      tops.push_back(std::move(top));
    }
    offsets.push_back(offset);
  };
  if (prompt != nullptr) {
    std::size_t offset = 0;
    for (const auto& e : *prompt) {
      add(e, std::min(offset, text_offset));
      offset += e.token.size();
    }
  }
  for (const auto& e : entries) {
    add(e, text_offset);
    text_offset += e.token.size();
  }
  return {{"tokens", tokens}, {"token_logprobs", values}, {"top_logprobs", tops}, {"text_offset", offsets}};
}

json bytes_of(const std::string& text) {
  json out = json::array();
  for (unsigned char c : text) out.push_back(static_cast<int>(c));
  return out;
}

// OpenAI's chat shape: {"content":[{token, logprob, bytes, top_logprobs:[{token, logprob, bytes}]}]}.
json chat_logprobs(const std::vector<token_logprob>& entries) {
  json content = json::array();
  for (const auto& e : entries) {
    json top = json::array();
    for (const auto& [text, lp] : e.top) top.push_back({{"token", text}, {"logprob", lp}, {"bytes", bytes_of(text)}});
    content.push_back(
        {{"token", e.token}, {"logprob", e.logprob}, {"bytes", bytes_of(e.token)}, {"top_logprobs", top}});
  }
  return {{"content", content}, {"refusal", nullptr}};
}

}  // namespace

std::string shortfin_response(const std::vector<prompt_outcome>& outcomes, bool return_input_ids) {
  json list = json::array();
  for (const auto& o : outcomes) {
    json entry = {{"prompt", o.prompt_text}, {"rid", o.rid}, {"responses", json::array({{{"text", o.text}}})}};
    if (return_input_ids) entry["input_ids"] = o.prompt_ids;
    if (o.seed) entry["seed"] = *o.seed;
    list.push_back(std::move(entry));
  }
  return dump({{"responses", list}});
}

std::string shortfin_event(std::size_t index, const std::string& rid, const std::string& delta,
                           const std::string& finish_reason) {
  json j = {{"index", index}, {"rid", rid}, {"text", delta}};
  if (!finish_reason.empty()) j["finish_reason"] = finish_reason;
  return sse(j);
}

std::string completion_response(const completion_identity& who, const std::vector<prompt_outcome>& outcomes) {
  json choices = json::array();
  for (std::size_t i = 0; i < outcomes.size(); ++i)
    choices.push_back(
        {{"index", i},
         {"text", outcomes[i].text},
         {"logprobs", outcomes[i].logprobs ? completion_logprobs(*outcomes[i].logprobs, outcomes[i].text_offset,
                                                                 &outcomes[i].prompt_logprobs)
                                           : json(nullptr)},
         {"finish_reason", finish_value(outcomes[i].finish_reason)}});
  return dump(with_seed({{"id", who.id},
                         {"object", "text_completion"},
                         {"created", who.created},
                         {"model", who.model},
                         {"choices", choices},
                         {"usage", usage_of(outcomes)}},
                        outcomes));
}

std::string completion_event(const completion_identity& who, std::size_t index, const std::string& delta,
                             const std::string& finish_reason, const std::vector<token_logprob>* logprobs,
                             std::size_t text_offset, const std::vector<token_logprob>* prompt_logprobs) {
  json choice = {{"index", index},
                 {"text", delta},
                 {"logprobs", logprobs ? completion_logprobs(*logprobs, text_offset, prompt_logprobs) : json(nullptr)},
                 {"finish_reason", finish_value(finish_reason)}};
  return sse({{"id", who.id},
              {"object", "text_completion"},
              {"created", who.created},
              {"model", who.model},
              {"choices", json::array({choice})}});
}

std::string completion_usage_event(const completion_identity& who, const std::vector<prompt_outcome>& outcomes) {
  return sse(with_seed({{"id", who.id},
                        {"object", "text_completion"},
                        {"created", who.created},
                        {"model", who.model},
                        {"choices", json::array()},
                        {"usage", usage_of(outcomes)}},
                       outcomes));
}

std::string chat_completion_response(const completion_identity& who, const std::vector<prompt_outcome>& outcomes) {
  json choices = json::array();
  for (std::size_t i = 0; i < outcomes.size(); ++i)
    choices.push_back({{"index", i},
                       {"message", {{"role", "assistant"}, {"content", outcomes[i].text}}},
                       {"logprobs", outcomes[i].logprobs ? chat_logprobs(*outcomes[i].logprobs) : json(nullptr)},
                       {"finish_reason", finish_value(outcomes[i].finish_reason)}});
  return dump(with_seed({{"id", who.id},
                         {"object", "chat.completion"},
                         {"created", who.created},
                         {"model", who.model},
                         {"choices", choices},
                         {"usage", usage_of(outcomes)}},
                        outcomes));
}

std::string chat_completion_response(const completion_identity& who, const prompt_outcome& outcome) {
  return chat_completion_response(who, std::vector<prompt_outcome>{outcome});
}

std::string chat_completion_event(const completion_identity& who, chat_delta kind, const std::string& content,
                                  const std::string& finish_reason, std::size_t index,
                                  const std::vector<token_logprob>* logprobs) {
  json delta = json::object();
  if (kind == chat_delta::role) delta = {{"role", "assistant"}, {"content", ""}};
  if (kind == chat_delta::content) delta = {{"content", content}};
  const json choice = {{"index", index},
                       {"delta", delta},
                       {"logprobs", logprobs ? chat_logprobs(*logprobs) : json(nullptr)},
                       {"finish_reason", kind == chat_delta::finish ? finish_value(finish_reason) : json(nullptr)}};
  return sse({{"id", who.id},
              {"object", "chat.completion.chunk"},
              {"created", who.created},
              {"model", who.model},
              {"choices", json::array({choice})}});
}

std::string chat_usage_event(const completion_identity& who, const std::vector<prompt_outcome>& outcomes) {
  return sse(with_seed({{"id", who.id},
                        {"object", "chat.completion.chunk"},
                        {"created", who.created},
                        {"model", who.model},
                        {"choices", json::array()},
                        {"usage", usage_of(outcomes)}},
                       outcomes));
}

std::string chat_usage_event(const completion_identity& who, const prompt_outcome& outcome) {
  return chat_usage_event(who, std::vector<prompt_outcome>{outcome});
}

std::string error_event(const api_error& e) { return "data: " + error_body(e) + "\n\n"; }

}  // namespace kvactor::http
