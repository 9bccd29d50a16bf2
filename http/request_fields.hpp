// The field readers every request parser shares (/generate, /v1/completions,
// /v1/chat/completions, /apply-template): each reads one JSON field, checks its type
// and range, and throws an api_error naming the field. Parsers call them inside
// `guarded`, which turns the throw into the returned value, so a validation rule
// stays one line and no parser repeats another's checks.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "http/api_error.hpp"
#include "http/request_parsing.hpp"

namespace kvactor::http::fields {

using nlohmann::json;

[[noreturn]] void reject(int status, const std::string& code, const std::string& message);
[[noreturn]] void wrong_type(const std::string& field, const char* expected, const json& got);

// The body as a JSON object: 413 over body_limit, 400 for invalid UTF-8 / JSON / non-object.
json parse_body(std::string_view body, std::size_t body_limit);

// Present and not null.
bool present(const json& obj, const char* key);
// `where` prefixes the key in messages ("sampling_params." -> "sampling_params.seed").
bool read_bool(const json& obj, const char* key, const std::string& where, bool fallback);
long long read_int(const json& obj, const char* key, const std::string& where, long long fallback, long long min,
                   long long max);
double read_number(const json& obj, const char* key, const std::string& where, double fallback, double min, double max,
                   bool min_exclusive);
uint64_t read_seed(const json& obj, const char* key, const std::string& where);
// "stop": a string or a list of at most 4 non-empty strings.
std::vector<std::string> read_stop(const json& obj);
// cache_salt (vLLM's name): optional, a string of 1 to 1024 bytes; "" when absent.
std::string read_cache_salt(const json& obj);
// stream_options.include_usage (false when absent); stream_options is refused unless `stream`,
// and any key of it but include_usage is refused.
bool read_include_usage(const json& obj, bool stream);

// The largest max_tokens a request may ask for: the context, or the server's cap if lower.
long long new_tokens_cap(const prompt_limits& limits);
// Text longer than max_bytes_per_token times a token limit cannot fit: refused unencoded.
void check_text_fits(const std::string& text, const prompt_limits& limits, const std::string& field);
// The encoded prompt plus max_tokens against the server's limit and the context.
void check_context(const prompt_input& p, int max_tokens, const prompt_limits& limits, const std::string& field);

// A key outside `known` is refused (400 UNSUPPORTED_FIELD naming it): a field the server
// does not honour is never silently ignored.
void refuse_unknown_keys(const json& obj, std::initializer_list<std::string_view> known, const std::string& where);
// A known field honoured only at its neutral value (n = 1, logprobs = false, ...):
// any other value is refused naming the field.
void refuse_unless_neutral(const json& obj, const char* key, const json& neutral, const std::string& why);

// Runs `build(doc, args...)` on the parsed body; an api_error or a JSON type error
// thrown inside comes back as the result's error.
template <class T, class F, class... Args>
std::variant<T, api_error> guarded(std::string_view body, std::size_t body_limit, F build, const Args&... args) {
  try {
    return build(parse_body(body, body_limit), args...);
  } catch (const api_error& e) {
    return e;
  } catch (const json::exception& e) {
    return api_error{400, "INVALID_TYPE", e.what(), 0, {}};
  }
}

}  // namespace kvactor::http::fields
