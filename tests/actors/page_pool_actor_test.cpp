// The page-pool actor with a real trie actor under CAF's test coordinator: the
// test decides which actor runs when, so an eviction can be held in flight while
// other messages reach the pool.
#include <doctest/doctest.h>

#include <memory>
#include <optional>
#include <string>

#include "actors/engine.hpp"
#include "actors/page_pool_actor.hpp"
#include "actors/trie_actor.hpp"

using namespace kvactor;

namespace {

// What one client of the pool got back.
struct client_log {
  std::optional<page_list> pages;
  std::optional<caf::error> alloc_error;
  std::optional<publish_reply> published;
  std::optional<int32_t> dropped;
};

// A pool client: forwards alloc / publish / drop to the pool as its own requests
// (the pool's owner is the sender) and records the answers.
caf::behavior pool_client(caf::event_based_actor* self, pool_actor pool, std::shared_ptr<client_log> log) {
  return {
      [=](alloc_atom, int32_t n) {
        self->request(pool, caf::infinite, alloc_atom_v, n)
            .then([=](page_list& pages) { log->pages = pages; }, [=](caf::error& err) { log->alloc_error = err; });
      },
      [=](publish_atom, publish_request& req) {
        self->request(pool, caf::infinite, publish_atom_v, std::move(req))
            .then([=](publish_reply& reply) { log->published = reply; }, [](caf::error&) {});
      },
      [=](drop_atom) {
        self->request(pool, caf::infinite, drop_atom_v).then([=](int32_t n) { log->dropped = n; }, [](caf::error&) {});
      },
  };
}

class pool_fixture {
 public:
  pool_fixture(int32_t num_pages, int32_t page_size) {
    cfg_.set("scheduler.policy", caf::atom("testing"));
    add_engine_types(cfg_);
    sys_ = std::make_unique<caf::actor_system>(cfg_);
    sched_ = &dynamic_cast<caf::scheduler::test_coordinator&>(sys_->scheduler());
    trie = spawn_trie(*sys_, page_size, num_pages, "lru");
    pool = spawn_page_pool(*sys_, num_pages, trie);
    sched_->run();
  }
  ~pool_fixture() {
    for (auto& c : clients_) caf::anon_send_exit(c, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(pool, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(trie, caf::exit_reason::user_shutdown);
    sched_->run();
  }

  caf::actor client(std::shared_ptr<client_log> log) {
    clients_.push_back(sys_->spawn(pool_client, pool, std::move(log)));
    return clients_.back();
  }
  std::size_t run() { return sched_->run(); }
  // Runs jobs of the given actors only; everyone else (the trie) stays frozen.
  template <class... Handles>
  std::size_t run_only(const Handles&... hs) {
    std::vector<caf::resumable*> allowed{dynamic_cast<caf::resumable*>(caf::actor_cast<caf::abstract_actor*>(hs))...};
    return sched_->run_jobs_filtered(
        [&](caf::resumable* r) { return std::find(allowed.begin(), allowed.end(), r) != allowed.end(); });
  }
  template <class T, class... Ts>
  std::optional<T> ask_pool(Ts... xs) {
    auto result = std::make_shared<std::optional<T>>();
    sys_->spawn(
        [=](caf::event_based_actor* self, pool_actor target) {
          self->request(target, caf::infinite, xs...).then([=](T& x) { *result = std::move(x); }, [](caf::error&) {});
        },
        pool);
    run();
    return *result;
  }

  trie_actor trie;
  pool_actor pool;

 private:
  caf::actor_system_config cfg_;
  std::unique_ptr<caf::actor_system> sys_;
  caf::scheduler::test_coordinator* sched_ = nullptr;
  std::vector<caf::actor> clients_;
};

}  // namespace

TEST_CASE("page pool: a waiting allocation waits for the eviction in flight, whatever frees pages meanwhile") {
  // 4 pages of 2 tokens. A caches pages 0 and 1 (evictable once it drops), B holds
  // page 2, C asks for 3 pages: 1 free, so the pool asks the trie to evict 2. While
  // that eviction is in flight B drops or dies (freeing page 2: 2 free, still short
  // of 3). C must get its pages from the eviction, not no_capacity.
  for (bool dies : {false, true}) {
    CAPTURE(dies);
    pool_fixture f(4, 2);
    auto a_log = std::make_shared<client_log>();
    auto b_log = std::make_shared<client_log>();
    auto c_log = std::make_shared<client_log>();
    auto a = f.client(a_log);
    auto b = f.client(b_log);
    auto c = f.client(c_log);
    caf::anon_send(a, alloc_atom_v, int32_t{2});
    f.run();
    REQUIRE(a_log->pages == page_list{0, 1});
    caf::anon_send(a, publish_atom_v, publish_request{1, {5, 6, 7, 8}, {0, 1}, 0});
    f.run();
    REQUIRE(a_log->published.has_value());
    caf::anon_send(a, drop_atom_v);
    caf::anon_send(b, alloc_atom_v, int32_t{1});
    f.run();
    REQUIRE(b_log->pages == page_list{2});
    auto counts = f.ask_pool<pool_counts>(counts_atom_v);
    REQUIRE(counts);
    CHECK(counts->cached == 2);
    CHECK(counts->free == 1);

    caf::anon_send(c, alloc_atom_v, int32_t{3});
    f.run_only(c, f.pool);  // C waits; the pool's evict request sits in the frozen trie's mailbox
    CHECK_FALSE(c_log->pages.has_value());
    CHECK_FALSE(c_log->alloc_error.has_value());
    if (dies)
      caf::anon_send_exit(b, caf::exit_reason::kill);
    else
      caf::anon_send(b, drop_atom_v);
    f.run_only(b, f.pool, c);  // the pool frees page 2 and serves its queue; the trie is still frozen
    CHECK_FALSE(c_log->alloc_error.has_value());
    CHECK_FALSE(c_log->pages.has_value());
    f.run();  // the eviction lands
    CAPTURE(c_log->alloc_error ? caf::to_string(*c_log->alloc_error) : std::string("none"));
    REQUIRE(c_log->pages.has_value());
    CHECK(c_log->pages->size() == 3);
    counts = f.ask_pool<pool_counts>(counts_atom_v);
    REQUIRE(counts);
    CHECK(counts->private_pages == 3);
    CHECK(counts->cached == 0);
    CHECK(counts->waiting_allocs == 0);
  }
}

TEST_CASE("page pool: a publish that finishes while an eviction is in flight does not fail the waiting allocation") {
  // The third caller of the waiting queue, finish_publish. 4 pages of 2 tokens: A caches
  // pages 0 and 1 and drops, B holds page 2 and starts publishing it while the trie is
  // frozen, C asks for 3 pages (1 free: the pool asks the trie to evict 2, behind B's
  // publish in the trie's mailbox). The trie answers the publish first; the pool must
  // keep C waiting for the eviction, not answer no_capacity.
  pool_fixture f(4, 2);
  auto a_log = std::make_shared<client_log>();
  auto b_log = std::make_shared<client_log>();
  auto c_log = std::make_shared<client_log>();
  auto a = f.client(a_log);
  auto b = f.client(b_log);
  auto c = f.client(c_log);
  caf::anon_send(a, alloc_atom_v, int32_t{2});
  f.run();
  REQUIRE(a_log->pages == page_list{0, 1});
  caf::anon_send(a, publish_atom_v, publish_request{1, {5, 6, 7, 8}, {0, 1}, 0});
  f.run();
  REQUIRE(a_log->published.has_value());
  caf::anon_send(a, drop_atom_v);
  caf::anon_send(b, alloc_atom_v, int32_t{1});
  f.run();
  REQUIRE(b_log->pages == page_list{2});

  caf::anon_send(b, publish_atom_v, publish_request{1, {9, 10}, {2}, 0});
  f.run_only(b, f.pool);  // the pool forwards B's publish; it waits in the frozen trie's mailbox
  caf::anon_send(c, alloc_atom_v, int32_t{3});
  f.run_only(c, f.pool);  // C waits; the evict request queues behind the publish
  CHECK_FALSE(c_log->alloc_error.has_value());
  f.run_only(f.trie);        // the trie answers the publish, then the eviction
  f.run_only(f.pool, b, c);  // the pool finishes B's publish first, then releases the evicted pages
  CAPTURE(c_log->alloc_error ? caf::to_string(*c_log->alloc_error) : std::string("none"));
  CHECK(b_log->published.has_value());
  REQUIRE(c_log->pages.has_value());
  CHECK(c_log->pages->size() == 3);
  f.run();
  auto counts = f.ask_pool<pool_counts>(counts_atom_v);
  REQUIRE(counts);
  CHECK(counts->private_pages == 3);
  CHECK(counts->publishing == 0);
  CHECK(counts->cached == 1);  // B's page 2, still locked by B
  CHECK(counts->waiting_allocs == 0);
}
