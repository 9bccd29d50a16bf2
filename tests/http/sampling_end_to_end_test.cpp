// The OpenAI sampling fields over the real engine (stories260K): n > 1 choices equal
// the solo requests with seed + j, logprobs in OpenAI's completions and chat shapes
// (streamed and not, the same numbers), echo, ignore_eos and cache_prompt.
#include <doctest/doctest.h>

#include <cmath>
#include <future>
#include <set>

#include <nlohmann/json.hpp>

#include "actors/gateway.hpp"
#include "http/server.hpp"
#include "model/tokenizer.hpp"
#include "tests/http/stories_served.hpp"

using namespace kvactor;
using namespace kvactor::test;
using nlohmann::json;

TEST_CASE("sampling e2e: n choices of one prompt equal the requests with seed + j alone, sent together or not") {
  stories_served<> s;
  const json body = {{"prompt", "Once upon a time, there was a little girl"},
                     {"max_tokens", 20},
                     {"temperature", 1.0},
                     {"seed", 40},
                     {"n", 3}};
  const json together = s.post("/v1/completions", body);
  REQUIRE(together["choices"].size() == 3);
  std::set<std::string> distinct;
  for (int j = 0; j < 3; ++j) {
    json alone = body;
    alone["n"] = 1;
    alone["seed"] = 40 + j;
    const json a = s.post("/v1/completions", alone);
    CHECK(together["choices"][j]["index"] == j);
    CHECK(together["choices"][j]["text"] == a["choices"][0]["text"]);
    distinct.insert(a["choices"][0]["text"].get<std::string>());
    if (j == 0) CHECK(together["usage"]["prompt_tokens"] == a["usage"]["prompt_tokens"]);  // the prompt once
  }
  CHECK(distinct.size() > 1);
  // Chat: n choices, numbered, each its own seed.
  const json chat = {
      {"messages", {{{"role", "user"}, {"content", "Tell a story"}}}}, {"max_tokens", 12}, {"seed", 9}, {"n", 2}};
  const json c = s.post("/v1/chat/completions", chat);
  REQUIRE(c["choices"].size() == 2);
  json second = chat;
  second["n"] = 1;
  second["seed"] = 10;
  CHECK(c["choices"][1]["message"]["content"] ==
        s.post("/v1/chat/completions", second)["choices"][0]["message"]["content"]);
  const auto chunks = s.stream("/v1/chat/completions", chat);
  std::string streamed[2];
  for (const auto& ch : chunks)
    if (!ch["choices"].empty() && ch["choices"][0]["delta"].contains("content"))
      streamed[ch["choices"][0]["index"].get<int>()] += ch["choices"][0]["delta"]["content"].get<std::string>();
  CHECK(streamed[0] == c["choices"][0]["message"]["content"]);
  CHECK(streamed[1] == c["choices"][1]["message"]["content"]);
}

TEST_CASE("sampling e2e: completions logprobs have OpenAI's shape and the stream carries the same numbers") {
  stories_served<> s;
  const json body = {
      {"prompt", "The sun was shining"}, {"max_tokens", 10}, {"temperature", 0}, {"logprobs", 3}, {"ignore_eos", true}};
  const json r = s.post("/v1/completions", body);
  const json& lp = r["choices"][0]["logprobs"];
  const std::string text = r["choices"][0]["text"];
  REQUIRE(lp["tokens"].size() == 10);
  std::string joined;
  for (std::size_t i = 0; i < 10; ++i) {
    CHECK(lp["text_offset"][i] == joined.size());
    joined += lp["tokens"][i].get<std::string>();
    const float chosen = lp["token_logprobs"][i];
    CHECK(chosen <= 0.0f);
    REQUIRE(lp["top_logprobs"][i].is_object());
    CHECK(lp["top_logprobs"][i].size() >= 1);
    CHECK(lp["top_logprobs"][i].size() <= 3);
    float best = -INFINITY;
    for (const auto& [k, v] : lp["top_logprobs"][i].items()) best = std::max(best, v.get<float>());
    CHECK(chosen == best);  // greedy takes the most likely token
    CHECK(lp["top_logprobs"][i].contains(lp["tokens"][i].get<std::string>()));
  }
  CHECK(joined == text);
  // Streamed: the same tokens and numbers, offsets continuing across chunks.
  json tokens = json::array(), values = json::array(), offsets = json::array();
  for (const auto& ch : s.stream("/v1/completions", body)) {
    if (ch["choices"].empty() || ch["choices"][0]["logprobs"].is_null()) continue;
    for (const auto& v : ch["choices"][0]["logprobs"]["tokens"]) tokens.push_back(v);
    for (const auto& v : ch["choices"][0]["logprobs"]["token_logprobs"]) values.push_back(v);
    for (const auto& v : ch["choices"][0]["logprobs"]["text_offset"]) offsets.push_back(v);
  }
  CHECK(tokens == lp["tokens"]);
  CHECK(values == lp["token_logprobs"]);
  CHECK(offsets == lp["text_offset"]);
  // Without logprobs: null, as before.
  json plain = body;
  plain.erase("logprobs");
  CHECK(s.post("/v1/completions", plain)["choices"][0]["logprobs"].is_null());
}

TEST_CASE("sampling e2e: chat logprobs per content token with bytes and top_logprobs") {
  stories_served<> s;
  const json body = {{"messages", {{{"role", "user"}, {"content", "Hi"}}}},
                     {"max_tokens", 8},
                     {"temperature", 0.7},
                     {"seed", 3},
                     {"logprobs", true},
                     {"top_logprobs", 2}};
  const json r = s.post("/v1/chat/completions", body);
  const json& content = r["choices"][0]["logprobs"]["content"];
  REQUIRE(content.size() == r["usage"]["completion_tokens"].get<std::size_t>());
  std::string joined;
  for (const auto& e : content) {
    const std::string token = e["token"];
    std::vector<int> bytes(token.begin(), token.end());
    for (int& b : bytes) b &= 0xff;
    CHECK(e["bytes"] == json(bytes));
    CHECK(e["logprob"].get<float>() <= 0.0f);
    REQUIRE(e["top_logprobs"].size() == 2);
    CHECK(e["top_logprobs"][0]["logprob"].get<float>() >= e["top_logprobs"][1]["logprob"].get<float>());
    CHECK(e["logprob"].get<float>() <= e["top_logprobs"][0]["logprob"].get<float>());
    joined += token;
  }
  CHECK(joined.find(r["choices"][0]["message"]["content"].get<std::string>()) == 0);
  // Streamed chunks carry the same entries.
  json streamed = json::array();
  for (const auto& ch : s.stream("/v1/chat/completions", body))
    if (!ch["choices"].empty() && !ch["choices"][0]["logprobs"].is_null())
      for (const auto& e : ch["choices"][0]["logprobs"]["content"]) streamed.push_back(e);
  CHECK(streamed == content);
}

TEST_CASE("sampling e2e: echo, cache_prompt, logit_bias and ignore_eos") {
  stories_served<> s;
  const std::string prompt = "Once upon a time, there was a little girl named Lily. She loved to play";
  const json body = {{"prompt", prompt}, {"max_tokens", 6}, {"temperature", 0}};
  const json plain = s.post("/v1/completions", body);
  json echoed = body;
  echoed["echo"] = true;
  CHECK(s.post("/v1/completions", echoed)["choices"][0]["text"] ==
        prompt + plain["choices"][0]["text"].get<std::string>());
  std::string streamed;
  for (const auto& ch : s.stream("/v1/completions", echoed))
    if (!ch["choices"].empty()) streamed += ch["choices"][0]["text"].get<std::string>();
  CHECK(streamed == prompt + plain["choices"][0]["text"].get<std::string>());

  // cache_prompt false: the same answer, no cached prompt tokens; true: the prefix is reused.
  json uncached = body;
  uncached["cache_prompt"] = false;
  const json u = s.post("/v1/completions", uncached);
  CHECK(u["choices"][0]["text"] == plain["choices"][0]["text"]);
  CHECK(u["usage"]["prompt_tokens_details"]["cached_tokens"] == 0);
  CHECK(s.post("/v1/completions", body)["usage"]["prompt_tokens_details"]["cached_tokens"].get<int>() > 0);

  // logit_bias +100 on EOS makes it the first token: the answer stops at once; with ignore_eos
  // the same request runs to max_tokens.
  const std::string eos = std::to_string(s.engine.tok().eos_id());
  json forced = {{"prompt", prompt}, {"max_tokens", 5}, {"temperature", 0}, {"logit_bias", {{eos, 100}}}};
  const json stopped = s.post("/v1/completions", forced);
  CHECK(stopped["choices"][0]["finish_reason"] == "stop");
  CHECK(stopped["usage"]["completion_tokens"] == 0);
  forced["ignore_eos"] = true;
  const json ran = s.post("/v1/completions", forced);
  CHECK(ran["choices"][0]["finish_reason"] == "length");
  CHECK(ran["usage"]["completion_tokens"] == 5);
}
