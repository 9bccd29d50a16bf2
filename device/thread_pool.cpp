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

// Spin iterations before falling back to a blocking wait: a few hundred pauses,
// then yields (so an oversubscribed machine can run the thread being waited for).
constexpr int spin_limit = 2000;
constexpr int pause_limit = 200;

void relax(int spin) {
  if (spin < pause_limit) KVACTOR_CPU_RELAX();
  else std::this_thread::yield();
}

// Chunk `index` of `chunks` over [0, n): contiguous, sizes differing by at most one.
std::pair<int64_t, int64_t> chunk_bounds(int64_t n, int chunks, int index) {
  const int64_t base = n / chunks, extra = n % chunks;
  const int64_t begin = index * base + std::min<int64_t>(index, extra);
  return {begin, begin + base + (index < extra ? 1 : 0)};
}

}  // namespace

thread_pool::thread_pool(int threads) {
  const int extra = std::max(threads, 1) - 1;
  workers_.reserve(static_cast<std::size_t>(extra));
  for (int i = 0; i < extra; ++i) workers_.emplace_back([this, i] { worker_loop(i + 1); });
}

thread_pool::~thread_pool() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_.store(true);
  }
  work_ready_.notify_all();
  for (auto& w : workers_) w.join();
}

void thread_pool::run(int64_t n, int64_t min_chunk, job_ref fn) {
  if (n <= 0) return;
  const int64_t by_size = std::max<int64_t>(1, n / std::max<int64_t>(min_chunk, 1));
  const int chunks = static_cast<int>(std::min<int64_t>(size(), by_size));
  if (chunks == 1) {
    fn(0, n);
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    job_ = fn;
    range_ = n;
    active_chunks_ = chunks;
    error_ = nullptr;
    pending_.store(static_cast<int>(workers_.size()), std::memory_order_relaxed);
    generation_.fetch_add(1, std::memory_order_release);
  }
  work_ready_.notify_all();
  std::exception_ptr own_error;
  try {
    auto [begin, end] = chunk_bounds(n, chunks, 0);
    fn(begin, end);
  } catch (...) {
    own_error = std::current_exception();
  }
  for (int spin = 0; spin < spin_limit && pending_.load(std::memory_order_acquire) != 0; ++spin) relax(spin);
  if (pending_.load(std::memory_order_acquire) != 0) {
    std::unique_lock<std::mutex> lock(mutex_);
    work_done_.wait(lock, [this] { return pending_.load(std::memory_order_acquire) == 0; });
  }
  std::lock_guard<std::mutex> lock(mutex_);
  job_ = {nullptr, nullptr};
  if (own_error) std::rethrow_exception(own_error);
  if (error_) std::rethrow_exception(error_);
}

// Every worker acknowledges every job (pending_ counts all workers), even one with
// fewer chunks than threads, so a job's fields are never rewritten while a slow
// worker still reads them.
void thread_pool::worker_loop(int index) {
  uint64_t seen = 0;
  for (;;) {
    for (int spin = 0; spin < spin_limit && generation_.load(std::memory_order_acquire) == seen &&
                       !stopping_.load(std::memory_order_relaxed);
         ++spin)
      relax(spin);
    if (generation_.load(std::memory_order_acquire) == seen) {
      std::unique_lock<std::mutex> lock(mutex_);
      work_ready_.wait(lock, [&] { return stopping_.load() || generation_.load(std::memory_order_acquire) != seen; });
    }
    if (stopping_.load()) return;
    seen = generation_.load(std::memory_order_acquire);
    std::exception_ptr failure;
    if (index < active_chunks_) {
      auto [begin, end] = chunk_bounds(range_, active_chunks_, index);
      try {
        job_(begin, end);
      } catch (...) {
        failure = std::current_exception();
      }
    }
    if (failure) {
      std::lock_guard<std::mutex> lock(mutex_);
      if (!error_) error_ = failure;
    }
    if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      std::lock_guard<std::mutex> lock(mutex_);  // pairs with the waiter's predicate check
      work_done_.notify_one();
    }
  }
}

}  // namespace kvactor
