// What a chat request feeds the model: messages rendered by the chat template, then
// tokenized. The template is chosen once, at start: a --chat-template file, else the
// model's tokenizer.chat_template, else ChatML (what a model without a template gets).
// A template kvactor cannot render is refused then, with its line and construct, not
// on the first request.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace kvactor {
class tokenizer;
}

namespace kvactor::http {

// The template cannot be used at all (refused at start).
struct chat_template_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};
// This conversation cannot be rendered (a 400 at request time): raise_exception, or a
// template error only this input reaches.
struct chat_render_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// What rendering and tokenizing need from the vocabulary.
struct chat_vocabulary {
  std::string bos_text;  // GGUF form ("<s>", "<|begin_of_text|>")
  std::string eos_text;
  bool add_bos = true;  // the vocabulary's add_bos_token
  // text -> ids; add_bos: prepend BOS; parse_special: control-token text becomes its token.
  std::function<std::vector<int32_t>(const std::string& text, bool add_bos, bool parse_special)> encode;
};

class chat_prompt {
 public:
  // `template_source` empty: the ChatML fallback. `origin` says where the template came
  // from, for the log and error messages. Throws chat_template_error.
  chat_prompt(const std::string& template_source, std::string origin, chat_vocabulary vocab);
  ~chat_prompt();
  chat_prompt(chat_prompt&&) noexcept;
  chat_prompt& operator=(chat_prompt&&) noexcept;

  // messages: validated OpenAI messages (role, content string, ...). Throws chat_render_error.
  std::string render(const nlohmann::json& messages, bool add_generation_prompt) const;
  // The rendered text as ids, special tokens parsed (the template wrote them). A text that
  // starts with the BOS text gets exactly that one BOS; otherwise BOS as the vocabulary asks.
  std::vector<int32_t> tokenize(const std::string& rendered) const;

  bool is_chatml_fallback() const { return compiled_ == nullptr; }
  const std::string& origin() const { return origin_; }

 private:
  std::string render_checked(const nlohmann::json& messages, bool add_generation_prompt) const;  // throws jinja errors

  struct compiled;
  std::unique_ptr<compiled> compiled_;  // null: ChatML
  std::string origin_;
  chat_vocabulary vocab_;
};

// ChatML: "<|im_start|>role\ncontent<|im_end|>\n" per message, then "<|im_start|>assistant\n"
// when add_generation_prompt.
std::string render_chatml(const nlohmann::json& messages, bool add_generation_prompt);

// The server's chat prompt for this tokenizer: `template_file` when not empty (read here;
// an unreadable file is a chat_template_error), else the vocabulary's chat template, else
// ChatML.
chat_prompt chat_prompt_for(const tokenizer& tok, const std::string& template_file);

}  // namespace kvactor::http
