#include <doctest/doctest.h>

#include <algorithm>
#include <set>
#include <vector>

#include "kvcache/page_pool.hpp"
#include "tests/kvcache/test_access.hpp"

namespace kvactor {

TEST_CASE("page_pool: a fresh pool is all free and hands out distinct ids") {
  page_pool pool(5);
  CHECK(pool.total() == 5);
  CHECK(pool.free_count() == 5);
  CHECK(pool.allocated_count() == 0);
  std::vector<page_id> pages;
  REQUIRE(pool.allocate(3, pages) == kv_errc::ok);
  CHECK(pages == std::vector<page_id>{0, 1, 2});
  CHECK(pool.free_count() == 2);
  CHECK(pool.allocated_count() == 3);
  for (page_id p : pages) CHECK(pool.is_allocated(p));
  CHECK_FALSE(pool.is_allocated(3));
  CHECK_FALSE(pool.is_allocated(-1));
  CHECK_FALSE(pool.is_allocated(5));
  pool.check_invariants();
}

TEST_CASE("page_pool: allocate is all or nothing") {
  page_pool pool(4);
  std::vector<page_id> pages{42};
  CHECK(pool.allocate(5, pages) == kv_errc::no_capacity);
  CHECK(pages == std::vector<page_id>{42});  // caller's vector untouched
  CHECK(pool.free_count() == 4);
  CHECK(pool.allocate(-1, pages) == kv_errc::invalid_argument);
  CHECK(pool.allocate(0, pages) == kv_errc::ok);
  CHECK(pages.size() == 1);
  CHECK(pool.allocate(4, pages) == kv_errc::ok);
  CHECK(pages.size() == 5);
  CHECK(pool.allocate(1, pages) == kv_errc::no_capacity);
  pool.check_invariants();
}

TEST_CASE("page_pool: release returns pages, most recent first") {
  page_pool pool(4);
  std::vector<page_id> pages;
  REQUIRE(pool.allocate(4, pages) == kv_errc::ok);
  REQUIRE(pool.release({2, 0}) == kv_errc::ok);
  CHECK(pool.free_count() == 2);
  std::vector<page_id> again;
  REQUIRE(pool.allocate(2, again) == kv_errc::ok);
  CHECK(again == std::vector<page_id>{0, 2});  // LIFO: the last released comes back first
  pool.check_invariants();
}

TEST_CASE("page_pool: bad releases are rejected whole and change nothing") {
  page_pool pool(6);
  std::vector<page_id> pages;
  REQUIRE(pool.allocate(4, pages) == kv_errc::ok);  // 0..3 allocated, 4 and 5 free
  const auto before = pool.allocation_map();
  CHECK(pool.release({1, 4}) == kv_errc::double_release);  // 4 was never handed out
  CHECK(pool.release({1, 6}) == kv_errc::unknown_page);
  CHECK(pool.release({-1}) == kv_errc::unknown_page);
  CHECK(pool.release({1, 2, 1}) == kv_errc::repeated_page);
  CHECK(pool.allocation_map() == before);
  CHECK(pool.free_count() == 2);
  pool.check_invariants();
  REQUIRE(pool.release({1}) == kv_errc::ok);
  CHECK(pool.release({1}) == kv_errc::double_release);
  CHECK(pool.free_count() == 3);
  pool.check_invariants();
}

TEST_CASE("page_pool: empty and zero-sized pools") {
  page_pool empty(0);
  std::vector<page_id> pages;
  CHECK(empty.allocate(1, pages) == kv_errc::no_capacity);
  CHECK(empty.allocate(0, pages) == kv_errc::ok);
  CHECK(empty.release({}) == kv_errc::ok);
  CHECK(empty.release({0}) == kv_errc::unknown_page);
  empty.check_invariants();
  CHECK_THROWS_AS(page_pool(-1), std::invalid_argument);
}

TEST_CASE("page_pool: check_invariants notices a corrupted free list") {
  SUBCASE("allocated page pushed on the free list") {
    page_pool pool(4);
    std::vector<page_id> pages;
    REQUIRE(pool.allocate(2, pages) == kv_errc::ok);
    kvcache_test_access::push_on_free_list(pool, pages[0]);
    CHECK_THROWS_AS(pool.check_invariants(), invariant_error);
  }
  SUBCASE("free page flagged allocated") {
    page_pool pool(4);
    kvcache_test_access::flag_allocated(pool, 2);
    CHECK_THROWS_AS(pool.check_invariants(), invariant_error);
  }
}

TEST_CASE("page_pool: allocation map") {
  page_pool pool(3);
  std::vector<page_id> pages;
  REQUIRE(pool.allocate(2, pages) == kv_errc::ok);
  REQUIRE(pool.release({0}) == kv_errc::ok);
  CHECK(pool.allocation_map() == std::vector<uint8_t>{0, 1, 0});
}

}  // namespace kvactor
