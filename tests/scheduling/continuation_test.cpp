#include <doctest/doctest.h>

#include "scheduling/continuation.hpp"

using namespace kvactor::scheduling;

TEST_CASE("can_continue: a decode step inside a page with the next positions covered") {
  // Input at position 20, sampled token at 21; the request would ask pages for 23 positions.
  CHECK(can_continue({20, 1, true, 2}, 16, 256));
  CHECK_FALSE(can_continue({20, 1, false, 2}, 16, 256));  // nothing sampled: a prefill chunk
  CHECK_FALSE(can_continue({20, 0, true, 2}, 16, 256));
}

TEST_CASE("can_continue: never when the step filled a page (the request publishes it)") {
  CHECK_FALSE(can_continue({15, 1, true, 2}, 16, 256));   // wrote position 15, the last of page 0
  CHECK(can_continue({16, 1, true, 2}, 16, 256));         // first slot of page 1
  CHECK_FALSE(can_continue({0, 130, true, 9}, 16, 256));  // a prompt: 8 pages filled
  CHECK(can_continue({0, 10, true, 1}, 16, 256));         // a short prompt inside one page
}

TEST_CASE("can_continue: never when the request would allocate a page first") {
  // Wrote position 29; tokens = 31, the request asks for 32 positions: 2 pages cover them.
  CHECK(can_continue({29, 1, true, 2}, 16, 256));
  // Wrote position 30; tokens = 32, it asks for 33 positions: a third page first.
  CHECK_FALSE(can_continue({30, 1, true, 2}, 16, 256));
  CHECK(can_continue({30, 1, true, 3}, 16, 256));
}

TEST_CASE("can_continue: never at the end of the context") {
  CHECK(can_continue({60, 1, true, 4}, 16, 63));        // tokens = 62 < 63
  CHECK_FALSE(can_continue({61, 1, true, 4}, 16, 63));  // tokens = 63: the request ends
}

TEST_CASE("can_continue: never after the request's last token (no step is computed for a request that leaves)") {
  // max_tokens 4: the tokens with sample_index 0..3; the one sampled at index 3 is its last.
  CHECK(can_continue({20, 1, true, 2, 2, 4}, 16, 256));
  CHECK_FALSE(can_continue({20, 1, true, 2, 3, 4}, 16, 256));
  CHECK_FALSE(can_continue({20, 1, true, 2, 7, 4}, 16, 256));
  CHECK(can_continue({20, 1, true, 2, 1000, 0}, 16, 256));     // 0: no limit
  CHECK_FALSE(can_continue({20, 1, true, 2, 0, 1}, 16, 256));  // max_tokens 1: the first token ends it
}

TEST_CASE("should_start_step: waits for stragglers unless most are ready and nobody starves") {
  CHECK(should_start_step(0, 0, false));
  CHECK(should_start_step(3, 0, true));  // nothing processing: as before
  CHECK(should_start_step(15, 1, false));
  CHECK_FALSE(should_start_step(1, 15, false));
  CHECK_FALSE(should_start_step(15, 1, true));  // a starving request needs the device idle
  CHECK(should_start_step(2, 2, false));
}
