#include <doctest/doctest.h>

#include <limits>

#include "scheduling/page_arithmetic.hpp"

using namespace kvactor::scheduling;

TEST_CASE("pages_for rounds up") {
  CHECK(pages_for(0, 16) == 0);
  CHECK(pages_for(1, 16) == 1);
  CHECK(pages_for(16, 16) == 1);
  CHECK(pages_for(17, 16) == 2);
  CHECK(pages_for(std::numeric_limits<int32_t>::max(), 16) == (std::numeric_limits<int32_t>::max() / 16) + 1);
}

TEST_CASE("pages_to_allocate counts what the held pages do not cover") {
  CHECK(pages_to_allocate(33, 2, 16) == 1);
  CHECK(pages_to_allocate(32, 2, 16) == 0);
  CHECK(pages_to_allocate(10, 3, 16) == 0);  // never negative
  CHECK(pages_to_allocate(100, 0, 10) == 10);
}

TEST_CASE("fits_cache: a request larger than the whole cache can never run") {
  CHECK(fits_cache(64, 4, 16));
  CHECK_FALSE(fits_cache(65, 4, 16));
  CHECK(fits_cache(std::numeric_limits<int32_t>::max(), 1 << 20, 1 << 12));  // no int overflow
}

TEST_CASE("full_pages_written: full pages with K/V, at most the pages held") {
  CHECK(full_pages_written(47, 3, 16) == 2);
  CHECK(full_pages_written(48, 3, 16) == 3);
  CHECK(full_pages_written(80, 3, 16) == 3);
  CHECK(full_pages_written(0, 3, 16) == 0);
}
