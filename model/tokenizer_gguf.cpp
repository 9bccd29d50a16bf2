#include "model/tokenizer_gguf.hpp"

#include <climits>

namespace kvactor {
namespace {

std::optional<int32_t> token_id(const gguf::reader& r, const std::string& key) {
  if (!r.find(key)) return std::nullopt;
  const uint64_t v = r.get_uint(key);  // a non-integer is named as such
  if (v > static_cast<uint64_t>(INT32_MAX))
    r.fail("metadata " + key + " = " + std::to_string(v) + " is not a token id");
  return static_cast<int32_t>(v);
}

std::optional<bool> flag(const gguf::reader& r, const std::string& key) {
  const gguf::value* v = r.find(key);
  if (!v) return std::nullopt;
  if (v->type != gguf::value_type::boolean)
    r.fail("metadata key '" + key + "' should be a bool but is " + gguf::value_type_name(v->type));
  return v->uint_value != 0;
}

std::string text(const gguf::reader& r, const std::string& key) {
  return r.find(key) ? r.get_string(key) : std::string();
}

}  // namespace

tokenizer tokenizer_from_gguf(const gguf::reader& r) {
  vocabulary_spec spec;
  if (r.find("tokenizer.ggml.model")) spec.model = r.get_string("tokenizer.ggml.model");
  spec.pre = text(r, "tokenizer.ggml.pre");
  spec.name = text(r, "general.name");
  spec.tokens = r.get_string_array("tokenizer.ggml.tokens");
  if (r.find("tokenizer.ggml.scores")) spec.scores = r.get_float_array("tokenizer.ggml.scores");
  if (r.find("tokenizer.ggml.token_type")) spec.types = r.get_int_array("tokenizer.ggml.token_type");
  if (spec.model == "gpt2" && r.find("tokenizer.ggml.merges"))
    spec.merges = r.get_string_array("tokenizer.ggml.merges");
  spec.bos = token_id(r, "tokenizer.ggml.bos_token_id");
  spec.eos = token_id(r, "tokenizer.ggml.eos_token_id");
  spec.unk = token_id(r, "tokenizer.ggml.unknown_token_id");
  spec.eot = token_id(r, "tokenizer.ggml.eot_token_id");
  spec.eom = token_id(r, "tokenizer.ggml.eom_token_id");
  spec.add_bos = flag(r, "tokenizer.ggml.add_bos_token");
  spec.add_eos = flag(r, "tokenizer.ggml.add_eos_token");
  spec.add_space_prefix = flag(r, "tokenizer.ggml.add_space_prefix");
  spec.chat_template = text(r, "tokenizer.chat_template");
  return tokenizer::from_vocabulary(r.path(), std::move(spec));
}

}  // namespace kvactor
