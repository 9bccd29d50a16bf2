// An engine actor (scheduler, pool, trie) that exits while requests wait on it: every
// request ends with one error naming it, nothing hangs, no request actor is left.
#include <doctest/doctest.h>

#include "tests/actors/coordinated_engine.hpp"

using namespace kvactor;
using namespace kvactor::actors_test;

namespace {

std::vector<int32_t> prompt_for(int n, int salt) {
  std::vector<int32_t> p;
  for (int i = 0; i < n; ++i) p.push_back(1 + (i * 7 + salt * 13) % 400);
  return p;
}

}  // namespace

TEST_CASE("peer failure: a scheduler, pool or trie that exits ends every waiting request with an error naming it") {
  for (const char* peer : {"scheduler", "page pool", "prefix trie"}) {
    for (std::size_t jobs_first : {std::size_t{0}, std::size_t{40}}) {
      CAPTURE(peer);
      CAPTURE(jobs_first);
      auto s = coordinated_engine::default_settings(16, 4);
      s.max_batch = 2;  // some requests wait in the queue, others run
      coordinated_engine e(s, 7);
      for (int i = 0; i < 5; ++i) e.submit("r" + std::to_string(i), prompt_for(9, i), 40);
      e.run_random(jobs_first);
      auto& a = e.actors();
      std::string name = peer;
      if (name == "scheduler")
        caf::anon_send_exit(a.scheduler, caf::exit_reason::kill);
      else if (name == "page pool")
        caf::anon_send_exit(a.pool, caf::exit_reason::kill);
      else
        caf::anon_send_exit(a.trie, caf::exit_reason::kill);
      e.run_fifo();
      for (int i = 0; i < 5; ++i) {
        auto& o = e.outcomes()["r" + std::to_string(i)];
        REQUIRE(o.finals.size() == 1);  // exactly one final event: nothing hangs
        auto& f = o.finals[0];
        if (f.type == generation_event::kind::error) {
          CHECK(f.error == engine_errc::internal);
          CHECK_FALSE(f.error_message.empty());
        }
      }
      // At least the requests still waiting on the failed actor got its name.
      int named = 0;
      for (auto& [rid, o] : e.outcomes()) named += o.finals[0].error_message.find(name) != std::string::npos;
      CHECK(named > 0);
      CHECK(e.stop_all());  // no request actor left running
    }
  }
}
