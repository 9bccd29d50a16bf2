// The failure modes that motivated kvactor (seen in shortfin, vLLM and SGLang prefix
// caches), each as a named test. Each test drives the scenario through the public
// API and, where the structure could be corrupted, also breaks the state on purpose
// to prove that check_invariants() would catch that bug.

#include <doctest/doctest.h>

#include <algorithm>
#include <set>
#include <vector>

#include "tests/kvcache/paged_cache.hpp"
#include "tests/kvcache/test_access.hpp"

namespace kvactor {
namespace {

std::vector<int32_t> prompt(int32_t pages, int32_t page_size, int32_t salt) {
  std::vector<int32_t> tokens;
  for (int32_t i = 0; i < pages * page_size + 1; ++i) tokens.push_back(salt * 1000 + i);
  return tokens;
}

}  // namespace

TEST_CASE("duplicate allocation") {
  // No page is ever handed out twice while held, across churn of mixed batch sizes.
  paged_cache cache(64, 4);
  std::set<page_id> held;
  std::vector<std::vector<page_id>> batches;
  for (int round = 0; round < 200; ++round) {
    if (round % 3 == 2 && !batches.empty()) {
      const auto batch = batches[static_cast<size_t>(round) % batches.size()];
      REQUIRE(cache.release(batch) == kv_errc::ok);
      for (page_id p : batch) held.erase(p);
      batches.erase(std::find(batches.begin(), batches.end(), batch));
      continue;
    }
    std::vector<page_id> batch;
    const kv_errc status = cache.allocate(1 + round % 7, batch);
    if (status == kv_errc::no_capacity) continue;
    REQUIRE(status == kv_errc::ok);
    for (page_id p : batch) CHECK(held.insert(p).second);  // fails if p was already held
    batches.push_back(batch);
    cache.check_invariants();
  }
  CHECK(cache.accounting().private_pages == static_cast<int32_t>(held.size()));
  // The bug itself: an allocated page back on the free list would be handed out again.
  page_pool pool(4);
  std::vector<page_id> pages;
  REQUIRE(pool.allocate(1, pages) == kv_errc::ok);
  kvcache_test_access::push_on_free_list(pool, pages[0]);
  CHECK_THROWS_AS(pool.check_invariants(), invariant_error);
}

TEST_CASE("release of a page still in use") {
  paged_cache cache(8, 2);
  const auto tokens = prompt(2, 2, 1);
  std::vector<page_id> pages;
  REQUIRE(cache.allocate(2, pages) == kv_errc::ok);
  const publish_result pub = cache.publish(1, tokens, pages, 0, 1);
  REQUIRE(pub.status == kv_errc::ok);
  // The request's pages are now the trie's: releasing them to the pool is refused
  // while locked and while merely cached, and nothing changes.
  const page_accounting before = cache.accounting();
  CHECK(cache.release({pages[0]}) == kv_errc::page_in_use);
  REQUIRE(cache.unlock(pub.handle) == kv_errc::ok);
  CHECK(cache.release({pages[1]}) == kv_errc::page_in_use);
  std::vector<page_id> mine;
  REQUIRE(cache.allocate(1, mine) == kv_errc::ok);
  CHECK(cache.release({mine[0], pages[0]}) == kv_errc::page_in_use);  // whole call rejected
  CHECK(cache.ownership().state_of(mine[0]) == page_state::private_page);
  CHECK(cache.accounting().cached() == before.cached());
  cache.check_invariants();
  // Releasing a private page twice is refused too.
  REQUIRE(cache.release(mine) == kv_errc::ok);
  CHECK(cache.release(mine) == kv_errc::double_release);
  cache.check_invariants();
  // The bug itself, with ownership and trie held apart as the actors hold them: a
  // cached page freed behind the trie's back is caught by the cross check.
  page_ownership apart(4);
  prefix_trie trie(2, 4);
  std::vector<page_id> raw;
  REQUIRE(apart.allocate(7, 1, raw) == kv_errc::ok);
  const auto ticket = apart.begin_publish(7, raw);
  REQUIRE(ticket.status == kv_errc::ok);
  const publish_result published = trie.publish(1, {5, 6}, raw, 0, 1);
  REQUIRE(published.status == kv_errc::ok);
  apart.finish_publish(ticket.id, true, published.pages, published.duplicates);
  CHECK(cross_check(apart, trie.cached_states()).empty());
  REQUIRE(apart.release_evicted(raw) == kv_errc::ok);  // the trie never evicted it
  apart.check_invariants();                            // each half alone is consistent
  CHECK(cross_check(apart, trie.cached_states()).find("pool says not cached") != std::string::npos);
  CHECK(page_state_map(apart, trie.cached_states()) == "!fff");
}

TEST_CASE("reuse before the last holder lets go") {
  // Two readers share a cached prefix. Under memory pressure the pages must not be
  // evicted and handed to a third request until both have unlocked.
  paged_cache cache(4, 2);
  const auto tokens = prompt(2, 2, 3);
  std::vector<page_id> pages;
  REQUIRE(cache.allocate(2, pages) == kv_errc::ok);
  const publish_result writer = cache.publish(1, tokens, pages, 0, 1);
  REQUIRE(writer.status == kv_errc::ok);
  REQUIRE(cache.unlock(writer.handle) == kv_errc::ok);
  const match_result reader_a = cache.match(1, tokens, 2);
  const match_result reader_b = cache.match(1, tokens, 3);
  REQUIRE(reader_a.pages == pages);
  REQUIRE(reader_b.pages == pages);
  std::vector<page_id> other;
  CHECK(cache.allocate(3, other) == kv_errc::no_capacity);  // only 2 free, 0 evictable
  CHECK(other.empty());
  REQUIRE(cache.unlock(reader_a.handle) == kv_errc::ok);
  CHECK(cache.allocate(3, other) == kv_errc::no_capacity);  // b still reads them
  CHECK(cache.trie().locked_pages() == 2);
  CHECK(lock_of(cache.trie(), pages[0]) == 1);
  REQUIRE(cache.unlock(reader_b.handle) == kv_errc::ok);
  REQUIRE(cache.allocate(3, other) == kv_errc::ok);              // now one cached page may go
  CHECK(std::count(other.begin(), other.end(), pages[1]) == 1);  // the leaf, not the root-side page
  CHECK(cache.trie().state_of(pages[0]) == cached_state::evictable);
  cache.check_invariants();
  // A stale handle cannot unlock someone else's hold.
  const match_result reader_c = cache.match(1, tokens, 4);
  REQUIRE(reader_c.handle != 0);
  CHECK(cache.unlock(reader_a.handle) == kv_errc::unknown_handle);
  CHECK(cache.trie().locked_pages() == 1);
  REQUIRE(cache.unlock(reader_c.handle) == kv_errc::ok);
  cache.check_invariants();
}

TEST_CASE("a node unlinked while locked") {
  // Locked nodes, leaves or not, are never evicted however hard eviction is pushed.
  prefix_trie trie(2, 64);
  const auto held = prompt(4, 2, 1);
  const publish_result pub = trie.publish(1, held, {0, 1, 2, 3}, 0, 1);
  REQUIRE(pub.status == kv_errc::ok);
  // Unlocked branches off the locked path, and unlocked trees elsewhere.
  for (int32_t i = 0; i < 5; ++i) {
    std::vector<int32_t> branch(held.begin(), held.begin() + 4);
    branch.insert(branch.end(), {-i, -i, -i, -i});
    REQUIRE(trie.unlock(trie.publish(1, branch, {0, 1, 10 + 2 * i, 11 + 2 * i}, 0, 2).handle) == kv_errc::ok);
    REQUIRE(trie.unlock(trie.publish(1, prompt(2, 2, 9 + i), {30 + 2 * i, 31 + 2 * i}, 0, 2).handle) == kv_errc::ok);
  }
  const std::vector<page_id> evicted = trie.evict(1000);
  CHECK(evicted.size() == 20);
  for (page_id p : {0, 1, 2, 3}) CHECK(std::count(evicted.begin(), evicted.end(), p) == 0);
  CHECK(trie.cached_pages() == 4);
  trie.check_invariants();
  const match_result again = trie.match(1, held, 3);
  CHECK(again.pages == std::vector<page_id>{0, 1, 2, 3});
  REQUIRE(trie.unlock(again.handle) == kv_errc::ok);
  REQUIRE(trie.unlock(pub.handle) == kv_errc::ok);
  CHECK(trie.evict(1000).size() == 4);
  CHECK(trie.cached_pages() == 0);
  trie.check_invariants();
  // The bug itself: a locked leaf in the evictable set.
  prefix_trie broken(2, 8);
  const publish_result locked = broken.publish(1, {1, 2, 3}, {5}, 0, 1);
  REQUIRE(locked.status == kv_errc::ok);
  kvcache_test_access::heap_push(broken, 5);
  CHECK_THROWS_AS(broken.check_invariants(), invariant_error);
}

TEST_CASE("parent/child links corrupted by eviction") {
  // A small tree with branching at several depths; evict one page at a time and
  // check the links after every step, and that the survivors still match.
  prefix_trie trie(1, 64);
  const std::vector<std::vector<int32_t>> prompts = {{1, 2, 3, 4, 0}, {1, 2, 3, 5, 0}, {1, 2, 6, 0},
                                                     {1, 7, 0},       {8, 9, 0},       {1, 2, 3, 4, 10, 11, 0}};
  page_id next = 0;
  for (const auto& p : prompts) {
    std::vector<page_id> pages;
    for (size_t i = 0; i + 1 < p.size(); ++i) pages.push_back(next++);
    const publish_result r = trie.publish(1, p, pages, 0, static_cast<uint64_t>(next));
    REQUIRE(r.status == kv_errc::ok);
    REQUIRE(trie.unlock(r.handle) == kv_errc::ok);
  }
  trie.check_invariants();
  const int32_t total = trie.cached_pages();
  for (int32_t step = 0; step < total; ++step) {
    const std::vector<page_id> one = trie.evict(1);
    REQUIRE(one.size() == 1);
    trie.check_invariants();
    // Every surviving node is still reachable by its own prompt prefix.
    for (const auto& p : prompts) {
      const match_result hit = trie.match(1, p, 100);
      for (page_id page : hit.pages) CHECK(trie.state_of(page) != cached_state::not_cached);
      if (hit.handle) REQUIRE(trie.unlock(hit.handle) == kv_errc::ok);
    }
    // Re-matching touched survivors; evicted pages are gone for good.
    CHECK(trie.state_of(one[0]) == cached_state::not_cached);
  }
  CHECK(trie.cached_pages() == 0);
  // A parent whose last child goes is evictable within the same call.
  REQUIRE(trie.unlock(trie.publish(1, {1, 2, 3, 0}, {0, 1, 2}, 0, 1).handle) == kv_errc::ok);
  CHECK(trie.evict(3) == std::vector<page_id>{2, 1, 0});
  trie.check_invariants();
  // The bug itself: a sibling link left dangling.
  prefix_trie broken(1, 8);
  REQUIRE(broken.publish(1, {1, 0}, {1}, 0, 1).status == kv_errc::ok);
  REQUIRE(broken.publish(1, {2, 0}, {2}, 0, 1).status == kv_errc::ok);
  kvcache_test_access::node_of(broken, 1).prev_sibling = 7;
  CHECK_THROWS_AS(broken.check_invariants(), invariant_error);
}

TEST_CASE("locks counted only on the last node instead of the whole path") {
  prefix_trie trie(2, 32);
  const auto tokens = prompt(4, 2, 2);
  const publish_result pub = trie.publish(1, tokens, {0, 1, 2, 3}, 0, 1);
  REQUIRE(trie.unlock(pub.handle) == kv_errc::ok);
  // A long reader and a short reader.
  const match_result longer = trie.match(1, tokens, 2);
  const std::vector<int32_t> short_prompt(tokens.begin(), tokens.begin() + 5);
  const match_result shorter = trie.match(1, short_prompt, 3);
  REQUIRE(longer.pages.size() == 4);
  REQUIRE(shorter.pages.size() == 2);
  CHECK(lock_of(trie, 0) == 2);
  CHECK(lock_of(trie, 1) == 2);
  CHECK(lock_of(trie, 2) == 1);
  CHECK(lock_of(trie, 3) == 1);
  CHECK(trie.locked_pages() == 4);
  // The long reader leaves: if only its last node had been locked, the short
  // reader's pages would now look unlocked; they must stay locked.
  REQUIRE(trie.unlock(longer.handle) == kv_errc::ok);
  CHECK(lock_of(trie, 0) == 1);
  CHECK(lock_of(trie, 1) == 1);
  CHECK(trie.evict(10) == std::vector<page_id>{3, 2});
  CHECK(trie.cached_pages() == 2);
  REQUIRE(trie.unlock(shorter.handle) == kv_errc::ok);
  CHECK(trie.evict(10) == std::vector<page_id>{1, 0});
  trie.check_invariants();
  // The bug itself: an interior node without the lock its descendant's reader holds.
  prefix_trie broken(2, 8);
  REQUIRE(broken.publish(1, {1, 1, 2, 2, 3}, {0, 1}, 0, 1).status == kv_errc::ok);
  kvcache_test_access::node_of(broken, 0).lock_count = 0;
  kvcache_test_access::set_locked_counter(broken, 1);
  CHECK_THROWS_AS(broken.check_invariants(), invariant_error);
}

TEST_CASE("duplicate pages double-counted as evictable") {
  // Two requests compute the same prompt concurrently, each into private pages;
  // both publish. The loser's pages are duplicates: released once, never cached,
  // never counted as evictable, and every page is evicted exactly once.
  paged_cache cache(16, 4);
  const auto tokens = prompt(3, 4, 5);
  std::vector<page_id> first;
  std::vector<page_id> second;
  REQUIRE(cache.allocate(3, first) == kv_errc::ok);
  REQUIRE(cache.allocate(3, second) == kv_errc::ok);
  const publish_result a = cache.publish(1, tokens, first, 0, 1);
  const publish_result b = cache.publish(1, tokens, second, 0, 2);
  REQUIRE(a.status == kv_errc::ok);
  REQUIRE(b.status == kv_errc::ok);
  CHECK(b.duplicates == second);
  CHECK(b.pages == first);
  CHECK(b.inserted == 0);
  for (page_id p : second) CHECK(cache.ownership().state_of(p) == page_state::free);  // released exactly once
  page_accounting counts = cache.accounting();
  CHECK(counts.cached() == 3);
  CHECK(counts.cached_locked == 3);
  CHECK(counts.cached_evictable == 0);
  CHECK(counts.free == 13);
  CHECK(counts.private_pages == 0);
  REQUIRE(cache.unlock(a.handle) == kv_errc::ok);
  REQUIRE(cache.unlock(b.handle) == kv_errc::ok);
  counts = cache.accounting();
  CHECK(counts.cached_evictable == 3);
  CHECK(counts.free + counts.private_pages + counts.cached() == counts.total);
  const std::vector<page_id> evicted = cache.evict(100);
  CHECK(evicted.size() == 3);
  CHECK(std::set<page_id>(evicted.begin(), evicted.end()) == std::set<page_id>(first.begin(), first.end()));
  CHECK(cache.ownership().free_count() == 16);
  cache.check_invariants();
  // The bug itself: a page the trie holds twice.
  prefix_trie broken(4, 8);
  REQUIRE(broken.publish(1, prompt(1, 4, 1), {3}, 0, 1).status == kv_errc::ok);
  REQUIRE(broken.publish(1, prompt(1, 4, 2), {4}, 0, 1).status == kv_errc::ok);
  kvcache_test_access::node_of(broken, 4).page = 3;
  CHECK_THROWS_AS(broken.check_invariants(), invariant_error);
}

}  // namespace kvactor
