#include "http/chat_prompt.hpp"

#include <fstream>
#include <sstream>

#include "model/tokenizer.hpp"

namespace kvactor::http {

using nlohmann::json;

struct chat_prompt::compiled {};

chat_prompt::chat_prompt(const std::string& template_source, std::string origin, chat_vocabulary vocab)
    : origin_(std::move(origin)), vocab_(std::move(vocab)) {
  if (!template_source.empty())
    throw chat_template_error(origin_ + ": Jinja chat templates are not supported yet");
}

chat_prompt::~chat_prompt() = default;
chat_prompt::chat_prompt(chat_prompt&&) noexcept = default;
chat_prompt& chat_prompt::operator=(chat_prompt&&) noexcept = default;

std::string chat_prompt::render(const json& messages, bool add_generation_prompt) const {
  return render_chatml(messages, add_generation_prompt);
}

std::vector<int32_t> chat_prompt::tokenize(const std::string& rendered) const {
  const bool starts_with_bos =
      !vocab_.bos_text.empty() && rendered.compare(0, vocab_.bos_text.size(), vocab_.bos_text) == 0;
  return vocab_.encode(rendered, vocab_.add_bos && !starts_with_bos, true);
}

std::string render_chatml(const json& messages, bool add_generation_prompt) {
  std::string out;
  for (const auto& m : messages) {
    const json& content = m.contains("content") ? m.at("content") : json();
    out += "<|im_start|>" + m.at("role").get<std::string>() + "\n" +
           (content.is_string() ? content.get<std::string>() : std::string()) + "<|im_end|>\n";
  }
  if (add_generation_prompt) out += "<|im_start|>assistant\n";
  return out;
}

namespace {

std::string read_template_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw chat_template_error("chat_template: cannot read " + path);
  std::ostringstream text;
  text << in.rdbuf();
  if (text.str().empty()) throw chat_template_error("chat_template: " + path + " is empty");
  return text.str();
}

// llama2.c's tokenizer.bin spells BOS "\n<s>\n": the GGUF form has no newlines.
std::string token_text(const tokenizer& tok, int32_t id) {
  std::string s = tok.piece(id);
  while (!s.empty() && (s.front() == '\n' || s.front() == ' ')) s.erase(s.begin());
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

}  // namespace

chat_prompt chat_prompt_for(const tokenizer& tok, const std::string& template_file) {
  chat_vocabulary vocab;
  vocab.bos_text = token_text(tok, tok.bos_id());
  vocab.eos_text = token_text(tok, tok.eos_id());
  vocab.add_bos = true;
  vocab.encode = [&tok](const std::string& text, bool add_bos, bool /*parse_special*/) {
    return tok.encode(text, add_bos, false);
  };
  if (!template_file.empty())
    return chat_prompt(read_template_file(template_file), "chat template " + template_file, std::move(vocab));
  return chat_prompt("", "ChatML (the model has no chat template)", std::move(vocab));
}

}  // namespace kvactor::http
