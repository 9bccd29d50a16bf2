// The pool must cover every index exactly once, whichever thread claims a chunk,
// survive many short jobs back to back (workers waking late claim nothing of a job
// they did not see published), and hand a chunk's exception to the caller.
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <stdexcept>
#include <thread>
#include <vector>

#include "device/cpu_backend.hpp"
#include "device/thread_pool.hpp"
#include "tests/device/test_models.hpp"

using namespace kvactor;

TEST_CASE("thread_pool covers every index exactly once, for any size, chunking and thread count") {
  for (int threads : {1, 2, 3, 5}) {
    thread_pool pool(threads);
    CHECK(pool.size() == threads);
    for (int64_t n : {0, 1, 2, 7, 64, 1000, 70001}) {
      for (int64_t min_chunk : {1, 3, 100})
        for (int per_thread : {1, 8}) {
          std::vector<std::atomic<int>> hits(static_cast<std::size_t>(n));
          std::atomic<int64_t> calls{0};
          pool.parallel_for(
              n, min_chunk,
              [&](int64_t begin, int64_t end) {
                calls.fetch_add(1);
                for (int64_t i = begin; i < end; ++i) hits[static_cast<std::size_t>(i)].fetch_add(1);
              },
              per_thread);
          int wrong = 0;
          for (auto& h : hits) wrong += h.load() != 1;
          CAPTURE(threads);
          CAPTURE(n);
          CAPTURE(per_thread);
          CHECK(wrong == 0);
          // Never more chunks than asked for, nor smaller than min_chunk (but one).
          CHECK(calls.load() <= std::max<int64_t>(1, std::min<int64_t>(threads * per_thread, n / min_chunk)));
          if (threads > 1 && n >= 1000 && min_chunk == 1) CHECK(calls.load() == threads * per_thread);
        }
    }
  }
}

TEST_CASE("thread_pool runs thousands of short jobs back to back") {
  thread_pool pool(3);
  std::atomic<int64_t> total{0};
  for (int job = 0; job < 5000; ++job)
    pool.parallel_for(16, 1, [&](int64_t begin, int64_t end) { total.fetch_add(end - begin); });
  CHECK(total.load() == 5000 * 16);
}

TEST_CASE("thread_pool rethrows a chunk's exception after the job and stays usable") {
  thread_pool pool(2);
  std::atomic<int> ran{0};
  CHECK_THROWS_AS(pool.parallel_for(64, 1,
                                    [&](int64_t begin, int64_t) {
                                      ran.fetch_add(1);
                                      if (begin == 0) throw std::runtime_error("chunk failed");  // the first chunk
                                    }),
                  std::runtime_error);
  CHECK(ran.load() == pool.size());  // every chunk still ran (one per thread), not only the one that threw
  std::atomic<int64_t> covered{0};
  pool.parallel_for(10, 1, [&](int64_t begin, int64_t end) { covered += end - begin; });
  CHECK(covered.load() == 10);
}

TEST_CASE("device_threads 0: one thread for a small model, one per usable CPU from 4M parameters") {
  const auto& small = *kvactor::testing::stories260k().weights;
  CHECK(kvactor::default_cpu_threads(small) == 1);
  kvactor::model_weights big = small;  // the embedding's row count grows past the threshold
  big.tok_embeddings.rows = (int64_t{4} << 20) / big.tok_embeddings.cols + 1;
  CHECK(kvactor::default_cpu_threads(big) == kvactor::usable_cpus());
  big.tok_embeddings.rows = (int64_t{3} << 20) / big.tok_embeddings.cols;  // whatever its encoding's bytes
  CHECK(kvactor::default_cpu_threads(big) == 1);
  CHECK(kvactor::usable_cpus() >= 1);
  CHECK(kvactor::usable_cpus() <= std::max(1, static_cast<int>(std::thread::hardware_concurrency())));
}
