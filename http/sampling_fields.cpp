#include "http/sampling_fields.hpp"

#include <cstdlib>

#include "http/request_fields.hpp"

namespace kvactor::http::fields {
namespace {

void read_logit_bias(const json& obj, const std::string& where, const prompt_limits& limits, sampling_params& s) {
  if (!present(obj, "logit_bias")) return;
  const json& bias = obj.at("logit_bias");
  const std::string field = where + "logit_bias";
  if (!bias.is_object()) wrong_type(field, "an object mapping token ids to numbers", bias);
  if (bias.size() > 1024) reject(400, "OUT_OF_RANGE", field + ": at most 1024 entries");
  for (const auto& item : bias.items()) {
    const std::string& key = item.key();
    char* end = nullptr;
    const long long id = key.empty() ? -1 : std::strtoll(key.c_str(), &end, 10);
    if (key.empty() || *end != '\0' || key.size() > 12)
      reject(400, "INVALID_TYPE", field + ": key \"" + key + "\" is not a token id");
    if (id < 0 || id >= limits.vocab_size)
      reject(400, "TOKEN_OUT_OF_VOCABULARY",
             field + "." + key + ": token id is outside the vocabulary [0, " + std::to_string(limits.vocab_size) + ")");
    const double v = read_number(bias, key.c_str(), field + ".", 0.0, -100.0, 100.0, false);
    s.bias_ids.push_back(static_cast<int32_t>(id));
    s.bias_values.push_back(static_cast<float>(v));
  }
}

std::vector<int32_t> read_token_ids(const json& obj, const char* key, const std::string& where,
                                    const prompt_limits& limits) {
  std::vector<int32_t> out;
  if (!present(obj, key)) return out;
  const json& list = obj.at(key);
  const std::string field = where + key;
  if (!list.is_array()) wrong_type(field, "a list of token ids", list);
  if (list.size() > 64) reject(400, "OUT_OF_RANGE", field + ": at most 64 token ids");
  for (std::size_t i = 0; i < list.size(); ++i) {
    const json& t = list[i];
    const std::string at = field + "[" + std::to_string(i) + "]";
    if (!t.is_number_integer()) wrong_type(at, "a token id (integer)", t);
    const bool in_vocab = t.is_number_unsigned()
                              ? t.get<unsigned long long>() < static_cast<unsigned>(limits.vocab_size)
                              : t.get<long long>() >= 0 && t.get<long long>() < limits.vocab_size;
    if (!in_vocab)
      reject(
          400, "TOKEN_OUT_OF_VOCABULARY",
          at + ": token id " + t.dump() + " is outside the vocabulary [0, " + std::to_string(limits.vocab_size) + ")");
    out.push_back(static_cast<int32_t>(t.get<long long>()));
  }
  return out;
}

}  // namespace

void read_sampling_extras(const json& obj, const std::string& where, const prompt_limits& limits,
                          generation_params& p) {
  sampling_params& s = p.sampling;
  s.presence_penalty = static_cast<float>(read_number(obj, "presence_penalty", where, 0.0, -2.0, 2.0, false));
  s.frequency_penalty = static_cast<float>(read_number(obj, "frequency_penalty", where, 0.0, -2.0, 2.0, false));
  s.repetition_penalty = static_cast<float>(read_number(obj, "repetition_penalty", where, 1.0, 0.0, 10.0, true));
  s.min_p = static_cast<float>(read_number(obj, "min_p", where, 0.0, 0.0, 1.0, false));
  read_logit_bias(obj, where, limits, s);
  p.stop_token_ids = read_token_ids(obj, "stop_token_ids", where, limits);
  p.ignore_eos = read_bool(obj, "ignore_eos", where, false);
  p.cache_prompt = read_bool(obj, "cache_prompt", where, true);
}

int read_choices(const json& obj, const prompt_limits& limits, std::size_t prompts) {
  const long long n = read_int(obj, "n", "", 1, 1, max_choices);
  if (present(obj, "best_of") && read_int(obj, "best_of", "", 1, 1, max_choices) != 1)
    reject(400, "UNSUPPORTED_FIELD", "best_of: only 1 is supported (the server does not rank candidates; use n)");
  if (static_cast<long long>(prompts) * n > limits.max_prompts_per_request)
    reject(400, "OUT_OF_RANGE",
           "n: " + std::to_string(prompts) + " prompts times n = " + std::to_string(n) + " choices; at most " +
               std::to_string(limits.max_prompts_per_request) + " per request");
  return static_cast<int>(n);
}

}  // namespace kvactor::http::fields
