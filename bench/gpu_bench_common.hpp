// Shared by the GPU benchmarks: the no-GPU exit and the device's measured copy
// bandwidth. (Argument parsing: bench/bench_arguments.hpp.)
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "bench/bench_arguments.hpp"
#include "device/hip/device_memory.hpp"

namespace kvactor::bench {

// Exit code when there is no GPU to measure (same as the tests' "skipped").
inline constexpr int no_gpu_exit_code = 77;

// Returns the probe when a GPU is usable; otherwise prints why and exits 77.
inline hip::gpu_probe require_gpu_or_exit(const char* tool) {
  hip::gpu_probe probe = hip::probe_gpu();
  if (!probe.available) {
    std::printf("%s: no GPU: %s. Nothing was measured.\n", tool, probe.description.c_str());
    std::exit(no_gpu_exit_code);
  }
  return probe;
}

// Device-to-device copy bandwidth in GB/s (bytes read + bytes written per second),
// best of several copies of a `bytes`-sized buffer.
inline double measure_copy_bandwidth(std::size_t bytes) {
  hip::device_buffer src(bytes, "copy benchmark source"), dst(bytes, "copy benchmark destination");
  src.fill_zero();
  hip::device_stream stream;
  hip::device_timer timer;
  double best_ms = 1e30;
  for (int i = 0; i < 10; ++i) {
    timer.start(stream.handle());
    hip::copy_on_device(dst.data(), src.data(), bytes, stream.handle());
    const double ms = timer.stop_ms(stream.handle());
    if (i > 0 && ms < best_ms) best_ms = ms;  // the first copy warms up
  }
  return 2.0 * static_cast<double>(bytes) / (best_ms * 1e-3) / 1e9;
}

}  // namespace kvactor::bench
