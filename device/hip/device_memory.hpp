// Device memory, streams and the device probe, behind plain C++ types so host code
// (the backend's bookkeeping, tests, benchmarks) needs no GPU headers. Every
// failure raises backend_error naming the call, the size and the runtime's reason.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace kvactor::hip {

// What the probe found. `available` is false on a machine without a usable GPU
// (no device, no driver, a driver too old for the runtime); `description` then
// says why, else names the device.
struct gpu_probe {
  bool available = false;
  std::string description;
  int warp_size = 0;
  std::size_t total_bytes = 0;
};

// Never throws.
gpu_probe probe_gpu();

// Lanes per warp/wavefront of the current device (queried once).
int device_warp_size();

// Owns `bytes` of device memory; move-only.
class device_buffer {
 public:
  device_buffer() = default;
  // `what` names the buffer in the error raised when the allocation fails.
  device_buffer(std::size_t bytes, const char* what);
  ~device_buffer();
  device_buffer(device_buffer&& other) noexcept;
  device_buffer& operator=(device_buffer&& other) noexcept;
  device_buffer(const device_buffer&) = delete;
  device_buffer& operator=(const device_buffer&) = delete;

  std::size_t size() const { return bytes_; }
  void* data() const { return data_; }
  template <class T>
  T* as(std::size_t byte_offset = 0) const {
    return reinterpret_cast<T*>(static_cast<char*>(data_) + byte_offset);
  }

  // Synchronous copies; ranges are checked against the buffer.
  void upload(const void* host, std::size_t bytes, std::size_t byte_offset = 0);
  void download(void* host, std::size_t bytes, std::size_t byte_offset = 0) const;
  void fill_zero();

 private:
  void* data_ = nullptr;
  std::size_t bytes_ = 0;
};

// Host <-> device copies for memory not owned by a device_buffer.
void copy_to_device(void* device, const void* host, std::size_t bytes);
void copy_to_host(void* host, const void* device, std::size_t bytes);
void copy_on_device(void* device_dst, const void* device_src, std::size_t bytes, void* stream);

// Owns a stream; kernels of one backend run in order on it.
class device_stream {
 public:
  device_stream();
  ~device_stream();
  device_stream(const device_stream&) = delete;
  device_stream& operator=(const device_stream&) = delete;
  void* handle() const { return stream_; }
  void synchronize() const;  // raises backend_error for any error of the work enqueued

 private:
  void* stream_ = nullptr;
};

// Elapsed time on a stream, for benchmarks.
class device_timer {
 public:
  device_timer();
  ~device_timer();
  device_timer(const device_timer&) = delete;
  device_timer& operator=(const device_timer&) = delete;
  void start(void* stream);
  double stop_ms(void* stream);  // waits for the stream

 private:
  void* start_ = nullptr;
  void* stop_ = nullptr;
};

// Events recorded in order on one stream, read once the stream has finished: a
// per-launch time breakdown for benchmarks. Events are created on first use and
// reused by later rounds (clear() starts a round).
class event_trace {
 public:
  event_trace() = default;
  ~event_trace();
  event_trace(const event_trace&) = delete;
  event_trace& operator=(const event_trace&) = delete;
  void clear() { used_ = 0; }
  void record(void* stream);  // appends an event
  std::size_t size() const { return used_; }
  // Milliseconds from recorded event `from` to recorded event `to`.
  double elapsed_ms(std::size_t from, std::size_t to) const;

 private:
  std::vector<void*> events_;
  std::size_t used_ = 0;
};

}  // namespace kvactor::hip
