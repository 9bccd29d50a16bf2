// echo with logprobs on /v1/completions (issue 17), on the real engine: the choice's logprobs
// list the prompt's tokens first (the first with null value and alternatives, as OpenAI), then
// the generated ones. Each prompt position's alternatives equal what a request for the prompt
// up to there reports for its first generated token (another path through the engine: decode
// sampling instead of prompt scoring), streamed equals not streamed, and the prompt is
// computed afresh even when the prefix cache holds it.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "actors/gateway.hpp"
#include "http/server.hpp"
#include "model/tokenizer.hpp"
#include "tests/http/stories_served.hpp"

using namespace kvactor;
using namespace kvactor::test;
using nlohmann::json;

TEST_CASE("echo with logprobs: prompt tokens scored as the engine's own next-token alternatives") {
  stories_served<> s(stories_server_config(256));
  const std::vector<int32_t> ids = s.engine.tok().encode("Once upon a time, there was a little dog", true, false);
  REQUIRE(ids.size() >= 8u);
  // The prefix cache holds the prompt before the scored request.
  s.post("/v1/completions", {{"prompt", ids}, {"max_tokens", 2}, {"temperature", 0}});

  const json body = {{"prompt", ids}, {"max_tokens", 4}, {"temperature", 0}, {"echo", true}, {"logprobs", 3}};
  const json r = s.post("/v1/completions", body);
  const json& choice = r["choices"][0];
  const json& lp = choice["logprobs"];
  const int completion = r["usage"]["completion_tokens"].get<int>();
  REQUIRE(lp["tokens"].size() == ids.size() + static_cast<std::size_t>(completion));
  CHECK(r["usage"]["prompt_tokens_details"]["cached_tokens"] == 0);
  CHECK(lp["token_logprobs"][0].is_null());
  CHECK(lp["top_logprobs"][0].is_null());
  const std::string prompt_text = s.engine.tok().decode(ids);
  const std::string text = choice["text"].get<std::string>();
  CHECK(text.rfind(prompt_text, 0) == 0);
  CHECK(lp["text_offset"][ids.size()] == prompt_text.size());
  for (std::size_t i = 1; i < lp["text_offset"].size(); ++i)
    CHECK(lp["text_offset"][i].get<std::size_t>() >= lp["text_offset"][i - 1].get<std::size_t>());
  std::string spelled;
  for (const auto& t : lp["tokens"]) spelled += t.get<std::string>();
  CHECK(spelled == text);

  for (std::size_t k = 1; k < ids.size(); ++k) {
    CAPTURE(k);
    const json& value = lp["token_logprobs"][k];
    const json& top = lp["top_logprobs"][k];
    REQUIRE(value.is_number());
    CHECK(value.get<double>() <= 0.0);
    REQUIRE(top.is_object());
    CHECK(top.size() <= 3u);
    // The prompt up to position k, one greedy token: its alternatives come from the same logits.
    const std::vector<int32_t> head(ids.begin(), ids.begin() + static_cast<std::ptrdiff_t>(k));
    const json one =
        s.post("/v1/completions", {{"prompt", head}, {"max_tokens", 1}, {"temperature", 0}, {"logprobs", 3}});
    const json& alt = one["choices"][0]["logprobs"]["top_logprobs"][0];
    CHECK(alt == top);
    const std::string token_text = lp["tokens"][k].get<std::string>();
    if (alt.contains(token_text) && top.size() == 3u && alt.size() == 3u) CHECK(alt[token_text] == value);
  }

  // Streamed: the prompt's entries come with the first chunk, and all lists add up to the same.
  const std::vector<json> chunks = s.stream("/v1/completions", body);
  json tokens = json::array(), values = json::array(), offsets = json::array();
  for (const json& c : chunks) {
    const json& l = c["choices"][0]["logprobs"];
    if (l.is_null()) continue;
    for (const auto& t : l["tokens"]) tokens.push_back(t);
    for (const auto& v : l["token_logprobs"]) values.push_back(v);
    for (const auto& o : l["text_offset"]) offsets.push_back(o);
  }
  REQUIRE(!chunks.empty());
  CHECK(chunks[0]["choices"][0]["logprobs"]["tokens"].size() >= ids.size());
  CHECK(tokens == lp["tokens"]);
  CHECK(values == lp["token_logprobs"]);
  CHECK(offsets == lp["text_offset"]);

  // n = 2: each choice lists the same prompt scores.
  json two = body;
  two["n"] = 2;
  two["temperature"] = 1.0;
  two["seed"] = 5;
  const json r2 = s.post("/v1/completions", two);
  REQUIRE(r2["choices"].size() == 2u);
  for (const json& c : r2["choices"])
    for (std::size_t k = 0; k < ids.size(); ++k) CHECK(c["logprobs"]["token_logprobs"][k] == lp["token_logprobs"][k]);
}
