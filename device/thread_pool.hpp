// A fixed set of worker threads created once per backend. parallel_for splits an
// index range into contiguous chunks, one per thread; the calling thread takes the
// first chunk. Work is split over independent outputs only, never inside a
// reduction, so results do not depend on the number of threads.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace kvactor {

class thread_pool {
 public:
  explicit thread_pool(int threads);
  ~thread_pool();
  thread_pool(const thread_pool&) = delete;
  thread_pool& operator=(const thread_pool&) = delete;

  int size() const { return static_cast<int>(workers_.size()) + 1; }

  // Calls fn(begin, end) over disjoint chunks covering [0, n). Chunks smaller than
  // min_chunk are merged so tiny jobs run on the caller alone. Rethrows the first
  // exception a chunk raised, after every chunk has finished. fn is passed by
  // reference (no std::function, so a call never allocates).
  template <class Fn>
  void parallel_for(int64_t n, int64_t min_chunk, const Fn& fn) {
    run(n, min_chunk, {&fn, [](const void* f, int64_t begin, int64_t end) { (*static_cast<const Fn*>(f))(begin, end); }});
  }

 private:
  struct job_ref {
    const void* fn;
    void (*call)(const void* fn, int64_t begin, int64_t end);
    void operator()(int64_t begin, int64_t end) const { call(fn, begin, end); }
  };
  void run(int64_t n, int64_t min_chunk, job_ref job);
  void worker_loop(int index);

  std::vector<std::thread> workers_;
  // Waiting spins briefly before blocking: a step issues a few dozen short jobs and
  // a condition-variable wake-up per job would cost more than the job itself.
  std::mutex mutex_;
  std::condition_variable work_ready_;
  std::condition_variable work_done_;
  std::atomic<uint64_t> generation_{0};  // bumped (release) once a job's fields are set
  std::atomic<bool> stopping_{false};
  std::atomic<int> pending_{0};          // chunks of the current job not yet finished by workers
  int active_chunks_ = 0;
  int64_t range_ = 0;
  job_ref job_{nullptr, nullptr};
  std::exception_ptr error_;
};

}  // namespace kvactor
