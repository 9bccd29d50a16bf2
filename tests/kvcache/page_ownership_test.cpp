// page_ownership: the state machine the page-pool actor wraps, step by step, and
// proof that check_invariants() recounts each state on its own (so it can fail).

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "kvcache/page_ownership.hpp"
#include "kvcache/prefix_trie.hpp"
#include "tests/kvcache/test_access.hpp"

namespace kvactor {
namespace {

const std::vector<page_id> none;

std::string invariant_message(const page_ownership& pages) {
  try {
    pages.check_invariants();
  } catch (const invariant_error& e) {
    return e.what();
  }
  return {};
}

}  // namespace

TEST_CASE("page_ownership: allocate and release belong to one owner") {
  page_ownership pages(6);
  std::vector<page_id> a, b;
  REQUIRE(pages.allocate(1, 2, a) == kv_errc::ok);
  REQUIRE(pages.allocate(2, 3, b) == kv_errc::ok);
  CHECK(pages.owner_of(a[0]) == 1);
  CHECK(pages.owner_of(b[2]) == 2);
  CHECK(pages.state_of(a[1]) == page_state::private_page);
  std::vector<page_id> too_many;
  CHECK(pages.allocate(3, 2, too_many) == kv_errc::no_capacity);
  CHECK(pages.allocate(3, -1, too_many) == kv_errc::invalid_argument);
  CHECK(pages.allocate(0, 1, too_many) == kv_errc::invalid_argument);  // owner 0 is nobody
  CHECK(too_many.empty());
  // Another owner's page, a repeat, an unknown id: rejected whole.
  CHECK(pages.release(1, {a[0], b[0]}) == kv_errc::not_owner);
  CHECK(pages.release(1, {a[0], a[0]}) == kv_errc::repeated_page);
  CHECK(pages.release(1, {a[0], 6}) == kv_errc::unknown_page);
  CHECK(pages.state_of(a[0]) == page_state::private_page);
  REQUIRE(pages.release(1, {a[0]}) == kv_errc::ok);
  CHECK(pages.release(1, {a[0]}) == kv_errc::double_release);
  const ownership_counts c = pages.counts();
  CHECK(c.free == 2);
  CHECK(c.private_pages == 4);
  CHECK(c.owners == 2);
  CHECK(pages.drop_owner(2) == 3);
  CHECK(pages.counts().owners == 1);
  CHECK(pages.counts().free == 5);
  pages.check_invariants();
}

TEST_CASE("page_ownership: a publish makes canonical pages cached, frees duplicates, returns the rest") {
  page_ownership pages(8);
  std::vector<page_id> mine, other;
  REQUIRE(pages.allocate(1, 4, mine) == kv_errc::ok);   // 0..3
  REQUIRE(pages.allocate(2, 1, other) == kv_errc::ok);  // 4
  CHECK(pages.begin_publish(1, {mine[0], other[0]}).status == kv_errc::not_owner);
  CHECK(pages.begin_publish(1, {mine[0], other[0]}).page == other[0]);
  CHECK(pages.begin_publish(1, {7}).status == kv_errc::unknown_page);   // free
  CHECK(pages.begin_publish(1, {-1}).status == kv_errc::unknown_page);  // out of range
  CHECK(pages.pending_publishes() == 0);
  const auto ticket = pages.begin_publish(1, mine);
  REQUIRE(ticket.status == kv_errc::ok);
  CHECK(pages.counts().publishing == 4);
  CHECK(pages.begin_publish(1, {mine[0]}).status == kv_errc::not_owner);  // already on its way
  CHECK(pages.release(1, {mine[0]}) == kv_errc::not_owner);
  pages.check_invariants();
  // The trie kept 0 and 1, found 2 a duplicate and never looked at 3.
  const auto freed = pages.finish_publish(ticket.id, true, {mine[0], mine[1]}, {mine[2]});
  CHECK(freed == std::vector<page_id>{mine[2]});
  CHECK(pages.state_of(mine[0]) == page_state::cached);
  CHECK(pages.owner_of(mine[0]) == 0);
  CHECK(pages.state_of(mine[2]) == page_state::free);
  CHECK(pages.state_of(mine[3]) == page_state::private_page);
  CHECK(pages.owner_of(mine[3]) == 1);
  CHECK(pages.counts().cached == 2);
  CHECK(pages.finish_publish(ticket.id, true, {}, {}).empty());  // a second answer is ignored
  CHECK(pages.release(1, {mine[0]}) == kv_errc::page_in_use);
  // Cached pages may be named again in a later publish; they are skipped.
  const auto again = pages.begin_publish(1, {mine[0], mine[3]});
  REQUIRE(again.status == kv_errc::ok);
  pages.finish_publish(again.id, false, none, none);  // rejected: back to the owner
  CHECK(pages.state_of(mine[3]) == page_state::private_page);
  CHECK(pages.state_of(mine[0]) == page_state::cached);
  CHECK(pages.release_evicted({mine[3]}) == kv_errc::not_cached);
  REQUIRE(pages.release_evicted({mine[0], mine[1]}) == kv_errc::ok);
  CHECK(pages.counts().cached == 0);
  pages.check_invariants();
}

TEST_CASE("page_ownership: a publish orphaned by its owner's drop frees what the trie does not keep") {
  page_ownership pages(4);
  std::vector<page_id> mine;
  REQUIRE(pages.allocate(1, 3, mine) == kv_errc::ok);
  const auto accepted = pages.begin_publish(1, {mine[0], mine[1]});
  REQUIRE(accepted.status == kv_errc::ok);
  CHECK(pages.drop_owner(1) == 1);  // only the page not on its way is freed now
  CHECK(pages.state_of(mine[0]) == page_state::publishing);
  pages.check_invariants();
  pages.finish_publish(accepted.id, true, {mine[0]}, {mine[1]});
  CHECK(pages.state_of(mine[0]) == page_state::cached);
  CHECK(pages.state_of(mine[1]) == page_state::free);
  // Rejected for an owner that is gone: nothing to give back to.
  std::vector<page_id> more;
  REQUIRE(pages.allocate(2, 2, more) == kv_errc::ok);
  const auto rejected = pages.begin_publish(2, more);
  REQUIRE(rejected.status == kv_errc::ok);
  CHECK(pages.drop_owner(2) == 0);
  CHECK(pages.finish_publish(rejected.id, false, none, none).size() == 2);
  CHECK(pages.counts().owners == 0);
  CHECK(pages.counts().free == 3);
  pages.check_invariants();
}

TEST_CASE("page_ownership: state map and cross check against the trie's cached states") {
  page_ownership pages(6);
  prefix_trie trie(2, 6);
  std::vector<page_id> mine;
  REQUIRE(pages.allocate(1, 4, mine) == kv_errc::ok);  // 0..3
  const auto ticket = pages.begin_publish(1, {0, 1, 2});
  const publish_result locked = trie.publish(1, {1, 1, 2, 2}, {0, 1}, 0, 1);
  const publish_result loose = trie.publish(1, {3, 3}, {2}, 0, 1);
  REQUIRE(trie.unlock(loose.handle) == kv_errc::ok);
  pages.finish_publish(ticket.id, true, {0, 1, 2}, {});
  CHECK(page_state_map(pages, trie.cached_states()) == "LLepff");
  CHECK(cross_check(pages, trie.cached_states()).empty());
  CHECK(pages.counts().cached == 3);
  CHECK(locked.handle != 0);
  // The trie forgets page 2 behind the pool's back.
  REQUIRE(trie.evict(1) == std::vector<page_id>{2});
  CHECK(page_state_map(pages, trie.cached_states()) == "LL!pff");
  CHECK(cross_check(pages, trie.cached_states()) == "page 2: pool says cached, trie disagrees");
  CHECK(!cross_check(pages, {0, 0}).empty());
}

TEST_CASE("page_ownership: check_invariants recounts every state on its own") {
  // Each corruption leaves the other counters consistent with each other, so only
  // an independent recount from the per-page states, owner records and publishing
  // table notices (private is never derived as allocated - cached).
  const auto fresh = [] {
    page_ownership pages(8);
    std::vector<page_id> got;
    REQUIRE(pages.allocate(1, 3, got) == kv_errc::ok);  // 0 1 2
    REQUIRE(pages.allocate(2, 2, got) == kv_errc::ok);  // 3 4
    const auto t = pages.begin_publish(1, {0, 1});
    REQUIRE(t.status == kv_errc::ok);
    pages.finish_publish(t.id, true, {0}, {});                   // 0 cached, 1 back to owner 1
    REQUIRE(pages.begin_publish(2, {3}).status == kv_errc::ok);  // 3 publishing
    pages.check_invariants();
    return pages;
  };
  SUBCASE("a private page marked cached without the counters") {
    auto pages = fresh();
    kvcache_test_access::set_state(pages, 2, page_state::cached);
    CHECK(invariant_message(pages).find("page 2 is cached but has an owner") != std::string::npos);
  }
  SUBCASE("a private page marked cached, owner and record cleared too") {
    auto pages = fresh();
    kvcache_test_access::set_state(pages, 2, page_state::cached);
    kvcache_test_access::set_owner(pages, 2, 0);
    kvcache_test_access::erase_from_record(pages, 1, 2);
    CHECK(invariant_message(pages).find("private counter 3 disagrees with the recount 2") != std::string::npos);
  }
  SUBCASE("the private counter drifts") {
    auto pages = fresh();
    kvcache_test_access::bump_private_counter(pages, 1);
    CHECK(invariant_message(pages).find("private counter") != std::string::npos);
  }
  SUBCASE("the cached counter drifts") {
    auto pages = fresh();
    kvcache_test_access::bump_cached_counter(pages, -1);
    CHECK(invariant_message(pages).find("cached counter") != std::string::npos);
  }
  SUBCASE("a page missing from its owner's record") {
    auto pages = fresh();
    kvcache_test_access::erase_from_record(pages, 1, 1);
    CHECK(invariant_message(pages).find("page 1 is missing from its owner's record") != std::string::npos);
  }
  SUBCASE("an owner record listing a page it does not hold") {
    auto pages = fresh();
    kvcache_test_access::add_to_record(pages, 2, 1);
    CHECK(invariant_message(pages).find("page 1 is listed for an owner that does not hold it") != std::string::npos);
  }
  SUBCASE("a publishing page the publishing table forgot") {
    auto pages = fresh();
    kvcache_test_access::drop_from_publishing_table(pages, 3);
    CHECK(invariant_message(pages).find("publishing (table) counter 1 disagrees with the recount 0") !=
          std::string::npos);
  }
  SUBCASE("a private page freed in the pool behind the owner's back") {
    auto pages = fresh();
    REQUIRE(kvcache_test_access::pool_of(pages).release({4}) == kv_errc::ok);
    CHECK(invariant_message(pages).find("page 4 is private but free in the pool") != std::string::npos);
  }
  SUBCASE("untouched, the state passes") {
    auto pages = fresh();
    CHECK(invariant_message(pages).empty());
  }
}

}  // namespace kvactor
