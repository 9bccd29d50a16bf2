// POST bodies for /generate and /v1/completions through the server's own parsing
// and validation (http/request_parsing), with the stories260K tokenizer and limits.
// First byte: which endpoint; the rest is the body. Whatever the body, the answer
// is a typed call within the limits or a 4xx api_error; nothing else escapes.
#include <string>
#include <string_view>
#include <variant>

#include "fuzz/fuzz_target.hpp"
#include "http/request_parsing.hpp"
#include "model/tokenizer.hpp"

namespace {

using namespace kvactor::http;

const prompt_limits& stories_limits() {
  static const kvactor::tokenizer tok = kvactor::tokenizer::load_llama2c(KVACTOR_MODELS_DIR "/tok512.bin", 512);
  static const prompt_limits limits = [] {
    prompt_limits l;
    l.vocab_size = tok.vocab_size();
    l.max_seq_len = 512;
    l.default_max_tokens = 16;
    l.body_limit = 64 * 1024;  // smaller than the server's default so the 413 path is reachable
    l.encode = [](const std::string& text) { return tok.encode(text, true, false); };
    l.decode = [](const std::vector<int32_t>& ids) { return tok.decode(ids); };
    return l;
  }();
  return limits;
}

void check_error(const api_error& e) {
  FUZZ_CHECK(e.status >= 400 && e.status < 500, "a bad body must be a client error");
  FUZZ_CHECK(!e.code.empty() && !e.message.empty(), "an error needs a code and a message");
}

void check_prompt(const prompt_input& p, const generation_params& g, const prompt_limits& l) {
  FUZZ_CHECK(!p.ids.empty(), "an accepted prompt has tokens");
  for (int32_t id : p.ids) FUZZ_CHECK(id >= 0 && id < l.vocab_size, "accepted id outside the vocabulary");
  FUZZ_CHECK(g.max_tokens >= 0, "negative max_tokens accepted");
  FUZZ_CHECK(static_cast<long long>(p.ids.size()) + g.max_tokens <= l.max_seq_len,
             "prompt + max_tokens exceeds max_seq_len");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const prompt_limits& limits = stories_limits();
  const std::string_view body(reinterpret_cast<const char*>(data + 1), size - 1);
  if (data[0] & 1) {
    auto result = parse_completion(body, limits);
    if (auto* e = std::get_if<api_error>(&result)) return check_error(*e), 0;
    const auto& call = std::get<completion_call>(result);
    FUZZ_CHECK(!call.prompts.empty(), "an accepted completion has a prompt");
    for (const auto& p : call.prompts) check_prompt(p, call.params, limits);
  } else {
    auto result = parse_generate(body, limits);
    if (auto* e = std::get_if<api_error>(&result)) return check_error(*e), 0;
    const auto& call = std::get<generate_call>(result);
    FUZZ_CHECK(!call.prompts.empty(), "an accepted generate call has a prompt");
    FUZZ_CHECK(call.params.size() == call.prompts.size() && call.rids.size() == call.prompts.size(),
               "one params and one rid per prompt");
    for (size_t i = 0; i < call.prompts.size(); ++i) check_prompt(call.prompts[i], call.params[i], limits);
  }
  return 0;
}
