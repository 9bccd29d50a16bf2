// /v1/chat/completions and /apply-template bodies -> typed calls or typed errors, the
// ChatML fallback, and the chat response / chunk shapes, without a socket.
#include <doctest/doctest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>

#include <nlohmann/json.hpp>

#include "http/chat_request.hpp"
#include "http/response_json.hpp"
#include "model/tokenizer.hpp"

using namespace kvactor::http;
using nlohmann::json;

namespace {

const kvactor::tokenizer& tok512() {
  static const auto t = kvactor::tokenizer::load_llama2c(std::string(KVACTOR_MODELS_DIR) + "/tok512.bin", 512);
  return t;
}

prompt_limits limits() {
  prompt_limits l;
  l.vocab_size = 512;
  l.max_seq_len = 256;
  l.default_max_tokens = 8;
  l.body_limit = 8192;
  l.max_bytes_per_token = 16;
  l.encode = [](const std::string& s) { return tok512().encode(s, true, false); };
  l.decode = [](const std::vector<int32_t>& ids) { return tok512().decode(ids); };
  return l;
}

const chat_prompt& chatml() {
  static const chat_prompt p = chat_prompt_for(tok512(), "");
  return p;
}

api_error chat_error(const std::string& body) {
  auto r = parse_chat_completion(body, limits(), chatml());
  REQUIRE_MESSAGE(std::holds_alternative<api_error>(r), body);
  return std::get<api_error>(r);
}

chat_call chat_ok(const std::string& body) {
  auto r = parse_chat_completion(body, limits(), chatml());
  if (auto* e = std::get_if<api_error>(&r)) FAIL(body << " -> " << e->code << ": " << e->message);
  return std::get<chat_call>(r);
}

}  // namespace

TEST_CASE("chat: ChatML fallback renders every message and the generation prompt") {
  CHECK(chatml().is_chatml_fallback());
  const json messages =
      json::array({{{"role", "system"}, {"content", "Be brief."}}, {{"role", "user"}, {"content", "Hi"}}});
  CHECK(render_chatml(messages, true) ==
        "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
  CHECK(render_chatml(messages, false) == "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n");
}

TEST_CASE("chat: a good request is rendered, tokenized once with one BOS, and its fields read") {
  const chat_call c = chat_ok(
      R"({"model":"m","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":[{"type":"text","text":"Once"},{"type":"text","text":"upon"}]}],
          "max_completion_tokens":5,"temperature":0.5,"top_p":0.9,"seed":7,"stop":["."],"stream":true,
          "stream_options":{"include_usage":true},"n":1,"logprobs":false,"presence_penalty":0,"frequency_penalty":0.0})");
  CHECK(c.model == "m");
  CHECK(c.prompt.text ==
        "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nOnce\nupon<|im_end|>\n<|im_start|>assistant\n");
  CHECK(c.prompt.ids == tok512().encode(c.prompt.text, true, false));
  CHECK(std::count(c.prompt.ids.begin(), c.prompt.ids.end(), tok512().bos_id()) == 1);
  CHECK(c.messages[1]["content"] == "Once\nupon");
  CHECK(c.params.max_tokens == 5);
  CHECK(c.params.sampling.temperature == doctest::Approx(0.5));
  CHECK(c.params.sampling.top_p == doctest::Approx(0.9));
  CHECK(c.params.sampling.seed == 7);
  CHECK(c.stop == std::vector<std::string>{".", "<|im_end|>"});  // ChatML's end of turn, as text
  CHECK(c.stream);
  CHECK(c.stream_usage);
}

TEST_CASE("chat: defaults, max_tokens, and tool / assistant messages") {
  const chat_call d = chat_ok(R"({"messages":[{"role":"user","content":"Hi"}]})");
  CHECK(d.params.max_tokens == 8);
  CHECK(d.params.sampling.temperature == doctest::Approx(1.0));
  CHECK_FALSE(d.stream);
  CHECK(chat_ok(R"({"messages":[{"role":"user","content":"Hi"}],"max_tokens":3})").params.max_tokens == 3);
  CHECK(chat_ok(R"({"messages":[{"role":"user","content":"Hi"}],"max_tokens":3,"max_completion_tokens":3})")
            .params.max_tokens == 3);
  const chat_call t = chat_ok(
      R"({"messages":[{"role":"user","content":"Weather?"},
          {"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"w","arguments":"{}"}}]},
          {"role":"tool","tool_call_id":"c1","content":"sunny"}]})");
  CHECK(t.messages[1]["content"].is_null());
  CHECK(t.messages[1]["tool_calls"].size() == 1);
  CHECK(t.messages[2]["tool_call_id"] == "c1");
  CHECK(t.prompt.text.find("<|im_start|>tool\nsunny<|im_end|>") != std::string::npos);
}

TEST_CASE("chat: every bad input is a 400 naming the field") {
  struct bad {
    const char* body;
    const char* code;
    const char* names;  // the message names this
  };
  const bad cases[] = {
      {R"({})", "MISSING_FIELD", "messages"},
      {R"({"messages":[]})", "OUT_OF_RANGE", "messages"},
      {R"({"messages":"hi"})", "INVALID_TYPE", "messages"},
      {R"({"messages":[3]})", "INVALID_TYPE", "messages[0]"},
      {R"({"messages":[{"content":"x"}]})", "MISSING_FIELD", "messages[0].role"},
      {R"({"messages":[{"role":7,"content":"x"}]})", "INVALID_TYPE", "messages[0].role"},
      {R"({"messages":[{"role":"wizard","content":"x"}]})", "INVALID_ROLE", "wizard"},
      {R"({"messages":[{"role":"user"}]})", "MISSING_FIELD", "messages[0].content"},
      {R"({"messages":[{"role":"user","content":5}]})", "INVALID_TYPE", "messages[0].content"},
      {R"({"messages":[{"role":"user","content":{"text":"x"}}]})", "INVALID_TYPE", "messages[0].content"},
      {R"({"messages":[{"role":"user","content":[]}]})", "OUT_OF_RANGE", "messages[0].content"},
      {R"({"messages":[{"role":"user","content":["x"]}]})", "INVALID_TYPE", "messages[0].content[0]"},
      {R"({"messages":[{"role":"user","content":[{"text":"x"}]}]})", "MISSING_FIELD", "messages[0].content[0].type"},
      {R"({"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"u"}}]}]})",
       "UNSUPPORTED_CONTENT", "image_url"},
      {R"({"messages":[{"role":"user","content":[{"type":"input_audio"}]}]})", "UNSUPPORTED_CONTENT", "input_audio"},
      {R"({"messages":[{"role":"user","content":[{"type":"text"}]}]})", "MISSING_FIELD", "messages[0].content[0].text"},
      {R"({"messages":[{"role":"user","content":[{"type":"text","text":1}]}]})", "INVALID_TYPE", ".text"},
      {R"({"messages":[{"role":"user","content":[{"type":"text","text":"x","cache_control":{}}]}]})",
       "UNSUPPORTED_FIELD", "cache_control"},
      {R"({"messages":[{"role":"user","content":"x","audio":{}}]})", "UNSUPPORTED_FIELD", "messages[0].audio"},
      {R"({"messages":[{"role":"user","content":"x","name":3}]})", "INVALID_TYPE", "messages[0].name"},
      {R"({"messages":[{"role":"user","content":"x","tool_calls":[]}]})", "INVALID_TYPE", "tool_calls"},
      {R"({"messages":[{"role":"user","content":"x","tool_call_id":"c"}]})", "INVALID_TYPE", "tool_call_id"},
      {R"({"messages":[{"role":"user","content":"x"}],"model":1})", "INVALID_TYPE", "model"},
      {R"({"messages":[{"role":"user","content":"x"}],"max_tokens":0})", "OUT_OF_RANGE", "max_tokens"},
      {R"({"messages":[{"role":"user","content":"x"}],"max_completion_tokens":"5"})", "INVALID_TYPE",
       "max_completion_tokens"},
      {R"({"messages":[{"role":"user","content":"x"}],"max_tokens":3,"max_completion_tokens":4})", "CONFLICTING_FIELDS",
       "max_completion_tokens"},
      {R"({"messages":[{"role":"user","content":"x"}],"temperature":3})", "OUT_OF_RANGE", "temperature"},
      {R"({"messages":[{"role":"user","content":"x"}],"top_p":0})", "OUT_OF_RANGE", "top_p"},
      {R"({"messages":[{"role":"user","content":"x"}],"seed":-1})", "OUT_OF_RANGE", "seed"},
      {R"({"messages":[{"role":"user","content":"x"}],"stop":[""]})", "OUT_OF_RANGE", "stop"},
      {R"({"messages":[{"role":"user","content":"x"}],"stop":["a","b","c","d","e"]})", "OUT_OF_RANGE", "stop"},
      {R"({"messages":[{"role":"user","content":"x"}],"stream":"yes"})", "INVALID_TYPE", "stream"},
      {R"({"messages":[{"role":"user","content":"x"}],"stream_options":{"include_usage":true}})", "INVALID_TYPE",
       "stream_options"},
      {R"({"messages":[{"role":"user","content":"x"}],"stream":true,"stream_options":{"continuous_usage_stats":true}})",
       "UNSUPPORTED_FIELD", "stream_options.continuous_usage_stats"},
      {R"({"messages":[{"role":"user","content":"x"}],"stream":true,"stream_options":3})", "INVALID_TYPE",
       "stream_options"},
      // Fields the server does not honour: refused, never ignored.
      {R"({"messages":[{"role":"user","content":"x"}],"n":0})", "OUT_OF_RANGE", "n"},
      {R"({"messages":[{"role":"user","content":"x"}],"best_of":3})", "UNSUPPORTED_FIELD", "best_of"},
      {R"({"messages":[{"role":"user","content":"x"}],"logprobs":3})", "INVALID_TYPE", "logprobs"},
      {R"({"messages":[{"role":"user","content":"x"}],"top_logprobs":2})", "INVALID_TYPE", "top_logprobs"},
      {R"({"messages":[{"role":"user","content":"x"}],"logprobs":true,"top_logprobs":21})", "OUT_OF_RANGE",
       "top_logprobs"},
      {R"({"messages":[{"role":"user","content":"x"}],"presence_penalty":2.5})", "OUT_OF_RANGE", "presence_penalty"},
      {R"({"messages":[{"role":"user","content":"x"}],"logit_bias":{"5":-101}})", "OUT_OF_RANGE", "logit_bias.5"},
      {R"({"messages":[{"role":"user","content":"x"}],"logit_bias":{"9999":1}})", "TOKEN_OUT_OF_VOCABULARY",
       "logit_bias.9999"},
      {R"({"messages":[{"role":"user","content":"x"}],"tools":[]})", "UNSUPPORTED_FIELD", "tools"},
      {R"({"messages":[{"role":"user","content":"x"}],"tool_choice":"auto"})", "UNSUPPORTED_FIELD", "tool_choice"},
      {R"({"messages":[{"role":"user","content":"x"}],"response_format":{"type":"yaml"}})", "OUT_OF_RANGE",
       "response_format.type"},
      {R"({"messages":[{"role":"user","content":"x"}],"user":"u1"})", "UNSUPPORTED_FIELD", "user"},
      {R"({"messages":[{"role":"user","content":"x"}],"max_tokens":250})", "context_length_exceeded", "messages"},
      {R"([1,2])", "INVALID_JSON", "object"},
      {R"({"messages":)", "INVALID_JSON", "JSON"},
  };
  for (const auto& c : cases) {
    const api_error e = chat_error(c.body);
    INFO(c.body, " -> ", e.code, ": ", e.message);
    CHECK(e.status == 400);
    CHECK(e.code == c.code);
    CHECK(e.message.find(c.names) != std::string::npos);
  }
}

TEST_CASE("chat: a long conversation is refused before it is tokenized") {
  const std::string long_text(5000, 'a');
  const api_error e = chat_error(json{{"messages", {{{"role", "user"}, {"content", long_text}}}}}.dump());
  CHECK(e.code == "context_length_exceeded");
  CHECK(e.message.find("messages") == 0);
}

TEST_CASE("apply-template: renders with or without the generation prompt; bad input is a 400") {
  auto ok = [](const std::string& body) {
    auto r = parse_apply_template(body, limits(), chatml());
    REQUIRE_MESSAGE(std::holds_alternative<apply_template_call>(r), body);
    return std::get<apply_template_call>(r).prompt;
  };
  CHECK(ok(R"({"messages":[{"role":"user","content":"Hi"}]})") ==
        "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
  CHECK(ok(R"({"messages":[{"role":"user","content":"Hi"}],"add_generation_prompt":false})") ==
        "<|im_start|>user\nHi<|im_end|>\n");
  auto err = [](const std::string& body) {
    auto r = parse_apply_template(body, limits(), chatml());
    REQUIRE_MESSAGE(std::holds_alternative<api_error>(r), body);
    return std::get<api_error>(r);
  };
  CHECK(err(R"({"messages":[]})").code == "OUT_OF_RANGE");
  CHECK(err(R"({"messages":[{"role":"bot","content":"x"}]})").code == "INVALID_ROLE");
  CHECK(err(R"({"messages":[{"role":"user","content":"x"}],"add_generation_prompt":1})").code == "INVALID_TYPE");
  CHECK(err(R"({"messages":[{"role":"user","content":"x"}],"temperature":1})").code == "UNSUPPORTED_FIELD");
}

TEST_CASE("chat response and chunk shapes") {
  completion_identity who{"chatcmpl-r1", "m", 1700000000};
  prompt_outcome o;
  o.text = "Hello";
  o.finish_reason = "stop";
  o.usage = {12, 8, 3};
  const json r = json::parse(chat_completion_response(who, o));
  CHECK(r["id"] == "chatcmpl-r1");
  CHECK(r["object"] == "chat.completion");
  CHECK(r["created"] == 1700000000);
  CHECK(r["model"] == "m");
  REQUIRE(r["choices"].size() == 1);
  CHECK(r["choices"][0]["index"] == 0);
  CHECK(r["choices"][0]["message"] == json{{"role", "assistant"}, {"content", "Hello"}});
  CHECK(r["choices"][0]["finish_reason"] == "stop");
  CHECK(r["usage"] == json{{"prompt_tokens", 12},
                           {"completion_tokens", 3},
                           {"total_tokens", 15},
                           {"prompt_tokens_details", {{"cached_tokens", 8}}}});

  auto payload = [](const std::string& event) {
    REQUIRE(event.rfind("data: ", 0) == 0);
    REQUIRE(event.size() > 8);
    CHECK(event.substr(event.size() - 2) == "\n\n");
    return json::parse(event.substr(6, event.size() - 8));
  };
  const json first = payload(chat_completion_event(who, chat_delta::role, "", ""));
  CHECK(first["object"] == "chat.completion.chunk");
  CHECK(first["choices"][0]["delta"] == json{{"role", "assistant"}, {"content", ""}});
  CHECK(first["choices"][0]["finish_reason"].is_null());
  const json piece = payload(chat_completion_event(who, chat_delta::content, "Hel", ""));
  CHECK(piece["choices"][0]["delta"] == json{{"content", "Hel"}});
  CHECK(piece["choices"][0]["finish_reason"].is_null());
  const json last = payload(chat_completion_event(who, chat_delta::finish, "", "length"));
  CHECK(last["choices"][0]["delta"] == json::object());
  CHECK(last["choices"][0]["finish_reason"] == "length");
  const json usage = payload(chat_usage_event(who, o));
  CHECK(usage["choices"] == json::array());
  CHECK(usage["usage"]["prompt_tokens_details"]["cached_tokens"] == 8);
}

namespace {

std::string temp_template(const std::string& name, const std::string& text) {
  const std::string path = "/tmp/kvactor_chat_test_" + std::to_string(::getpid()) + "_" + name + ".jinja";
  std::ofstream(path) << text;
  return path;
}

const std::string llama32_template = "/work/shared/templates/meta-llama-Llama-3.2-3B-Instruct.jinja";

}  // namespace

TEST_CASE("chat: a real template (Llama 3.2) renders as jinja2 does, and its BOS is not doubled") {
  ::setenv("KVACTOR_TEMPLATE_NOW", "2026-01-15T10:00:00", 1);
  const chat_prompt llama = chat_prompt_for(tok512(), llama32_template);
  CHECK_FALSE(llama.is_chatml_fallback());
  CHECK(llama.origin().find("Llama-3.2-3B-Instruct") != std::string::npos);
  auto r = parse_chat_completion(
      R"({"messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Hi"}]})", limits(), llama);
  REQUIRE(std::holds_alternative<chat_call>(r));
  const chat_call& c = std::get<chat_call>(r);
  // Python's jinja2 with transformers' settings (tests/template/render_with_jinja2.py), bos_token "<s>":
  CHECK(c.prompt.text ==
        "<s><|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date: December 2023\nToday Date: 15 Jan "
        "2026\n\nBe brief.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|><|start_header_id|>"
        "assistant<|end_header_id|>\n\n");
  REQUIRE_FALSE(c.prompt.ids.empty());
  CHECK(c.prompt.ids.front() == tok512().bos_id());  // the template's "<s>", parsed as the BOS token
  CHECK(std::count(c.prompt.ids.begin(), c.prompt.ids.end(), tok512().bos_id()) == 1);
  CHECK(c.stop.empty());  // no ChatML stop text with a real template
  ::unsetenv("KVACTOR_TEMPLATE_NOW");
}

TEST_CASE("chat: a template that cannot be rendered is refused at start with its line") {
  const std::string syntax =
      temp_template("syntax", "{% for m in messages %}\n{{ m.content }}\n{% if %}\n{% endfor %}");
  CHECK_THROWS_WITH_AS(chat_prompt_for(tok512(), syntax), doctest::Contains("line 3"), chat_template_error);
  const std::string filter =
      temp_template("filter", "{% for m in messages %}\n{{ m.content | no_such_filter }}\n{% endfor %}");
  CHECK_THROWS_WITH_AS(chat_prompt_for(tok512(), filter), doctest::Contains("no_such_filter"), chat_template_error);
  CHECK_THROWS_WITH_AS(chat_prompt_for(tok512(), "/nonexistent/t.jinja"), doctest::Contains("/nonexistent/t.jinja"),
                       chat_template_error);
  std::remove(syntax.c_str());
  std::remove(filter.c_str());
}

TEST_CASE("chat: a template that raises for one conversation is a 400 with its message") {
  const std::string path = temp_template(
      "raises",
      "{% if messages[0]['role'] != 'user' %}{{ raise_exception('Conversations must start with the user') }}{% endif %}"
      "{% for m in messages %}[{{ m['role'] }}] {{ m['content'] }}\n{% endfor %}");
  const chat_prompt picky =
      chat_prompt_for(tok512(), path);  // usable: it renders a conversation that starts with the user
  std::remove(path.c_str());
  auto ok = parse_apply_template(R"({"messages":[{"role":"user","content":"Hi"}]})", limits(), picky);
  REQUIRE(std::holds_alternative<apply_template_call>(ok));
  CHECK(std::get<apply_template_call>(ok).prompt == "[user] Hi\n");
  for (const char* target : {"chat", "apply"}) {
    const std::string body = R"({"messages":[{"role":"system","content":"S"},{"role":"user","content":"Hi"}]})";
    const api_error e = std::string(target) == "chat"
                            ? std::get<api_error>(parse_chat_completion(body, limits(), picky))
                            : std::get<api_error>(parse_apply_template(body, limits(), picky));
    CHECK(e.status == 400);
    CHECK(e.code == "TEMPLATE_ERROR");
    CHECK(e.message.find("Conversations must start with the user") != std::string::npos);
  }
}

TEST_CASE("chat: logprobs, top_logprobs, n and the penalties are read") {
  const chat_call c =
      chat_ok(R"({"messages":[{"role":"user","content":"x"}],"logprobs":true,"top_logprobs":4,"n":2,)"
              R"("presence_penalty":0.5,"frequency_penalty":-0.5,"logit_bias":{"5":1},"min_p":0.3,)"
              R"("repetition_penalty":1.1,"stop_token_ids":[3],"ignore_eos":true,"cache_prompt":false})");
  CHECK(c.params.sampling.logprobs == 4);
  CHECK(c.params.n == 2);
  CHECK(c.params.sampling.presence_penalty == 0.5f);
  CHECK(c.params.sampling.frequency_penalty == -0.5f);
  CHECK(c.params.sampling.bias_ids == std::vector<int32_t>{5});
  CHECK(c.params.sampling.min_p == 0.3f);
  CHECK(c.params.sampling.repetition_penalty == 1.1f);
  CHECK(c.params.stop_token_ids == std::vector<int32_t>{3});
  CHECK(c.params.ignore_eos);
  CHECK_FALSE(c.params.cache_prompt);
  CHECK(chat_ok(R"({"messages":[{"role":"user","content":"x"}],"logprobs":true})").params.sampling.logprobs == 0);
  CHECK(chat_ok(R"({"messages":[{"role":"user","content":"x"}],"logprobs":false})").params.sampling.logprobs == -1);
  CHECK(chat_ok(R"({"messages":[{"role":"user","content":"x"}],"logprobs":null,"top_logprobs":null,"n":null})")
            .params.sampling.logprobs == -1);
}

TEST_CASE(
    "logprobs shapes: completions lists with offsets after an echoed prompt; chat entries with bytes; n counts the "
    "prompt once") {
  completion_identity who{"cmpl-r1", "m", 1700000000};
  prompt_outcome o;
  o.text = "Hi there";
  o.text_offset = 2;  // echo: "Hi" was the prompt
  o.usage = {5, 0, 2};
  o.logprobs = std::vector<token_logprob>{{" th", -0.5f, {{" th", -0.5f}, {" a", -1.5f}, {" th", -3.0f}}},
                                          {"ere", -0.25f, {{"ere", -0.25f}}}};
  prompt_outcome second = o;
  second.repeat_choice = true;
  const json r = json::parse(completion_response(who, {o, second}));
  const json& lp = r["choices"][0]["logprobs"];
  CHECK(lp["tokens"] == json{" th", "ere"});
  CHECK(lp["token_logprobs"] == json{-0.5, -0.25});
  CHECK(lp["text_offset"] == json{2, 5});
  CHECK(lp["top_logprobs"][0] == json{{" th", -0.5}, {" a", -1.5}});  // the likelier of two equal texts
  CHECK(r["usage"]["prompt_tokens"] == 5);                            // two choices, one prompt
  CHECK(r["usage"]["completion_tokens"] == 4);

  const json c = json::parse(chat_completion_response(who, o));
  const json& e = c["choices"][0]["logprobs"]["content"][0];
  CHECK(e["token"] == " th");
  CHECK(e["bytes"] == json{32, 116, 104});
  CHECK(e["top_logprobs"].size() == 3);
  CHECK(e["top_logprobs"][1] == json{{"token", " a"}, {"logprob", -1.5}, {"bytes", {32, 97}}});
  CHECK(c["choices"][0]["logprobs"]["refusal"].is_null());
}
