#include "http/chat_prompt.hpp"

#include <fstream>
#include <sstream>

#include "model/tokenizer.hpp"
#include "template/jinja_template.hpp"

namespace kvactor::http {

using nlohmann::json;

struct chat_prompt::compiled {
  jinja::template_program program;
};

namespace {

// A conversation every chat template must be able to render: tried at start, so a
// construct the engine lacks (a filter, a method) is found then, not on a user's request.
const json sample_conversation = json::array({{{"role", "system"}, {"content", "You are helpful."}},
                                              {{"role", "user"}, {"content", "Hello."}},
                                              {{"role", "assistant"}, {"content", "Hi there."}},
                                              {{"role", "user"}, {"content", "Tell me a story."}}});

}  // namespace

chat_prompt::chat_prompt(const std::string& template_source, std::string origin, chat_vocabulary vocab)
    : origin_(std::move(origin)), vocab_(std::move(vocab)) {
  if (template_source.empty()) return;
  try {
    compiled_ = std::make_unique<compiled>(compiled{jinja::template_program::parse(template_source)});
  } catch (const jinja::template_error& e) {
    throw chat_template_error(origin_ + ": cannot be used: " + e.what());
  }
  for (const json& messages : {sample_conversation, json(sample_conversation.begin() + 1, sample_conversation.end())}) {
    try {
      render_checked(messages, true);
      return;  // one of the sample conversations renders: the template is usable
    } catch (const jinja::raised_error&) {
      // The template refuses this conversation (e.g. no system role): try the next one.
    } catch (const jinja::template_error& e) {
      throw chat_template_error(origin_ + ": cannot be rendered: " + e.what());
    }
  }
}

std::string chat_prompt::render_checked(const json& messages, bool add_generation_prompt) const {
  const json context = {{"messages", messages},
                        {"add_generation_prompt", add_generation_prompt},
                        {"bos_token", vocab_.bos_text},
                        {"eos_token", vocab_.eos_text}};
  return compiled_->program.render(context);
}

chat_prompt::~chat_prompt() = default;
chat_prompt::chat_prompt(chat_prompt&&) noexcept = default;
chat_prompt& chat_prompt::operator=(chat_prompt&&) noexcept = default;

std::string chat_prompt::render(const json& messages, bool add_generation_prompt) const {
  if (!compiled_) return render_chatml(messages, add_generation_prompt);
  try {
    return render_checked(messages, add_generation_prompt);
  } catch (const jinja::raised_error& e) {
    throw chat_render_error(e.message());
  } catch (const jinja::template_error& e) {
    throw chat_render_error(e.what());
  }
}

std::vector<int32_t> chat_prompt::tokenize(const std::string& rendered) const {
  const bool starts_with_bos =
      !vocab_.bos_text.empty() && rendered.compare(0, vocab_.bos_text.size(), vocab_.bos_text) == 0;
  // The template's BOS becomes the BOS id whatever the vocabulary's spelling of it (llama2.c's
  // is "\n<s>\n"), and no second one is added.
  if (starts_with_bos) return vocab_.encode(rendered.substr(vocab_.bos_text.size()), true, true);
  return vocab_.encode(rendered, vocab_.add_bos, true);
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

namespace {

// The GGUF form of a special token; llama2.c's tokenizer.bin spells BOS "\n<s>\n".
std::string special_text(const tokenizer& tok, int32_t id) {
  if (id < 0) return {};
  std::string s = tok.token_text(id);
  const auto first = s.find_first_not_of('\n'), last = s.find_last_not_of('\n');
  return first == std::string::npos ? s : s.substr(first, last - first + 1);
}

}  // namespace

chat_prompt chat_prompt_for(const tokenizer& tok, const std::string& template_file) {
  chat_vocabulary vocab;
  vocab.bos_text = special_text(tok, tok.bos_id());
  vocab.eos_text = special_text(tok, tok.eos_id());
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
