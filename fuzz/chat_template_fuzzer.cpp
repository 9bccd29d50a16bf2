// Chat templates come from model files and --chat-template: the Jinja engine must refuse any bytes
// with a template_error (never a crash, a hang or another exception), and render what it accepts.
// The input is the template source; it is rendered with one small conversation.
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "fuzz/fuzz_target.hpp"
#include "template/jinja_template.hpp"

namespace {

const nlohmann::ordered_json& conversation() {
  static const auto context = nlohmann::ordered_json::parse(R"({
    "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi é"},
                 {"role": "assistant", "content": "Hello", "tool_calls": [{"function": {"name": "f", "arguments": {"a": 1}}}]},
                 {"role": "tool", "content": "42"}],
    "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}],
    "add_generation_prompt": true, "bos_token": "<s>", "eos_token": "</s>"})");
  return context;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 16384) return 0;  // templates are a few KiB; bigger inputs only slow the search
  const std::string_view source(reinterpret_cast<const char*>(data), size);
  namespace jinja = kvactor::jinja;
  try {
    const auto program = jinja::template_program::parse(source);
    try {
      const std::string out = program.render(conversation());
      FUZZ_CHECK(out.size() < (64u << 20), "a render larger than 64 MiB");
    } catch (const jinja::template_error& e) {
      FUZZ_CHECK(e.line() >= 0, "a render error without a line");
    }
  } catch (const jinja::template_error& e) {
    FUZZ_CHECK(e.line() >= 1, "a parse error without a line");
    FUZZ_CHECK(std::string(e.what()).rfind("line ", 0) == 0,
               "a parse error whose message does not start with the line");
  }
  return 0;
}
