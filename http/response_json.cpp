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
    prompt += o.usage.prompt_tokens;
    completion += o.usage.completion_tokens;
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
    choices.push_back({{"index", i},
                       {"text", outcomes[i].text},
                       {"logprobs", nullptr},
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
                             const std::string& finish_reason) {
  json choice = {{"index", index}, {"text", delta}, {"logprobs", nullptr}, {"finish_reason", finish_value(finish_reason)}};
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

std::string chat_completion_response(const completion_identity& who, const prompt_outcome& outcome) {
  const json choice = {{"index", 0},
                       {"message", {{"role", "assistant"}, {"content", outcome.text}}},
                       {"logprobs", nullptr},
                       {"finish_reason", finish_value(outcome.finish_reason)}};
  return dump(with_seed({{"id", who.id},
                         {"object", "chat.completion"},
                         {"created", who.created},
                         {"model", who.model},
                         {"choices", json::array({choice})},
                         {"usage", usage_of({outcome})}},
                        {outcome}));
}

std::string chat_completion_event(const completion_identity& who, chat_delta kind, const std::string& content,
                                  const std::string& finish_reason) {
  json delta = json::object();
  if (kind == chat_delta::role) delta = {{"role", "assistant"}, {"content", ""}};
  if (kind == chat_delta::content) delta = {{"content", content}};
  const json choice = {{"index", 0}, {"delta", delta}, {"logprobs", nullptr},
                       {"finish_reason", kind == chat_delta::finish ? finish_value(finish_reason) : json(nullptr)}};
  return sse({{"id", who.id},
              {"object", "chat.completion.chunk"},
              {"created", who.created},
              {"model", who.model},
              {"choices", json::array({choice})}});
}

std::string chat_usage_event(const completion_identity& who, const prompt_outcome& outcome) {
  return sse(with_seed({{"id", who.id},
                        {"object", "chat.completion.chunk"},
                        {"created", who.created},
                        {"model", who.model},
                        {"choices", json::array()},
                        {"usage", usage_of({outcome})}},
                       {outcome}));
}

std::string error_event(const api_error& e) {
  return "data: " + error_body(e) + "\n\n";
}

}  // namespace kvactor::http
