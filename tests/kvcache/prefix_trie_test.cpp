#include <doctest/doctest.h>

#include <numeric>
#include <vector>

#include "kvcache/prefix_trie.hpp"
#include "tests/kvcache/test_access.hpp"

namespace kvactor {
namespace {

std::vector<int32_t> iota_tokens(int32_t count, int32_t first = 100) {
  std::vector<int32_t> tokens(static_cast<size_t>(count));
  std::iota(tokens.begin(), tokens.end(), first);
  return tokens;
}

}  // namespace

TEST_CASE("prefix_trie: constructor rejects bad sizes") {
  CHECK_THROWS_AS(prefix_trie(0, 8), std::invalid_argument);
  CHECK_THROWS_AS(prefix_trie(16, -1), std::invalid_argument);
  CHECK(prefix_trie(16, 8).policy_name() == std::string("lru"));
  CHECK(prefix_trie(16, 8, make_eviction_policy("lfu")).policy_name() == std::string("lfu"));
  CHECK(make_eviction_policy("fifo") == nullptr);
}

TEST_CASE("prefix_trie: empty trie matches nothing and locks nothing") {
  prefix_trie trie(4, 16);
  const match_result hit = trie.match(1, iota_tokens(12), 1);
  CHECK(hit.pages.empty());
  CHECK(hit.cached_tokens == 0);
  CHECK(hit.handle == 0);
  CHECK(trie.live_handles() == 0);
  trie.check_invariants();
}

TEST_CASE("prefix_trie: match returns whole pages and always leaves the last token") {
  prefix_trie trie(4, 16);
  const auto tokens = iota_tokens(12);  // 3 full pages
  const publish_result pub = trie.publish(1, tokens, {5, 6, 7}, 0, 1);
  REQUIRE(pub.status == kv_errc::ok);
  CHECK(pub.inserted == 3);
  CHECK(pub.duplicates.empty());
  CHECK(pub.pages == std::vector<page_id>{5, 6, 7});
  REQUIRE(trie.unlock(pub.handle) == kv_errc::ok);

  SUBCASE("exactly the cached prompt: the last page stays uncached") {
    const match_result hit = trie.match(1, tokens, 2);
    CHECK(hit.pages == std::vector<page_id>{5, 6});
    CHECK(hit.cached_tokens == 8);
  }
  SUBCASE("one token more: all three pages") {
    auto longer = tokens;
    longer.push_back(9);
    CHECK(trie.match(1, longer, 2).pages == std::vector<page_id>{5, 6, 7});
  }
  SUBCASE("a partial page is never matched") {
    const std::vector<int32_t> partial(tokens.begin(), tokens.begin() + 7);
    CHECK(trie.match(1, partial, 2).pages == std::vector<page_id>{5});
  }
  SUBCASE("divergence inside a page stops the match before it") {
    auto diverged = tokens;
    diverged[6] = -3;
    CHECK(trie.match(1, diverged, 2).pages == std::vector<page_id>{5});
  }
  SUBCASE("one token or none") {
    CHECK(trie.match(1, {100}, 2).handle == 0);
    CHECK(trie.match(1, {}, 2).handle == 0);
  }
  SUBCASE("another namespace sees nothing") { CHECK(trie.match(2, tokens, 2).pages.empty()); }
  SUBCASE("the read-only match agrees and changes nothing") {
    const auto before = trie.snapshot(100, 100);
    CHECK(trie.cached_prefix_pages(1, tokens) == 2);
    CHECK(trie.cached_prefix_pages(1, {tokens.begin(), tokens.begin() + 7}) == 1);
    CHECK(trie.cached_prefix_pages(2, tokens) == 0);
    CHECK(trie.cached_prefix_pages(1, {}) == 0);
    const auto after = trie.snapshot(100, 100);
    REQUIRE(after.nodes.size() == before.nodes.size());
    for (size_t i = 0; i < after.nodes.size(); ++i) {
      CHECK(after.nodes[i].lock_count == before.nodes[i].lock_count);
      CHECK(after.nodes[i].hit_count == before.nodes[i].hit_count);
      CHECK(after.nodes[i].last_access == before.nodes[i].last_access);
    }
    CHECK(trie.live_handles() == 0);
  }
  trie.check_invariants();
}

TEST_CASE("prefix_trie: publish hands back duplicates and the canonical pages") {
  prefix_trie trie(2, 32);
  const std::vector<int32_t> first{1, 2, 3, 4};
  const publish_result a = trie.publish(1, first, {10, 11}, 0, 1);
  REQUIRE(a.status == kv_errc::ok);
  // Same first page, different second and a new third page: the path is one chain,
  // the new nodes hang under the existing first node.
  const std::vector<int32_t> second{1, 2, 9, 9, 5, 5, 6};
  const publish_result b = trie.publish(1, second, {20, 21, 22, 23}, 0, 2);
  REQUIRE(b.status == kv_errc::ok);
  CHECK(b.duplicates == std::vector<page_id>{20});
  CHECK(b.pages == std::vector<page_id>{10, 21, 22});  // page 23 (partial) ignored
  CHECK(b.inserted == 2);
  CHECK(trie.cached_pages() == 4);
  CHECK(trie.handle_pages(b.handle) == std::vector<page_id>{10, 21, 22});
  CHECK(lock_of(trie, 10) == 2);
  CHECK(lock_of(trie, 11) == 1);
  CHECK(lock_of(trie, 22) == 1);
  trie.check_invariants();
  REQUIRE(trie.unlock(a.handle) == kv_errc::ok);
  REQUIRE(trie.unlock(b.handle) == kv_errc::ok);
  CHECK(trie.locked_pages() == 0);
  // Re-publishing what the trie already holds, with the trie's own pages, is a no-op.
  const publish_result again = trie.publish(1, first, {10, 11}, 0, 3);
  CHECK(again.status == kv_errc::ok);
  CHECK(again.inserted == 0);
  CHECK(again.duplicates.empty());
  REQUIRE(trie.unlock(again.handle) == kv_errc::ok);
  trie.check_invariants();
}

TEST_CASE("prefix_trie: publish with a match handle extends that lock (cache_unfinished_req)") {
  prefix_trie trie(2, 32);
  const std::vector<int32_t> prompt{1, 2, 3, 4, 5};
  const publish_result seed = trie.publish(1, prompt, {1, 2}, 0, 1);
  REQUIRE(trie.unlock(seed.handle) == kv_errc::ok);

  std::vector<int32_t> sequence{1, 2, 3, 4, 5, 6, 7, 8, 9};
  const match_result hit = trie.match(1, sequence, 2);
  REQUIRE(hit.pages == std::vector<page_id>{1, 2});
  // The request wrote pages 3 and 4 privately, then publishes while still decoding.
  const publish_result pub = trie.publish(1, sequence, {1, 2, 3, 4, 5}, hit.handle, 3);
  REQUIRE(pub.status == kv_errc::ok);
  CHECK(pub.handle == hit.handle);
  CHECK(pub.inserted == 2);
  CHECK(trie.handle_pages(hit.handle) == std::vector<page_id>{1, 2, 3, 4});
  CHECK(trie.live_handles() == 1);
  for (page_id p : {1, 2, 3, 4}) CHECK(lock_of(trie, p) == 1);
  CHECK(trie.evict(10).empty());
  // A later, shorter publish of the same sequence keeps the longer lock.
  const publish_result shorter = trie.publish(1, sequence, {1, 2}, hit.handle, 4);
  CHECK(shorter.status == kv_errc::ok);
  CHECK(trie.handle_pages(hit.handle).size() == 4);
  trie.check_invariants();
  REQUIRE(trie.unlock(hit.handle) == kv_errc::ok);
  CHECK(trie.locked_pages() == 0);
  CHECK(trie.unlock(hit.handle) == kv_errc::unknown_handle);
  trie.check_invariants();
}

TEST_CASE("prefix_trie: rejected publishes change nothing") {
  prefix_trie trie(2, 16);
  const std::vector<int32_t> tokens{1, 2, 3, 4, 5, 6};
  const publish_result base = trie.publish(1, tokens, {1, 2}, 0, 1);
  REQUIRE(base.status == kv_errc::ok);
  const auto before = trie.snapshot(100, 100);
  const auto states = trie.cached_states();
  const auto same_as_before = [&] {
    const auto after = trie.snapshot(100, 100);
    CHECK(trie.cached_states() == states);
    CHECK(after.nodes.size() == before.nodes.size());
    CHECK(trie.live_handles() == 1);
    trie.check_invariants();
  };
  const std::vector<int32_t> other{7, 7, 8, 8};
  CHECK(trie.publish(1, tokens, {1, 2, 3}, 999, 2).status == kv_errc::unknown_handle);
  same_as_before();
  CHECK(trie.publish(1, tokens, {1, 2, 16}, 0, 2).status == kv_errc::unknown_page);
  same_as_before();
  CHECK(trie.publish(1, tokens, {1, 2, -1}, 0, 2).status == kv_errc::unknown_page);
  same_as_before();
  CHECK(trie.publish(1, tokens, {1, 2, 1}, 0, 2).status == kv_errc::repeated_page);
  same_as_before();
  CHECK(trie.publish(1, other, {3, 1}, 0, 2).status == kv_errc::page_already_cached);
  same_as_before();
  CHECK(trie.publish(1, tokens, {2, 1, 3}, 0, 2).status == kv_errc::page_already_cached);
  same_as_before();
  CHECK(trie.publish(1, other, {3, 4}, base.handle, 2).status == kv_errc::handle_mismatch);
  same_as_before();
  CHECK(trie.publish(2, tokens, {3, 4}, base.handle, 2).status == kv_errc::handle_mismatch);
  same_as_before();
}

TEST_CASE("prefix_trie: eviction follows LRU, then page id; LFU prefers cold pages") {
  const auto fill = [](prefix_trie& trie) {
    // Three one-page prompts published at t=1,2,3; the oldest is matched twice later.
    for (int32_t i = 0; i < 3; ++i) {
      const publish_result r = trie.publish(1, {i, i, 50}, {i}, 0, static_cast<uint64_t>(i + 1));
      REQUIRE(trie.unlock(r.handle) == kv_errc::ok);
    }
    for (uint64_t t : {10, 11}) REQUIRE(trie.unlock(trie.match(1, {0, 0, 50}, t).handle) == kv_errc::ok);
  };
  SUBCASE("lru") {
    prefix_trie trie(2, 8);
    fill(trie);
    CHECK(trie.evict(2) == std::vector<page_id>{1, 2});
    CHECK(trie.evict(5) == std::vector<page_id>{0});
    CHECK(trie.evict(1).empty());
    CHECK(trie.evicted_pages() == 3);
  }
  SUBCASE("lfu") {
    prefix_trie trie(2, 8, make_eviction_policy("lfu"));
    fill(trie);
    CHECK(trie.evict(3) == std::vector<page_id>{1, 2, 0});
  }
  SUBCASE("ties broken by page id") {
    prefix_trie trie(1, 8);
    for (page_id p : {5, 3, 7}) REQUIRE(trie.unlock(trie.publish(1, {p, 0}, {p}, 0, 1).handle) == kv_errc::ok);
    CHECK(trie.evict(3) == std::vector<page_id>{3, 5, 7});
  }
  SUBCASE("n <= 0") {
    prefix_trie trie(2, 8);
    fill(trie);
    CHECK(trie.evict(0).empty());
    CHECK(trie.evict(-4).empty());
    CHECK(trie.cached_pages() == 3);
  }
}

TEST_CASE("prefix_trie: wide fan-out goes through the edge index and survives eviction") {
  prefix_trie trie(4, 1000);
  for (int32_t i = 0; i < 300; ++i) {
    // Many pages share the first token so lookups cannot stop at it.
    const publish_result r =
        trie.publish(1, {7, i, i * 3, 1, 8, 8, 8, 8, 0}, {2 * i, 2 * i + 1}, 0, static_cast<uint64_t>(i));
    REQUIRE(r.status == kv_errc::ok);
    REQUIRE(trie.unlock(r.handle) == kv_errc::ok);
  }
  trie.check_invariants();
  // Oldest first: the leaf of prompt i, then its now-childless first page, then i+1.
  const std::vector<page_id> evicted = trie.evict(300);
  REQUIRE(evicted.size() == 300);
  CHECK(evicted[0] == 1);
  CHECK(evicted[1] == 0);
  CHECK(evicted[299] == 298);
  trie.check_invariants();
  for (int32_t i = 0; i < 300; ++i) {
    const match_result hit = trie.match(1, {7, i, i * 3, 1, 8, 8, 8, 8, 0}, 1000);
    CHECK(hit.pages == (i < 150 ? std::vector<page_id>{} : std::vector<page_id>{2 * i, 2 * i + 1}));
    if (hit.handle) REQUIRE(trie.unlock(hit.handle) == kv_errc::ok);
  }
  trie.check_invariants();
}

TEST_CASE("prefix_trie: snapshot is bounded and counts pages below") {
  prefix_trie trie(1, 16);
  REQUIRE(trie.publish(1, {1, 2, 3, 4}, {0, 1, 2, 3}, 0, 5).status == kv_errc::ok);
  REQUIRE(trie.publish(1, {1, 9}, {4, 5}, 0, 6).status == kv_errc::ok);
  REQUIRE(trie.publish(2, {1}, {6}, 0, 7).status == kv_errc::ok);
  const trie_snapshot all = trie.snapshot(100, 100);
  CHECK_FALSE(all.truncated);
  CHECK(all.cached_pages == 6);
  CHECK(all.max_depth == 4);
  CHECK(all.policy == "lru");
  REQUIRE(all.nodes.size() == 8);  // 2 roots + 6 pages
  CHECK(all.nodes[0].page == -1);
  CHECK(all.nodes[0].pages_below == 5);
  CHECK(all.nodes[0].ns == 1);
  for (size_t i = 1; i < all.nodes.size(); ++i) CHECK(all.nodes[i].parent < static_cast<int32_t>(i));
  for (const auto& n : all.nodes) {
    if (n.page == 0) {
      CHECK(n.pages_below == 4);
      CHECK(n.lock_count == 2);
      CHECK(n.first_tokens == std::vector<int32_t>{1});
    }
  }
  const trie_snapshot shallow = trie.snapshot(1, 100);
  CHECK(shallow.truncated);
  CHECK(shallow.nodes.size() == 4);  // 2 roots + 2 first pages
  const trie_snapshot few = trie.snapshot(100, 3);
  CHECK(few.truncated);
  CHECK(few.nodes.size() == 3);
}

}  // namespace kvactor
