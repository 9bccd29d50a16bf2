// /v1/chat/completions and /apply-template over the real engine on stories260K (no
// chat template: the ChatML fallback): the chat answer is the completion of the
// rendered conversation, streamed chunks add up to it, and a second turn reuses the
// first turn's KV through the prefix trie.
#include <doctest/doctest.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>

#include <nlohmann/json.hpp>

#include "actors/gateway.hpp"
#include "http/server.hpp"
#include "tests/http/child_process.hpp"
#include "tests/http/stories_served.hpp"

using namespace kvactor;
using namespace kvactor::test;
using nlohmann::json;

namespace {

const json conversation = json::array({{{"role", "system"}, {"content", "You tell short stories."}},
                                       {{"role", "user"}, {"content", "Tell me about a cat."}}});

}  // namespace

TEST_CASE("chat end to end: the answer is the greedy completion of the rendered conversation") {
  stories_served<> s(stories_server_config(512));
  CHECK(s.server.chat_template_origin().find("ChatML") != std::string::npos);
  const json rendered = s.post("/apply-template", {{"messages", conversation}});
  const std::string prompt = rendered["prompt"];
  CHECK(prompt ==
        "<|im_start|>system\nYou tell short stories.<|im_end|>\n<|im_start|>user\nTell me about a cat.<|im_end|>\n"
        "<|im_start|>assistant\n");

  const json chat =
      s.post("/v1/chat/completions",
             {{"model", "stories260K"}, {"messages", conversation}, {"max_tokens", 24}, {"temperature", 0}});
  const json cmpl = s.post("/v1/completions", {{"prompt", prompt}, {"max_tokens", 24}, {"temperature", 0}});
  CHECK(chat["object"] == "chat.completion");
  CHECK(chat["id"].get<std::string>().rfind("chatcmpl-", 0) == 0);
  CHECK(chat["model"] == "stories260K");
  REQUIRE(chat["choices"].size() == 1);
  CHECK(chat["choices"][0]["message"]["role"] == "assistant");
  const std::string answer = chat["choices"][0]["message"]["content"];
  CHECK_FALSE(answer.empty());
  CHECK(answer == cmpl["choices"][0]["text"].get<std::string>());
  CHECK(chat["choices"][0]["finish_reason"] == cmpl["choices"][0]["finish_reason"]);
  CHECK(chat["usage"]["prompt_tokens"] == cmpl["usage"]["prompt_tokens"]);
  CHECK(chat["usage"]["completion_tokens"] == cmpl["usage"]["completion_tokens"]);
  CHECK(chat["usage"]["total_tokens"] ==
        chat["usage"]["prompt_tokens"].get<int>() + chat["usage"]["completion_tokens"].get<int>());

  // The same conversation streamed: role first, content pieces adding up to the answer,
  // the finish reason alone, the usage chunk, then [DONE].
  const http_result r = http_call(s.server.port(), "POST", "/v1/chat/completions",
                                  json{{"messages", conversation},
                                       {"max_tokens", 24},
                                       {"temperature", 0},
                                       {"stream", true},
                                       {"stream_options", {{"include_usage", true}}}}
                                      .dump());
  REQUIRE(r.status == 200);
  CHECK(r.header("content-type") == "text/event-stream");
  const auto events = sse_data(r.body);
  REQUIRE(events.size() >= 5);
  CHECK(events.back() == "[DONE]");
  const json first = json::parse(events.front());
  CHECK(first["object"] == "chat.completion.chunk");
  CHECK(first["choices"][0]["delta"]["role"] == "assistant");
  std::string streamed;
  for (std::size_t i = 1; i + 3 < events.size(); ++i) {
    const json chunk = json::parse(events[i]);
    CHECK(chunk["id"] == first["id"]);
    CHECK(chunk["choices"][0]["finish_reason"].is_null());
    CHECK_FALSE(chunk["choices"][0]["delta"].contains("role"));
    streamed += chunk["choices"][0]["delta"]["content"].get<std::string>();
  }
  CHECK(streamed == answer);
  const json finish = json::parse(events[events.size() - 3]);
  CHECK(finish["choices"][0]["delta"] == json::object());
  CHECK(finish["choices"][0]["finish_reason"] == chat["choices"][0]["finish_reason"]);
  const json usage = json::parse(events[events.size() - 2]);
  CHECK(usage["choices"] == json::array());
  CHECK(usage["usage"]["completion_tokens"] == chat["usage"]["completion_tokens"]);
}

TEST_CASE("chat end to end: turn k's cached_tokens cover turn k-1's prompt, in whole pages") {
  stories_served<> s(stories_server_config(512));
  const int page = s.engine.config().page_size;
  json messages = json::array({{{"role", "system"}, {"content", "You tell short stories about animals."}}});
  const char* questions[] = {"Tell me about a cat.", "What did the cat eat?", "Where did the cat sleep?",
                             "Who was the cat's friend?"};
  int previous_prompt = 0;
  for (int turn = 0; turn < 4; ++turn) {
    messages.push_back({{"role", "user"}, {"content", questions[turn]}});
    const json reply = s.post("/v1/chat/completions", {{"messages", messages}, {"max_tokens", 16}, {"temperature", 0}});
    const int prompt_tokens = reply["usage"]["prompt_tokens"];
    const int cached = reply["usage"]["prompt_tokens_details"]["cached_tokens"];
    MESSAGE("turn ", turn, ": prompt ", prompt_tokens, " tokens, cached ", cached);
    CHECK(cached % page == 0);
    CHECK(cached < prompt_tokens);
    CHECK(cached >= previous_prompt / page * page);
    if (turn > 0) CHECK(cached > 0);
    previous_prompt = prompt_tokens;
    messages.push_back({{"role", "assistant"}, {"content", reply["choices"][0]["message"]["content"]}});
  }
}

TEST_CASE("chat end to end: bad requests are 400 with the usual error and nothing reaches the engine") {
  stories_served<> s(stories_server_config(512));
  const json e1 = s.post("/v1/chat/completions", {{"messages", {{{"role", "robot"}, {"content", "x"}}}}}, 400);
  CHECK(e1["error"]["code"] == "INVALID_ROLE");
  const json e2 = s.post("/v1/chat/completions", {{"messages", json::array()}}, 400);
  CHECK(e2["error"]["message"].get<std::string>().find("messages") != std::string::npos);
  const json e3 =
      s.post("/v1/chat/completions",
             {{"messages", {{{"role", "user"}, {"content", "x"}}}}, {"response_format", {{"type", "yaml"}}}}, 400);
  CHECK(e3["error"]["code"] == "OUT_OF_RANGE");
  CHECK(e3["error"]["message"].get<std::string>().find("response_format") != std::string::npos);
  const http_result wrong_method = http_call(s.server.port(), "GET", "/v1/chat/completions");
  CHECK(wrong_method.status == 405);
  const http_result apply_get = http_call(s.server.port(), "GET", "/apply-template");
  CHECK(apply_get.status == 405);
}

TEST_CASE("chat end to end: --chat-template serves a real template (Llama 3.2) through /apply-template and chat") {
  ::setenv("KVACTOR_TEMPLATE_NOW", "2026-01-15T10:00:00", 1);
  http::server_config cfg = stories_server_config(512);
  cfg.chat_template = "/work/shared/templates/meta-llama-Llama-3.2-3B-Instruct.jinja";
  stories_served<> s(cfg);
  CHECK(s.server.chat_template_origin().find("Llama-3.2-3B-Instruct") != std::string::npos);
  const json rendered = s.post(
      "/apply-template", {{"messages", {{{"role", "user"}, {"content", "Hi"}}}}, {"add_generation_prompt", false}});
  CHECK(rendered["prompt"] ==
        "<s><|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date: December 2023\nToday Date: 15 Jan "
        "2026\n\n<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>");
  const json chat =
      s.post("/v1/chat/completions",
             {{"messages", {{{"role", "user"}, {"content", "Hi"}}}}, {"max_tokens", 8}, {"temperature", 0}});
  CHECK(chat["object"] == "chat.completion");
  CHECK(chat["usage"]["prompt_tokens"].get<int>() > 20);
  ::unsetenv("KVACTOR_TEMPLATE_NOW");
}

#ifdef KVACTOR_BINARY
TEST_CASE("chat end to end: serve names the ChatML fallback once, and refuses an unrenderable template at start") {
  const std::string models = KVACTOR_MODELS_DIR;
  const std::vector<std::string> base = {
      KVACTOR_BINARY,        "serve", "--port", "0", "--model", models + "/stories260K.bin", "--tokenizer",
      models + "/tok512.bin"};
  {
    child server(base);
    REQUIRE(server.wait_for_port() != 0);
    CHECK(server.err.find("chat template: ChatML") != std::string::npos);
    kill(server.pid, SIGTERM);
    CHECK(server.wait_exit() == 0);
  }
  const std::string bad = "/tmp/kvactor_chat_e2e_" + std::to_string(::getpid()) + ".jinja";
  std::ofstream(bad) << "{% for m in messages %}\n{{ m.content }}\n{% endfor %\n";
  std::vector<std::string> args = base;
  args.insert(args.end(), {"--chat-template", bad});
  child refused(args);
  CHECK(refused.wait_exit() == 1);
  refused.read_rest(std::chrono::seconds(2));
  CHECK(refused.err.find(bad) != std::string::npos);
  CHECK(refused.err.find("line 3") != std::string::npos);
  std::remove(bad.c_str());
  args.back() = "/nonexistent/chat.jinja";
  child missing(args);
  CHECK(missing.wait_exit() == 2);  // a configuration error, like a missing model file
  missing.read_rest(std::chrono::seconds(2));
  CHECK(missing.err.find("chat_template") != std::string::npos);
}
#endif
