// Fibers switch stacks with a few instructions of assembly on x86-64 (save the
// callee-saved registers, swap stack pointers); elsewhere with swapcontext,
// which is correct but makes a system call per switch.
#include "tests/device_hip/emulation/gpu_emulation.hpp"

#include <ucontext.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <memory>
#include <new>
#include <stdexcept>
#include <string>
#include <vector>

#if defined(__x86_64__)
// void kvactor_emulation_switch(void** save_sp, void* load_sp)
asm(R"(
  .text
  .globl kvactor_emulation_switch
  .type kvactor_emulation_switch, @function
kvactor_emulation_switch:
  pushq %rbp
  pushq %rbx
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
  movq %rsp, (%rdi)
  movq %rsi, %rsp
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %rbx
  popq %rbp
  ret
  .size kvactor_emulation_switch, .-kvactor_emulation_switch
  .section .note.GNU-stack,"",@progbits
  .text
)");
extern "C" void kvactor_emulation_switch(void** save_sp, void* load_sp);
#endif

namespace kvactor::emulation {

namespace {

enum class wait_kind { none, warp, block };

// One GPU thread. A fiber lives for the whole process: it runs the current
// launch's body for each block it is given, then parks until the next.
struct fiber {
#if defined(__x86_64__)
  void* sp = nullptr;
#else
  ucontext_t context{};
#endif
  std::unique_ptr<char[]> stack;
  dim3 index;
  unsigned shuffle_phase = 0;  // which half of the slots this lane's next shuffle uses
  bool done = false;
  wait_kind waiting = wait_kind::none;
};

constexpr std::size_t stack_bytes = 256 * 1024;

struct block_state {
  std::vector<std::unique_ptr<fiber>> fibers;  // grown to the largest block seen; the first `active` run
  std::size_t active = 0;
#if defined(__x86_64__)
  void* scheduler_sp = nullptr;
#else
  ucontext_t scheduler{};
#endif
  int current = 0;
  dim3 block_index, block_size, grid_size;
  const std::function<void()>* body = nullptr;
  std::vector<float> slots;  // [2][threads]: shuffle values, double-buffered
  std::exception_ptr failure;
};

block_state the_state;  // one emulated device per process, used from one thread at a time

inline block_state& state() { return the_state; }

fiber& current_fiber() { return *the_state.fibers[static_cast<std::size_t>(the_state.current)]; }

void yield_to_scheduler(fiber& f) {
#if defined(__x86_64__)
  kvactor_emulation_switch(&f.sp, the_state.scheduler_sp);
#else
  swapcontext(&f.context, &the_state.scheduler);
#endif
}

[[noreturn]] void fiber_entry() {
  for (;;) {
    block_state& s = state();
    try {
      (*s.body)();
    } catch (...) {
      if (!s.failure) s.failure = std::current_exception();
    }
    fiber& f = current_fiber();
    f.done = true;
    yield_to_scheduler(f);
  }
}

void start_fiber(fiber& f) {
  f.stack.reset(new char[stack_bytes]);
#if defined(__x86_64__)
  // A stack that "returns" into fiber_entry: six register slots, then its
  // address, then a dummy return address, 16-byte aligned as a call leaves it.
  auto top = reinterpret_cast<uintptr_t>(f.stack.get() + stack_bytes) & ~uintptr_t{15};
  auto* words = reinterpret_cast<void**>(top);
  words[-1] = nullptr;
  words[-2] = reinterpret_cast<void*>(&fiber_entry);
  for (int i = 3; i <= 8; ++i) words[-i] = nullptr;
  f.sp = words - 8;
#else
  getcontext(&f.context);
  f.context.uc_stack.ss_sp = f.stack.get();
  f.context.uc_stack.ss_size = stack_bytes;
  f.context.uc_link = nullptr;
  makecontext(&f.context, fiber_entry, 0);
#endif
}

void resume(block_state& s, std::size_t i) {
  s.current = static_cast<int>(i);
#if defined(__x86_64__)
  kvactor_emulation_switch(&s.scheduler_sp, s.fibers[i]->sp);
#else
  swapcontext(&s.scheduler, &s.fibers[i]->context);
#endif
}

void wait(wait_kind kind) {
  fiber& f = current_fiber();
  f.waiting = kind;
  yield_to_scheduler(f);
}

// Releases whatever barriers are complete; false when nothing could be released.
bool release(block_state& s) {
  const std::size_t n = s.active;
  bool all_live_at_block = true, any_live = false;
  for (std::size_t i = 0; i < n; ++i)
    if (const fiber& f = *s.fibers[i]; !f.done) {
      any_live = true;
      all_live_at_block = all_live_at_block && f.waiting == wait_kind::block;
    }
  if (any_live && all_live_at_block) {
    for (std::size_t i = 0; i < n; ++i) s.fibers[i]->waiting = wait_kind::none;
    return true;
  }
  bool released = false;
  for (std::size_t w = 0; w + lanes <= n; w += lanes) {
    bool full = true;
    for (std::size_t i = w; i < w + lanes; ++i) full = full && s.fibers[i]->waiting == wait_kind::warp;
    if (full) {
      for (std::size_t i = w; i < w + lanes; ++i) s.fibers[i]->waiting = wait_kind::none;
      released = true;
    }
  }
  return released;
}

void run_block(block_state& s) {
  const std::size_t n = s.active;
  for (std::size_t i = 0; i < n; ++i) {
    s.fibers[i]->done = false;
    s.fibers[i]->waiting = wait_kind::none;
    s.fibers[i]->shuffle_phase = 0;
  }
  for (;;) {
    for (std::size_t i = 0; i < n; ++i)
      if (!s.fibers[i]->done && s.fibers[i]->waiting == wait_kind::none) resume(s, i);
    bool live = false;
    for (std::size_t i = 0; i < n; ++i) live = live || !s.fibers[i]->done;
    if (!live) return;
    if (!release(s)) {
      std::fprintf(stderr,
                   "GPU emulation: deadlock in block (%u, %u): threads wait at a barrier or shuffle that other "
                   "threads of their warp/block never reach\n",
                   s.block_index.x, s.block_index.y);
      std::abort();
    }
  }
}

}  // namespace

const dim3& thread_idx() { return current_fiber().index; }
const dim3& block_idx() { return state().block_index; }
const dim3& block_dim() { return state().block_size; }
const dim3& grid_dim() { return state().grid_size; }

void sync_block() { wait(wait_kind::block); }

// Every lane writes its value, all lanes meet, each reads its partner's. The
// slots alternate between two halves, so a lane's next write cannot clobber a
// value another lane has yet to read (that lane must first reach the next meeting).
float shuffle_xor(float value, int lane_mask) {
  block_state& s = the_state;
  fiber& f = current_fiber();
  const std::size_t half = (f.shuffle_phase++ & 1u) * s.active;
  const int me = s.current, partner = (me / lanes) * lanes + ((me % lanes) ^ lane_mask);
  s.slots[half + static_cast<std::size_t>(me)] = value;
  wait(wait_kind::warp);
  return s.slots[half + static_cast<std::size_t>(partner)];
}

// The linker's bounds of the section that __shared__ puts every shared variable in
// (weak: a program with no kernel has no such section).
extern "C" {
extern char __start_kvactor_gpu_shared[] __attribute__((weak));
extern char __stop_kvactor_gpu_shared[] __attribute__((weak));
}

std::size_t poison_shared_memory() {
  if (__start_kvactor_gpu_shared == nullptr || __stop_kvactor_gpu_shared == nullptr) return 0;
  const auto bytes = static_cast<std::size_t>(__stop_kvactor_gpu_shared - __start_kvactor_gpu_shared);
  std::memset(__start_kvactor_gpu_shared, shared_poison_byte, bytes);
  return bytes;
}

void launch(dim3 grid, dim3 block, const std::function<void()>& body) {
  block_state& s = state();
  const std::size_t threads = static_cast<std::size_t>(block.x) * block.y * block.z;
  if (threads == 0 || threads > 1024 || threads % lanes != 0)
    throw std::runtime_error("GPU emulation: block of " + std::to_string(threads) +
                             " threads (need a positive multiple of " + std::to_string(lanes) + ", at most 1024)");
  while (s.fibers.size() < threads) {
    auto f = std::make_unique<fiber>();
    start_fiber(*f);
    s.fibers.push_back(std::move(f));
  }
  s.active = threads;
  s.slots.assign(2 * threads, 0.0f);
  s.body = &body;
  s.grid_size = grid;
  s.block_size = block;
  for (unsigned z = 0; z < grid.z; ++z)
    for (unsigned y = 0; y < grid.y; ++y)
      for (unsigned x = 0; x < grid.x; ++x) {
        s.block_index = dim3(x, y, z);
        std::size_t i = 0;
        for (unsigned tz = 0; tz < block.z; ++tz)
          for (unsigned ty = 0; ty < block.y; ++ty)
            for (unsigned tx = 0; tx < block.x; ++tx) s.fibers[i++]->index = dim3(tx, ty, tz);
        poison_shared_memory();
        run_block(s);
        if (s.failure) {
          std::exception_ptr failure = s.failure;
          s.failure = nullptr;
          std::rethrow_exception(failure);
        }
      }
}

}  // namespace kvactor::emulation

// ---- runtime API over host memory ----

struct emulated_stream {};
struct emulated_event {
  std::chrono::steady_clock::time_point at;
};

hipError_t hipMalloc(void** pointer, std::size_t bytes) {
  *pointer = ::operator new (bytes == 0 ? 1 : bytes, std::align_val_t{256}, std::nothrow);
  return *pointer ? hipSuccess : hipErrorOutOfMemory;
}
hipError_t hipFree(void* pointer) {
  ::operator delete (pointer, std::align_val_t{256});
  return hipSuccess;
}
hipError_t hipMemcpy(void* dst, const void* src, std::size_t bytes, hipMemcpyKind) {
  std::memmove(dst, src, bytes);
  return hipSuccess;
}
hipError_t hipMemcpyAsync(void* dst, const void* src, std::size_t bytes, hipMemcpyKind kind, hipStream_t) {
  return hipMemcpy(dst, src, bytes, kind);
}
hipError_t hipMemset(void* dst, int value, std::size_t bytes) {
  std::memset(dst, value, bytes);
  return hipSuccess;
}
hipError_t hipStreamCreate(hipStream_t* stream) {
  *stream = new emulated_stream;
  return hipSuccess;
}
hipError_t hipStreamDestroy(hipStream_t stream) {
  delete stream;
  return hipSuccess;
}
hipError_t hipStreamSynchronize(hipStream_t) { return hipSuccess; }
hipError_t hipEventCreate(hipEvent_t* event) {
  *event = new emulated_event;
  return hipSuccess;
}
hipError_t hipEventDestroy(hipEvent_t event) {
  delete event;
  return hipSuccess;
}
hipError_t hipEventRecord(hipEvent_t event, hipStream_t) {
  event->at = std::chrono::steady_clock::now();
  return hipSuccess;
}
hipError_t hipEventSynchronize(hipEvent_t) { return hipSuccess; }
hipError_t hipEventElapsedTime(float* ms, hipEvent_t start, hipEvent_t stop) {
  *ms = std::chrono::duration<float, std::milli>(stop->at - start->at).count();
  return hipSuccess;
}
hipError_t hipGetDeviceCount(int* count) {
  *count = 1;
  return hipSuccess;
}
hipError_t hipGetDevice(int* device) {
  *device = 0;
  return hipSuccess;
}
hipError_t hipGetDeviceProperties(hipDeviceProp_t* props, int) {
  std::snprintf(props->name, sizeof props->name, "CPU emulation of a GPU");
  props->totalGlobalMem = std::size_t{1} << 30;
  props->warpSize = kvactor::emulation::lanes;
  return hipSuccess;
}
hipError_t hipGetLastError() { return hipSuccess; }
const char* hipGetErrorString(hipError_t error) {
  switch (error) {
    case hipSuccess: return "no error";
    case hipErrorOutOfMemory: return "out of memory (emulated)";
    default: return "invalid value (emulated)";
  }
}
