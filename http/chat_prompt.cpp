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

}  // namespace

chat_prompt chat_prompt_for(const tokenizer& tok, const std::string& template_file) {
  chat_vocabulary vocab;
  vocab.bos_text = tok.bos_id() >= 0 ? tok.token_text(tok.bos_id()) : std::string();
  vocab.eos_text = tok.eos_id() >= 0 ? tok.token_text(tok.eos_id()) : std::string();
  vocab.add_bos = tok.add_bos();
  vocab.encode = [&tok](const std::string& text, bool add_bos, bool parse_special) {
    // BOS by the caller's decision only (it knows whether the template wrote one); never EOS.
    std::vector<int32_t> ids = tok.tokenize(text, false, parse_special);
    if (add_bos) ids.insert(ids.begin(), tok.bos_id());
    return ids;
  };
  if (!template_file.empty())
    return chat_prompt(read_template_file(template_file), "chat template " + template_file, std::move(vocab));
  if (!tok.chat_template().empty())
    return chat_prompt(tok.chat_template(), "the model's tokenizer.chat_template", std::move(vocab));
  return chat_prompt("", "ChatML (the model has no chat template)", std::move(vocab));
}

}  // namespace kvactor::http
