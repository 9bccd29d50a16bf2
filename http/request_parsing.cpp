#include "http/request_parsing.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include <nlohmann/json.hpp>

#include "http/request_fields.hpp"
#include "http/sampling_fields.hpp"

namespace kvactor::http {
namespace {

using nlohmann::json;
using namespace fields;

prompt_input text_prompt(const std::string& text, const prompt_limits& limits) {
  prompt_input p;
  p.text = text;
  check_text_fits(text, limits, "prompt");
  p.ids = limits.encode(text);
  p.given_as_text = true;
  return p;
}

prompt_input id_prompt(const json& arr, const std::string& field, const prompt_limits& limits) {
  prompt_input p;
  p.given_as_text = false;
  if (arr.empty()) reject(400, "OUT_OF_RANGE", field + ": a prompt needs at least one token");
  p.ids.reserve(arr.size());
  for (std::size_t i = 0; i < arr.size(); ++i) {
    const json& t = arr[i];
    if (!t.is_number_integer()) wrong_type(field + "[" + std::to_string(i) + "]", "a token id (integer)", t);
    const bool in_vocab = t.is_number_unsigned()
                              ? t.get<unsigned long long>() < static_cast<unsigned>(limits.vocab_size)
                              : t.get<long long>() >= 0 && t.get<long long>() < limits.vocab_size;
    if (!in_vocab)
      reject(400, "TOKEN_OUT_OF_VOCABULARY",
             field + "[" + std::to_string(i) + "]: token id " + t.dump() + " is outside the vocabulary [0, " +
                 std::to_string(limits.vocab_size) + ")");
    p.ids.push_back(static_cast<int32_t>(t.get<long long>()));
  }
  p.text = limits.decode(p.ids);
  return p;
}

bool is_id_list(const json& v) { return v.is_array() && !v.empty() && v.front().is_number(); }

void check_batch_size(std::size_t n, const prompt_limits& limits, const std::string& field) {
  if (n > static_cast<std::size_t>(limits.max_prompts_per_request))
    reject(400, "OUT_OF_RANGE",
           field + ": " + std::to_string(n) + " prompts; at most " + std::to_string(limits.max_prompts_per_request) +
               " per request");
}

generation_params shortfin_params(const json& sp, const std::string& where, const prompt_limits& limits) {
  if (!sp.is_object()) wrong_type(where.substr(0, where.size() - 1), "an object", sp);
  generation_params p;
  p.max_tokens = static_cast<int>(
      read_int(sp, "max_completion_tokens", where, limits.default_max_tokens, 1, new_tokens_cap(limits)));
  p.sampling.temperature = static_cast<float>(read_number(sp, "temperature", where, 0.0, 0.0, 100.0, false));
  p.sampling.top_k = static_cast<int>(read_int(sp, "top_k", where, 0, 0, limits.vocab_size));
  p.sampling.top_p = static_cast<float>(read_number(sp, "top_p", where, 1.0, 0.0, 1.0, true));
  p.sampling.seed = read_seed(sp, "seed", where);
  p.seed_given = present(sp, "seed");
  refuse_unknown_keys(sp,
                      {"max_completion_tokens", "temperature", "top_k", "top_p", "seed", "min_p", "presence_penalty",
                       "frequency_penalty", "repetition_penalty", "logit_bias", "stop_token_ids", "ignore_eos",
                       "cache_prompt", "grammar"},
                      where);
  read_sampling_extras(sp, where, limits, p);
  p.structured = read_structured_output({}, sp, where, false);
  return p;
}

generate_call generate_from(const json& doc, const prompt_limits& limits) {
  generate_call call;
  const bool has_text = present(doc, "text"), has_ids = present(doc, "input_ids");
  if (has_text == has_ids)
    reject(400, has_text ? "CONFLICTING_FIELDS" : "MISSING_FIELD",
           has_text ? "give exactly one of text and input_ids, not both" : "give exactly one of text and input_ids");

  if (has_text) {
    const json& t = doc.at("text");
    if (t.is_string()) {
      call.prompts.push_back(text_prompt(t.get<std::string>(), limits));
    } else if (t.is_array()) {
      if (t.empty()) reject(400, "OUT_OF_RANGE", "text: a batch needs at least one prompt");
      check_batch_size(t.size(), limits, "text");
      call.batch = true;
      for (std::size_t i = 0; i < t.size(); ++i) {
        if (!t[i].is_string()) wrong_type("text[" + std::to_string(i) + "]", "a string", t[i]);
        call.prompts.push_back(text_prompt(t[i].get<std::string>(), limits));
      }
    } else {
      wrong_type("text", "a string or a list of strings", t);
    }
  } else {
    const json& ids = doc.at("input_ids");
    if (!ids.is_array()) wrong_type("input_ids", "a list of token ids or a list of such lists", ids);
    if (!ids.empty() && ids.front().is_array()) {
      check_batch_size(ids.size(), limits, "input_ids");
      call.batch = true;
      for (std::size_t i = 0; i < ids.size(); ++i) {
        const std::string field = "input_ids[" + std::to_string(i) + "]";
        if (!ids[i].is_array()) wrong_type(field, "a list of token ids", ids[i]);
        call.prompts.push_back(id_prompt(ids[i], field, limits));
      }
    } else {
      call.prompts.push_back(id_prompt(ids, "input_ids", limits));
    }
  }
  const std::size_t n = call.prompts.size();

  // sampling_params: one object for all prompts, or a list with one per prompt.
  if (!present(doc, "sampling_params")) {
    call.params.assign(n, shortfin_params(json::object(), "sampling_params.", limits));
  } else if (doc.at("sampling_params").is_array()) {
    const json& list = doc.at("sampling_params");
    if (list.size() != n)
      reject(400, "OUT_OF_RANGE",
             "sampling_params: " + std::to_string(list.size()) + " entries for " + std::to_string(n) + " prompts");
    for (std::size_t i = 0; i < n; ++i)
      call.params.push_back(shortfin_params(list[i], "sampling_params[" + std::to_string(i) + "].", limits));
  } else {
    call.params.assign(n, shortfin_params(doc.at("sampling_params"), "sampling_params.", limits));
  }

  // rid: one string (a batch gets "<rid>-<i>") or a list with one per prompt.
  call.rids.assign(n, "");
  if (present(doc, "rid")) {
    const json& rid = doc.at("rid");
    if (rid.is_string()) {
      for (std::size_t i = 0; i < n; ++i)
        call.rids[i] = call.batch ? rid.get<std::string>() + "-" + std::to_string(i) : rid.get<std::string>();
    } else if (rid.is_array()) {
      if (rid.size() != n)
        reject(400, "OUT_OF_RANGE",
               "rid: " + std::to_string(rid.size()) + " ids for " + std::to_string(n) + " prompts");
      for (std::size_t i = 0; i < n; ++i) {
        if (!rid[i].is_string()) wrong_type("rid[" + std::to_string(i) + "]", "a string", rid[i]);
        call.rids[i] = rid[i].get<std::string>();
      }
    } else {
      wrong_type("rid", "a string or a list of strings", rid);
    }
    for (const auto& r : call.rids)
      if (r.size() > 256) reject(400, "OUT_OF_RANGE", "rid: longer than 256 characters");
  }

  const std::string salt = read_cache_salt(doc);
  for (auto& p : call.params) p.cache_salt = salt;
  call.stream = read_bool(doc, "stream", "", false);
  call.return_input_ids = read_bool(doc, "return_input_ids", "", false);
  for (std::size_t i = 0; i < n; ++i)
    check_context(call.prompts[i], call.params[i].max_tokens, limits,
                  call.batch ? (has_text ? "text[" : "input_ids[") + std::to_string(i) + "]"
                             : std::string(has_text ? "text" : "input_ids"));
  return call;
}

// Every OpenAI completions field (http/API.md lists their status) plus the vLLM and
// llama.cpp extensions the server honours; anything else is refused naming it.
void refuse_unknown_completion_keys(const json& doc) {
  refuse_unknown_keys(doc,
                      {"model",
                       "prompt",
                       "max_tokens",
                       "temperature",
                       "top_p",
                       "top_k",
                       "min_p",
                       "seed",
                       "n",
                       "best_of",
                       "echo",
                       "logprobs",
                       "stop",
                       "stop_token_ids",
                       "stream",
                       "stream_options",
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
}

void read_completion_sampling(const json& doc, const prompt_limits& limits, completion_call& call) {
  generation_params& p = call.params;
  p.max_tokens =
      static_cast<int>(read_int(doc, "max_tokens", "", limits.default_max_tokens, 1, new_tokens_cap(limits)));
  p.sampling.temperature = static_cast<float>(read_number(doc, "temperature", "", 1.0, 0.0, 2.0, false));
  p.sampling.top_p = static_cast<float>(read_number(doc, "top_p", "", 1.0, 0.0, 1.0, true));
  p.sampling.top_k = static_cast<int>(read_int(doc, "top_k", "", 0, 0, limits.vocab_size));
  p.sampling.seed = read_seed(doc, "seed", "");
  p.seed_given = present(doc, "seed");
  p.sampling.logprobs = static_cast<int32_t>(read_int(doc, "logprobs", "", -1, 0, max_top_logprobs));
  read_sampling_extras(doc, "", limits, p);
  p.n = read_choices(doc, limits, call.prompts.size());
  call.echo = read_bool(doc, "echo", "", false);  // with logprobs: the prompt's tokens are scored too
}

completion_call completion_from(const json& doc, const prompt_limits& limits) {
  refuse_unknown_completion_keys(doc);
  completion_call call;
  if (present(doc, "model")) {
    if (!doc.at("model").is_string()) wrong_type("model", "a string", doc.at("model"));
    call.model = doc.at("model").get<std::string>();
  }
  if (!present(doc, "prompt")) reject(400, "MISSING_FIELD", "prompt: required");
  const json& prompt = doc.at("prompt");
  if (prompt.is_string()) {
    call.prompts.push_back(text_prompt(prompt.get<std::string>(), limits));
  } else if (is_id_list(prompt)) {
    call.prompts.push_back(id_prompt(prompt, "prompt", limits));
  } else if (prompt.is_array() && !prompt.empty()) {
    check_batch_size(prompt.size(), limits, "prompt");
    for (std::size_t i = 0; i < prompt.size(); ++i) {
      const std::string field = "prompt[" + std::to_string(i) + "]";
      if (prompt[i].is_string())
        call.prompts.push_back(text_prompt(prompt[i].get<std::string>(), limits));
      else if (prompt[i].is_array())
        call.prompts.push_back(id_prompt(prompt[i], field, limits));
      else
        wrong_type(field, "a string or a list of token ids", prompt[i]);
    }
  } else if (prompt.is_array()) {
    reject(400, "OUT_OF_RANGE", "prompt: an empty list has no prompt");
  } else {
    wrong_type("prompt", "a string, a list of strings, or a list of token ids", prompt);
  }

  read_completion_sampling(doc, limits, call);
  call.params.cache_salt = read_cache_salt(doc);
  call.stream = read_bool(doc, "stream", "", false);
  call.stream_usage = read_include_usage(doc, call.stream);
  call.stop = read_stop(doc);
  for (std::size_t i = 0; i < call.prompts.size(); ++i)
    check_context(call.prompts[i], call.params.max_tokens, limits,
                  call.prompts.size() > 1 ? "prompt[" + std::to_string(i) + "]" : std::string("prompt"));
  return call;
}

}  // namespace

parse_result<generate_call> parse_generate(std::string_view body, const prompt_limits& limits) {
  return guarded<generate_call>(body, limits.body_limit, generate_from, limits);
}

parse_result<completion_call> parse_completion(std::string_view body, const prompt_limits& limits) {
  auto build = [body](const json& doc, const prompt_limits& l) {
    completion_call call = completion_from(doc, l);
    call.params.structured = read_structured_output(body, doc, "", true);
    return call;
  };
  return guarded<completion_call>(body, limits.body_limit, build, limits);
}

}  // namespace kvactor::http
