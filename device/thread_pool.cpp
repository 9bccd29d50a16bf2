#include "device/thread_pool.hpp"

#include <algorithm>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define KVACTOR_CPU_RELAX() _mm_pause()
#else
#define KVACTOR_CPU_RELAX() std::this_thread::yield()
#endif

namespace kvactor {

namespace {

// Spin iterations before a worker parks: a few hundred pauses, then yields (so an
// oversubscribed machine can run the threads that have work).
constexpr int spin_limit = 2000;
constexpr int pause_limit = 200;
// By default one contiguous chunk per thread: each core streams one run of weight rows,
// which the prefetcher follows. 4 interleaved chunks per thread measured 0.8-0.9x at
// batch 1 (15M shape, 2 threads, idle-ish machine); a worker the OS has not scheduled
// still never holds the caller up, since the caller claims its unclaimed chunk.
constexpr uint64_t max_chunks = 0xffff;

void relax(int spin) {
  if (spin < pause_limit)
    KVACTOR_CPU_RELAX();
  else
    std::this_thread::yield();
}

// Chunk `index` of `chunks` over [0, n): contiguous, sizes differing by at most one.
std::pair<int64_t, int64_t> chunk_bounds(int64_t n, int64_t chunks, int64_t index) {
  const int64_t base = n / chunks, extra = n % chunks;
  const int64_t begin = index * base + std::min<int64_t>(index, extra);
  return {begin, begin + base + (index < extra ? 1 : 0)};
}

uint64_t claim_word(uint64_t generation, uint64_t chunks, uint64_t next) {
  return (generation << 32) | (chunks << 16) | next;
}

}  // namespace

thread_pool::thread_pool(int threads) {
  const int extra = std::max(threads, 1) - 1;
  workers_.reserve(static_cast<std::size_t>(extra));
  for (int i = 0; i < extra; ++i) workers_.emplace_back([this] { worker_loop(); });
}

thread_pool::~thread_pool() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_.store(true);
  }
  work_ready_.notify_all();
  for (auto& w : workers_) w.join();
}

void thread_pool::run(int64_t n, int64_t min_chunk, int chunks_per_thread, job_ref fn) {
  if (n <= 0) return;
  const int64_t by_size = std::max<int64_t>(1, n / std::max<int64_t>(min_chunk, 1));
  const int64_t chunks = std::min<int64_t>(
      {static_cast<int64_t>(size()) * std::max(chunks_per_thread, 1), by_size, static_cast<int64_t>(max_chunks)});
  if (chunks == 1 || workers_.empty()) {
    fn(0, n);
    return;
  }
  // No chunk of the previous job is in flight (run waited for all of them), so the
  // job's fields are free to rewrite; the release store of claim_ publishes them.
  job_ = fn;
  range_ = n;
  error_ = nullptr;
  done_.store(0, std::memory_order_relaxed);
  const uint64_t generation = (generation_.load(std::memory_order_relaxed) + 1) & 0xffffffffu;
  claim_.store(claim_word(generation, static_cast<uint64_t>(chunks), 0), std::memory_order_release);
  {
    std::lock_guard<std::mutex> lock(mutex_);  // pairs with a parking worker's predicate check
    generation_.store(generation, std::memory_order_release);
  }
  work_ready_.notify_all();
  take_chunks(generation);
  for (int spin = 0; done_.load(std::memory_order_acquire) != chunks; ++spin) relax(std::min(spin, pause_limit));
  job_ = {nullptr, nullptr};
  if (error_) std::rethrow_exception(error_);
}

void thread_pool::take_chunks(uint64_t generation) {
  uint64_t word = claim_.load(std::memory_order_acquire);
  for (;;) {
    const uint64_t chunks = (word >> 16) & max_chunks, next = word & max_chunks;
    if ((word >> 32) != generation || next >= chunks) return;
    if (!claim_.compare_exchange_weak(word, word + 1, std::memory_order_acq_rel, std::memory_order_acquire)) continue;
    const auto [begin, end] = chunk_bounds(range_, static_cast<int64_t>(chunks), static_cast<int64_t>(next));
    try {
      job_(begin, end);
    } catch (...) {
      std::lock_guard<std::mutex> lock(mutex_);
      if (!error_) error_ = std::current_exception();
    }
    done_.fetch_add(1, std::memory_order_acq_rel);
    word = claim_.load(std::memory_order_acquire);
  }
}

void thread_pool::worker_loop() {
  uint64_t seen = 0;
  for (;;) {
    for (int spin = 0; spin < spin_limit && generation_.load(std::memory_order_acquire) == seen &&
                       !stopping_.load(std::memory_order_relaxed);
         ++spin)
      relax(spin);
    if (generation_.load(std::memory_order_acquire) == seen && !stopping_.load()) {
      std::unique_lock<std::mutex> lock(mutex_);
      work_ready_.wait(lock, [&] { return stopping_.load() || generation_.load(std::memory_order_acquire) != seen; });
    }
    if (stopping_.load()) return;
    seen = generation_.load(std::memory_order_acquire);
    take_chunks(seen);
  }
}

}  // namespace kvactor
