#include "http/request_parsing.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include <nlohmann/json.hpp>

#include "http/utf8.hpp"

namespace kvactor::http {
namespace {

using nlohmann::json;

// Validation failures are thrown as api_error inside this file and returned as a
// value at its edge: each rule stays one line.
[[noreturn]] void reject(int status, const std::string& code, const std::string& message) {
  throw api_error{status, code, message, 0, {}};
}
[[noreturn]] void wrong_type(const std::string& field, const char* expected, const json& got) {
  reject(400, "INVALID_TYPE", field + ": expected " + expected + ", got " + std::string(got.type_name()));
}

json parse_body(std::string_view body, std::size_t body_limit) {
  if (body.size() > body_limit)
    reject(413, "BODY_TOO_LARGE", "request body of " + std::to_string(body.size()) + " bytes exceeds the limit of " +
                                      std::to_string(body_limit));
  const std::size_t bad = first_invalid_utf8(body);
  if (bad != body.size()) reject(400, "INVALID_UTF8", "request body is not valid UTF-8 (byte " + std::to_string(bad) + ")");
  json doc = json::parse(body.begin(), body.end(), nullptr, false);
  if (doc.is_discarded()) reject(400, "INVALID_JSON", "request body is not valid JSON");
  if (!doc.is_object()) reject(400, "INVALID_JSON", "request body must be a JSON object");
  return doc;
}

bool present(const json& obj, const char* key) { return obj.contains(key) && !obj.at(key).is_null(); }

bool read_bool(const json& obj, const char* key, const std::string& where, bool fallback) {
  if (!present(obj, key)) return fallback;
  const json& v = obj.at(key);
  if (!v.is_boolean()) wrong_type(where + key, "a boolean", v);
  return v.get<bool>();
}

long long read_int(const json& obj, const char* key, const std::string& where, long long fallback, long long min,
                   long long max) {
  if (!present(obj, key)) return fallback;
  const json& v = obj.at(key);
  if (!v.is_number_integer()) wrong_type(where + key, "an integer", v);
  if (v.is_number_unsigned() && v.get<unsigned long long>() > static_cast<unsigned long long>(max))
    reject(400, "OUT_OF_RANGE", where + key + ": " + v.dump() + " is out of range [" + std::to_string(min) + ", " +
                                    std::to_string(max) + "]");
  const long long x = v.get<long long>();
  if (x < min || x > max)
    reject(400, "OUT_OF_RANGE", where + key + ": " + v.dump() + " is out of range [" + std::to_string(min) + ", " +
                                    std::to_string(max) + "]");
  return x;
}

double read_number(const json& obj, const char* key, const std::string& where, double fallback, double min,
                   double max, bool min_exclusive) {
  if (!present(obj, key)) return fallback;
  const json& v = obj.at(key);
  if (!v.is_number()) wrong_type(where + key, "a number", v);
  const double x = v.get<double>();
  if (!std::isfinite(x) || x > max || (min_exclusive ? x <= min : x < min))
    reject(400, "OUT_OF_RANGE", where + key + ": " + v.dump() + " is out of range " + (min_exclusive ? "(" : "[") +
                                    json(min).dump() + ", " + json(max).dump() + "]");
  return x;
}

uint64_t read_seed(const json& obj, const char* key, const std::string& where) {
  if (!present(obj, key)) return 0;
  const json& v = obj.at(key);
  if (!v.is_number_integer()) wrong_type(where + key, "an integer", v);
  if (!v.is_number_unsigned() && v.get<long long>() < 0)
    reject(400, "OUT_OF_RANGE", where + key + ": must not be negative");
  return v.get<uint64_t>();
}

prompt_input text_prompt(const std::string& text, const prompt_limits& limits) {
  prompt_input p;
  p.text = text;
  if (limits.max_bytes_per_token > 0) {
    // Every token covers at most max_bytes_per_token bytes, so a text longer than that many
    // bytes per allowed token must encode to more tokens than allowed: refuse it unencoded.
    const auto too_long = [&](long long tokens) {
      return text.size() / limits.max_bytes_per_token > static_cast<std::size_t>(std::max(tokens, 0LL));
    };
    const auto refuse = [&](const char* code, long long tokens, const char* what) {
      reject(400, code, "prompt: " + std::to_string(text.size()) + " bytes of text cannot fit " + what + " of " +
                            std::to_string(tokens) + " tokens (a token covers at most " +
                            std::to_string(limits.max_bytes_per_token) + " bytes)");
    };
    if (too_long(limits.max_prompt_tokens)) refuse("PROMPT_TOO_LONG", limits.max_prompt_tokens, "the server's limit");
    if (too_long(limits.max_seq_len)) refuse("CONTEXT_LENGTH_EXCEEDED", limits.max_seq_len, "the context");
  }
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
    const bool in_vocab = t.is_number_unsigned() ? t.get<unsigned long long>() < static_cast<unsigned>(limits.vocab_size)
                                                 : t.get<long long>() >= 0 && t.get<long long>() < limits.vocab_size;
    if (!in_vocab)
      reject(400, "TOKEN_OUT_OF_VOCABULARY", field + "[" + std::to_string(i) + "]: token id " + t.dump() +
                                                 " is outside the vocabulary [0, " + std::to_string(limits.vocab_size) +
                                                 ")");
    p.ids.push_back(static_cast<int32_t>(t.get<long long>()));
  }
  p.text = limits.decode(p.ids);
  return p;
}

bool is_id_list(const json& v) { return v.is_array() && !v.empty() && v.front().is_number(); }

// The largest max_tokens a request may ask for: the context, or the server's cap if lower.
long long new_tokens_cap(const prompt_limits& limits) {
  return std::min<long long>(limits.max_seq_len, limits.max_new_tokens);
}

void check_batch_size(std::size_t n, const prompt_limits& limits, const std::string& field) {
  if (n > static_cast<std::size_t>(limits.max_prompts_per_request))
    reject(400, "OUT_OF_RANGE", field + ": " + std::to_string(n) + " prompts; at most " +
                                    std::to_string(limits.max_prompts_per_request) + " per request");
}

void check_context(const prompt_input& p, int max_tokens, const prompt_limits& limits, const std::string& field) {
  // Empty text on a vocabulary that adds no BOS (Qwen2, GPT-2) gives no token to start from.
  if (p.ids.empty()) reject(400, "OUT_OF_RANGE", field + ": the prompt has no tokens (this model adds no BOS)");
  if (static_cast<long long>(p.ids.size()) > limits.max_prompt_tokens)
    reject(400, "PROMPT_TOO_LONG", field + ": prompt of " + std::to_string(p.ids.size()) +
                                       " tokens is longer than the server's limit of " +
                                       std::to_string(limits.max_prompt_tokens) + " tokens");
  const long long need = static_cast<long long>(p.ids.size()) + max_tokens;
  if (static_cast<long long>(p.ids.size()) >= limits.max_seq_len)
    reject(400, "CONTEXT_LENGTH_EXCEEDED", field + ": prompt of " + std::to_string(p.ids.size()) +
                                               " tokens does not fit the context of " +
                                               std::to_string(limits.max_seq_len) + " tokens");
  if (need > limits.max_seq_len)
    reject(400, "CONTEXT_LENGTH_EXCEEDED", field + ": prompt of " + std::to_string(p.ids.size()) + " tokens plus " +
                                               std::to_string(max_tokens) + " new tokens exceeds the context of " +
                                               std::to_string(limits.max_seq_len) + " tokens");
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
      reject(400, "OUT_OF_RANGE", "sampling_params: " + std::to_string(list.size()) + " entries for " +
                                      std::to_string(n) + " prompts");
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
        reject(400, "OUT_OF_RANGE", "rid: " + std::to_string(rid.size()) + " ids for " + std::to_string(n) + " prompts");
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

  call.stream = read_bool(doc, "stream", "", false);
  call.return_input_ids = read_bool(doc, "return_input_ids", "", false);
  for (std::size_t i = 0; i < n; ++i)
    check_context(call.prompts[i], call.params[i].max_tokens, limits,
                  call.batch ? (has_text ? "text[" : "input_ids[") + std::to_string(i) + "]"
                             : std::string(has_text ? "text" : "input_ids"));
  return call;
}

completion_call completion_from(const json& doc, const prompt_limits& limits) {
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

  call.params.max_tokens = static_cast<int>(read_int(doc, "max_tokens", "", limits.default_max_tokens, 1, new_tokens_cap(limits)));
  call.params.sampling.temperature = static_cast<float>(read_number(doc, "temperature", "", 1.0, 0.0, 2.0, false));
  call.params.sampling.top_p = static_cast<float>(read_number(doc, "top_p", "", 1.0, 0.0, 1.0, true));
  call.params.sampling.top_k = static_cast<int>(read_int(doc, "top_k", "", 0, 0, limits.vocab_size));
  call.params.sampling.seed = read_seed(doc, "seed", "");
  if (read_int(doc, "n", "", 1, 1, 1) != 1) reject(400, "UNSUPPORTED", "n: only 1 is supported");
  if (read_bool(doc, "echo", "", false)) reject(400, "UNSUPPORTED", "echo: not supported");
  call.stream = read_bool(doc, "stream", "", false);
  if (present(doc, "stream_options")) {
    const json& so = doc.at("stream_options");
    if (!so.is_object()) wrong_type("stream_options", "an object", so);
    call.stream_usage = read_bool(so, "include_usage", "stream_options.", false);
  }

  if (present(doc, "stop")) {
    const json& stop = doc.at("stop");
    if (stop.is_string()) {
      call.stop.push_back(stop.get<std::string>());
    } else if (stop.is_array()) {
      if (stop.size() > 4) reject(400, "OUT_OF_RANGE", "stop: at most 4 sequences");
      for (std::size_t i = 0; i < stop.size(); ++i) {
        if (!stop[i].is_string()) wrong_type("stop[" + std::to_string(i) + "]", "a string", stop[i]);
        call.stop.push_back(stop[i].get<std::string>());
      }
    } else {
      wrong_type("stop", "a string or a list of strings", stop);
    }
    for (const auto& s : call.stop)
      if (s.empty()) reject(400, "OUT_OF_RANGE", "stop: sequences must not be empty");
  }
  for (std::size_t i = 0; i < call.prompts.size(); ++i)
    check_context(call.prompts[i], call.params.max_tokens, limits,
                  call.prompts.size() > 1 ? "prompt[" + std::to_string(i) + "]" : std::string("prompt"));
  return call;
}

template <class T, class F>
parse_result<T> guarded(std::string_view body, const prompt_limits& limits, F build) {
  try {
    return build(parse_body(body, limits.body_limit), limits);
  } catch (const api_error& e) {
    return e;
  } catch (const json::exception& e) {
    return api_error{400, "INVALID_TYPE", e.what(), 0, {}};
  }
}

}  // namespace

parse_result<generate_call> parse_generate(std::string_view body, const prompt_limits& limits) {
  return guarded<generate_call>(body, limits, generate_from);
}

parse_result<completion_call> parse_completion(std::string_view body, const prompt_limits& limits) {
  return guarded<completion_call>(body, limits, completion_from);
}

}  // namespace kvactor::http
