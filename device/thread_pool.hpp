// A fixed set of worker threads created once per backend. parallel_for splits an
// index range into contiguous chunks that the calling thread and the workers claim
// one at a time, so a worker the OS has not scheduled yet (a busy machine, or CAF's
// and the HTTP server's threads on the same cores) never holds the caller up: the
// caller takes its chunks instead. Work is split over independent outputs only,
// never inside a reduction, so results do not depend on which thread ran a chunk.
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
  // reference (no std::function, so a call never allocates). Not reentrant.
  // chunks_per_thread > 1 cuts the range finer for work whose cost per index varies
  // (attention over a prefill: later tokens read more keys), so that threads claiming
  // chunks as they finish end together.
  template <class Fn>
  void parallel_for(int64_t n, int64_t min_chunk, const Fn& fn, int chunks_per_thread = 1) {
    run(n, min_chunk, chunks_per_thread,
        {&fn, [](const void* f, int64_t begin, int64_t end) { (*static_cast<const Fn*>(f))(begin, end); }});
  }

 private:
  struct job_ref {
    const void* fn;
    void (*call)(const void* fn, int64_t begin, int64_t end);
    void operator()(int64_t begin, int64_t end) const { call(fn, begin, end); }
  };
  void run(int64_t n, int64_t min_chunk, int chunks_per_thread, job_ref job);
  // Claims and runs chunks of job `generation` until none is left (or another job is current).
  void take_chunks(uint64_t generation);
  void worker_loop();

  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable work_ready_;
  std::atomic<uint64_t> generation_{0};  // bumped once a job is published; workers wait on it
  std::atomic<bool> stopping_{false};
  // [generation: 32 bits][chunks: 16 bits][next chunk: 16 bits]. A chunk is claimed by
  // a compare-exchange that also checks the generation, so a late worker can never
  // claim a chunk of a job it has not seen published.
  std::atomic<uint64_t> claim_{0};
  std::atomic<int> done_{0};  // chunks of the current job finished
  // The current job; rewritten only when all its chunks are done.
  job_ref job_{nullptr, nullptr};
  int64_t range_ = 0;
  std::exception_ptr error_;
};

}  // namespace kvactor
