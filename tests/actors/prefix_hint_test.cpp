// Per-request cursors in the trie actor (issue 16, 6a): the scheduler's prefix hints
// and a request's publishes carry only tokens the trie has not seen, so the cost of
// a step does not grow with the prompt length; the cursors go with their requests.
#include <doctest/doctest.h>

#include "coordinated_engine.hpp"

using namespace kvactor;
using namespace kvactor::actors_test;

namespace {

std::vector<int32_t> long_prompt(int len, int variant) {
  std::vector<int32_t> p{1};
  for (int i = 1; i < len; ++i) p.push_back(10 + (i * 13 + variant * 101) % 400);
  return p;
}

}  // namespace

TEST_CASE("prefix hints and publishes send each token to the trie once") {
  // One request runs at a time, so the others wait through many steps (each of which
  // asks the trie for hints), and a running request publishes a page every 4 tokens.
  auto settings = coordinated_engine::default_settings(256, 4);
  settings.max_batch = 1;
  settings.prefill_chunk = 8;
  coordinated_engine e(settings, 7);
  const int prompt_len = 96, max_tokens = 24, requests = 5;
  for (int i = 0; i < requests; ++i) e.submit("r" + std::to_string(i), long_prompt(prompt_len, i), max_tokens);
  e.run_fifo();
  for (int i = 0; i < requests; ++i) REQUIRE(e.outcomes()["r" + std::to_string(i)].finals.size() == 1);

  auto tc = e.ask<trie_counts>(e.actors().trie, counts_atom_v);
  REQUIRE(tc);
  auto sc = e.scheduler_stats();
  CAPTURE(sc.steps);
  CAPTURE(tc->peek_tokens_received);
  CAPTURE(tc->publish_tokens_received);
  MESSAGE(sc.steps << " steps; tokens received by the trie: " << tc->peek_tokens_received << " in peeks, "
                   << tc->publish_tokens_received << " in publishes");
  // Hints were asked for (several waiting requests over many steps) ...
  CHECK(sc.steps > 40);
  CHECK(tc->peek_tokens_received > 0);
  // ... but every waiting prompt arrived once: no more than all prompts together
  // (the old protocol sent every waiting prompt again at every step: ~steps x prompts).
  CHECK(tc->peek_tokens_received <= static_cast<uint64_t>(requests * prompt_len));
  // Every written page's tokens were published once (the old protocol resent the
  // whole prefix with every page: quadratic in the sequence length).
  const auto pages_per_request = (prompt_len + max_tokens - 1) / 4;
  CHECK(tc->publish_tokens_received <= static_cast<uint64_t>(requests * pages_per_request * 4));
  CHECK(tc->publish_tokens_received >= static_cast<uint64_t>(requests * (prompt_len / 4) * 4));
  // The cursors went with their requests.
  CHECK(tc->publish_cursors == 0);
  CHECK(tc->peek_cursors == 0);
  CHECK(e.check_quiet() == "");
  CHECK(e.stop_all());
}

TEST_CASE("the trie refuses a publish that does not continue the handle's path, and drops cursors with handles") {
  auto settings = coordinated_engine::default_settings(32, 4);
  coordinated_engine e(settings, 3);
  auto trie = e.actors().trie;
  // A first request publishes 2 pages through the engine and finishes.
  auto prompt = long_prompt(9, 0);
  e.submit("a", prompt, 1);
  e.run_fifo();
  REQUIRE(e.outcomes()["a"].finals.size() == 1);
  auto tc = e.ask<trie_counts>(trie, counts_atom_v);
  REQUIRE(tc);
  CHECK(tc->cached >= 2);
  CHECK(tc->publish_cursors == 0);

  // A reader's match keeps the path's tokens as its cursor; the reader (a probe
  // actor that ends after the answer) dies, and its handle and cursor go.
  auto m = e.ask<match_reply>(trie, match_atom_v, uint64_t{0}, prompt);
  REQUIRE(m);
  CHECK(m->handle != 0);
  CHECK(m->pages.size() == 2);
  tc = e.ask<trie_counts>(trie, counts_atom_v);
  CHECK(tc->handles == 0);
  CHECK(tc->publish_cursors == 0);

  // A publish claiming to continue a path without a handle is refused, trie unchanged.
  publish_request bad;
  bad.first_page = 1;
  bad.tokens.assign(prompt.begin() + 4, prompt.begin() + 8);
  bad.pages = {30};
  auto refused = e.ask<publish_reply>(trie, publish_atom_v, caf::actor_addr{}, bad);
  CHECK_FALSE(refused);
  auto after = e.ask<trie_counts>(trie, counts_atom_v);
  CHECK(after->cached == tc->cached);
  CHECK(after->publish_cursors == 0);
  CHECK(e.check_quiet() == "");
  CHECK(e.stop_all());
}
