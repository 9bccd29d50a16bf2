#include "http/request_fields.hpp"

#include <algorithm>
#include <cmath>

#include "http/utf8.hpp"

namespace kvactor::http::fields {

[[noreturn]] void reject(int status, const std::string& code, const std::string& message) {
  api_error e{status, code, message, 0, {}};
  e.param = field_of(message);
  throw e;
}
[[noreturn]] void wrong_type(const std::string& field, const char* expected, const json& got) {
  reject(400, "INVALID_TYPE", field + ": expected " + expected + ", got " + std::string(got.type_name()));
}

json parse_body(std::string_view body, std::size_t body_limit) {
  if (body.size() > body_limit)
    reject(
        413, "BODY_TOO_LARGE",
        "request body of " + std::to_string(body.size()) + " bytes exceeds the limit of " + std::to_string(body_limit));
  const std::size_t bad = first_invalid_utf8(body);
  if (bad != body.size())
    reject(400, "INVALID_UTF8", "request body is not valid UTF-8 (byte " + std::to_string(bad) + ")");
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
    reject(
        400, "OUT_OF_RANGE",
        where + key + ": " + v.dump() + " is out of range [" + std::to_string(min) + ", " + std::to_string(max) + "]");
  const long long x = v.get<long long>();
  if (x < min || x > max)
    reject(
        400, "OUT_OF_RANGE",
        where + key + ": " + v.dump() + " is out of range [" + std::to_string(min) + ", " + std::to_string(max) + "]");
  return x;
}

double read_number(const json& obj, const char* key, const std::string& where, double fallback, double min, double max,
                   bool min_exclusive) {
  if (!present(obj, key)) return fallback;
  const json& v = obj.at(key);
  if (!v.is_number()) wrong_type(where + key, "a number", v);
  const double x = v.get<double>();
  if (!std::isfinite(x) || x > max || (min_exclusive ? x <= min : x < min))
    reject(400, "OUT_OF_RANGE",
           where + key + ": " + v.dump() + " is out of range " + (min_exclusive ? "(" : "[") + json(min).dump() + ", " +
               json(max).dump() + "]");
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

long long new_tokens_cap(const prompt_limits& limits) {
  return std::min<long long>(limits.max_seq_len, limits.max_new_tokens);
}

void check_context(const prompt_input& p, int max_tokens, const prompt_limits& limits, const std::string& field) {
  // Empty text on a vocabulary that adds no BOS (Qwen2, GPT-2) gives no token to start from.
  if (p.ids.empty()) reject(400, "OUT_OF_RANGE", field + ": the prompt has no tokens (this model adds no BOS)");
  if (static_cast<long long>(p.ids.size()) > limits.max_prompt_tokens)
    reject(400, "PROMPT_TOO_LONG",
           field + ": prompt of " + std::to_string(p.ids.size()) + " tokens is longer than the server's limit of " +
               std::to_string(limits.max_prompt_tokens) + " tokens");
  const long long need = static_cast<long long>(p.ids.size()) + max_tokens;
  if (static_cast<long long>(p.ids.size()) >= limits.max_seq_len)
    reject(400, "context_length_exceeded",
           field + ": prompt of " + std::to_string(p.ids.size()) + " tokens does not fit the context of " +
               std::to_string(limits.max_seq_len) + " tokens");
  if (need > limits.max_seq_len)
    reject(400, "context_length_exceeded",
           field + ": prompt of " + std::to_string(p.ids.size()) + " tokens plus " + std::to_string(max_tokens) +
               " new tokens exceeds the context of " + std::to_string(limits.max_seq_len) + " tokens");
}

std::vector<std::string> read_stop(const json& obj) {
  std::vector<std::string> out;
  if (!present(obj, "stop")) return out;
  const json& stop = obj.at("stop");
  if (stop.is_string()) {
    out.push_back(stop.get<std::string>());
  } else if (stop.is_array()) {
    if (stop.size() > 4) reject(400, "OUT_OF_RANGE", "stop: at most 4 sequences");
    for (std::size_t i = 0; i < stop.size(); ++i) {
      if (!stop[i].is_string()) wrong_type("stop[" + std::to_string(i) + "]", "a string", stop[i]);
      out.push_back(stop[i].get<std::string>());
    }
  } else {
    wrong_type("stop", "a string or a list of strings", stop);
  }
  for (const auto& s : out)
    if (s.empty()) reject(400, "OUT_OF_RANGE", "stop: sequences must not be empty");
  return out;
}

std::string read_cache_salt(const json& obj) {
  if (!present(obj, "cache_salt")) return {};
  const json& v = obj.at("cache_salt");
  if (!v.is_string()) wrong_type("cache_salt", "a string", v);
  std::string salt = v.get<std::string>();
  if (salt.empty() || salt.size() > 1024) reject(400, "OUT_OF_RANGE", "cache_salt: must be 1 to 1024 bytes");
  return salt;
}

bool read_include_usage(const json& obj, bool stream) {
  if (!present(obj, "stream_options")) return false;
  if (!stream) reject(400, "INVALID_TYPE", "stream_options: only allowed when stream is true");
  const json& so = obj.at("stream_options");
  if (!so.is_object()) wrong_type("stream_options", "an object", so);
  refuse_unknown_keys(so, {"include_usage"}, "stream_options.");
  return read_bool(so, "include_usage", "stream_options.", false);
}

void check_text_fits(const std::string& text, const prompt_limits& limits, const std::string& field) {
  if (limits.max_bytes_per_token == 0) return;
  // Every token covers at most max_bytes_per_token bytes, so a text longer than that many
  // bytes per allowed token must encode to more tokens than allowed: refuse it unencoded.
  const auto too_long = [&](long long tokens) {
    return text.size() / limits.max_bytes_per_token > static_cast<std::size_t>(std::max(tokens, 0LL));
  };
  const auto refuse = [&](const char* code, long long tokens, const char* what) {
    reject(400, code,
           field + ": " + std::to_string(text.size()) + " bytes of text cannot fit " + what + " of " +
               std::to_string(tokens) + " tokens (a token covers at most " +
               std::to_string(limits.max_bytes_per_token) + " bytes)");
  };
  if (too_long(limits.max_prompt_tokens)) refuse("PROMPT_TOO_LONG", limits.max_prompt_tokens, "the server's limit");
  if (too_long(limits.max_seq_len)) refuse("context_length_exceeded", limits.max_seq_len, "the context");
}

void refuse_unknown_keys(const json& obj, std::initializer_list<std::string_view> known, const std::string& where) {
  for (const auto& item : obj.items()) {
    if (std::find(known.begin(), known.end(), item.key()) == known.end())
      reject(400, "UNSUPPORTED_FIELD", where + item.key() + ": not supported by this server");
  }
}

void refuse_unless_neutral(const json& obj, const char* key, const json& neutral, const std::string& why) {
  if (present(obj, key) && obj.at(key) != neutral)
    reject(400, "UNSUPPORTED_FIELD", std::string(key) + ": " + why + " (got " + obj.at(key).dump() + ")");
}

}  // namespace kvactor::http::fields
