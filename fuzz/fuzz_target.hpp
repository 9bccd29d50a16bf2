// What every fuzz target provides, and how it states an invariant. The same entry
// function is linked twice: into a libFuzzer binary (clang, coverage-guided) and
// into a plain replay binary (any compiler) that runs the saved corpus and the
// regression inputs as an ordinary ctest test.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

// A broken invariant must stop the run in every build (assert() vanishes under
// NDEBUG): libFuzzer then saves the input, the replay test fails.
#define FUZZ_CHECK(condition, what)                                                                     \
  do {                                                                                                  \
    if (!(condition)) {                                                                                 \
      std::fprintf(stderr, "%s:%d: invariant broken: %s (%s)\n", __FILE__, __LINE__, what, #condition); \
      std::abort();                                                                                     \
    }                                                                                                   \
  } while (false)
