// Device memory, streams and the probe over the HIP runtime (hipcc, or nvcc
// through hip_compat.hpp).
#include "device/hip/device_memory.hpp"

#include <utility>

#include "device/hip/hip_compat.hpp"

namespace kvactor::hip {

namespace {

std::string mib(std::size_t bytes) { return std::to_string(bytes / (1024.0 * 1024.0)) + " MiB"; }

void check_range(std::size_t size, std::size_t bytes, std::size_t offset, const char* op) {
  if (offset > size || bytes > size - offset)
    throw backend_error(std::string("device buffer ") + op + " of " + std::to_string(bytes) + " bytes at offset " +
                        std::to_string(offset) + " is outside the buffer of " + std::to_string(size) + " bytes");
}

}  // namespace

gpu_probe probe_gpu() {
  gpu_probe probe;
  int count = 0;
  const hipError_t status = hipGetDeviceCount(&count);
  if (status != hipSuccess) {
    (void)hipGetLastError();  // clear the sticky error so later calls report their own
    probe.description = std::string("no usable GPU: ") + hipGetErrorString(status);
    return probe;
  }
  if (count == 0) {
    probe.description = "no usable GPU: the runtime reports 0 devices";
    return probe;
  }
  int device = 0;
  hipDeviceProp_t props{};
  if (hipGetDevice(&device) != hipSuccess || hipGetDeviceProperties(&props, device) != hipSuccess) {
    probe.description = "no usable GPU: cannot read the device properties";
    return probe;
  }
  probe.available = true;
  probe.warp_size = props.warpSize;
  probe.total_bytes = props.totalGlobalMem;
  probe.description =
      std::string(props.name) + " (" + mib(props.totalGlobalMem) + ", warp " + std::to_string(props.warpSize) + ")";
  return probe;
}

int device_warp_size() {
  static const int size = [] {
    int device = 0;
    hipDeviceProp_t props{};
    KVACTOR_HIP_CHECK(hipGetDevice(&device));
    KVACTOR_HIP_CHECK(hipGetDeviceProperties(&props, device));
    return props.warpSize;
  }();
  return size;
}

device_buffer::device_buffer(std::size_t bytes, const char* what) : bytes_(bytes) {
  if (bytes == 0) return;
  const hipError_t status = hipMalloc(&data_, bytes);
  if (status != hipSuccess) {
    (void)hipGetLastError();
    data_ = nullptr;
    throw backend_error(std::string("cannot allocate ") + mib(bytes) + " of GPU memory for " + what + ": " +
                        hipGetErrorString(status));
  }
}

device_buffer::~device_buffer() {
  if (data_) (void)hipFree(data_);  // nothing useful to do with an error while unwinding
}

device_buffer::device_buffer(device_buffer&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)), bytes_(std::exchange(other.bytes_, 0)) {}

device_buffer& device_buffer::operator=(device_buffer&& other) noexcept {
  if (this != &other) {
    if (data_) (void)hipFree(data_);
    data_ = std::exchange(other.data_, nullptr);
    bytes_ = std::exchange(other.bytes_, 0);
  }
  return *this;
}

void device_buffer::upload(const void* host, std::size_t bytes, std::size_t byte_offset) {
  check_range(bytes_, bytes, byte_offset, "upload");
  if (bytes == 0) return;
  KVACTOR_HIP_CHECK(hipMemcpy(as<char>(byte_offset), host, bytes, hipMemcpyHostToDevice));
}

void device_buffer::download(void* host, std::size_t bytes, std::size_t byte_offset) const {
  check_range(bytes_, bytes, byte_offset, "download");
  if (bytes == 0) return;
  KVACTOR_HIP_CHECK(hipMemcpy(host, as<char>(byte_offset), bytes, hipMemcpyDeviceToHost));
}

void device_buffer::fill_zero() {
  if (bytes_ != 0) KVACTOR_HIP_CHECK(hipMemset(data_, 0, bytes_));
}

void copy_to_device(void* device, const void* host, std::size_t bytes) {
  if (bytes != 0) KVACTOR_HIP_CHECK(hipMemcpy(device, host, bytes, hipMemcpyHostToDevice));
}

void copy_to_host(void* host, const void* device, std::size_t bytes) {
  if (bytes != 0) KVACTOR_HIP_CHECK(hipMemcpy(host, device, bytes, hipMemcpyDeviceToHost));
}

void copy_on_device(void* device_dst, const void* device_src, std::size_t bytes, void* stream) {
  if (bytes != 0)
    KVACTOR_HIP_CHECK(
        hipMemcpyAsync(device_dst, device_src, bytes, hipMemcpyDeviceToDevice, static_cast<hipStream_t>(stream)));
}

device_stream::device_stream() {
  hipStream_t stream = nullptr;
  KVACTOR_HIP_CHECK(hipStreamCreate(&stream));
  stream_ = stream;
}

device_stream::~device_stream() {
  if (stream_) (void)hipStreamDestroy(static_cast<hipStream_t>(stream_));
}

void device_stream::synchronize() const { KVACTOR_HIP_CHECK(hipStreamSynchronize(static_cast<hipStream_t>(stream_))); }

device_timer::device_timer() {
  hipEvent_t a = nullptr, b = nullptr;
  KVACTOR_HIP_CHECK(hipEventCreate(&a));
  start_ = a;
  KVACTOR_HIP_CHECK(hipEventCreate(&b));
  stop_ = b;
}

device_timer::~device_timer() {
  if (start_) (void)hipEventDestroy(static_cast<hipEvent_t>(start_));
  if (stop_) (void)hipEventDestroy(static_cast<hipEvent_t>(stop_));
}

void device_timer::start(void* stream) {
  KVACTOR_HIP_CHECK(hipEventRecord(static_cast<hipEvent_t>(start_), static_cast<hipStream_t>(stream)));
}

double device_timer::stop_ms(void* stream) {
  KVACTOR_HIP_CHECK(hipEventRecord(static_cast<hipEvent_t>(stop_), static_cast<hipStream_t>(stream)));
  KVACTOR_HIP_CHECK(hipEventSynchronize(static_cast<hipEvent_t>(stop_)));
  float ms = 0.0f;
  KVACTOR_HIP_CHECK(hipEventElapsedTime(&ms, static_cast<hipEvent_t>(start_), static_cast<hipEvent_t>(stop_)));
  return static_cast<double>(ms);
}

event_trace::~event_trace() {
  for (void* e : events_) (void)hipEventDestroy(static_cast<hipEvent_t>(e));
}

void event_trace::record(void* stream) {
  if (used_ == events_.size()) {
    hipEvent_t e = nullptr;
    KVACTOR_HIP_CHECK(hipEventCreate(&e));
    events_.push_back(e);
  }
  KVACTOR_HIP_CHECK(hipEventRecord(static_cast<hipEvent_t>(events_[used_]), static_cast<hipStream_t>(stream)));
  ++used_;
}

double event_trace::elapsed_ms(std::size_t from, std::size_t to) const {
  if (from >= used_ || to >= used_)
    throw backend_error("event_trace: event " + std::to_string(from >= used_ ? from : to) + " of " +
                        std::to_string(used_) + " was not recorded");
  KVACTOR_HIP_CHECK(hipEventSynchronize(static_cast<hipEvent_t>(events_[to])));
  float ms = 0.0f;
  KVACTOR_HIP_CHECK(
      hipEventElapsedTime(&ms, static_cast<hipEvent_t>(events_[from]), static_cast<hipEvent_t>(events_[to])));
  return static_cast<double>(ms);
}

}  // namespace kvactor::hip
