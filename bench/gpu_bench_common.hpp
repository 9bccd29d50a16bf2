// Shared by the GPU benchmarks: the no-GPU exit, the device's measured copy
// bandwidth, and small argument parsing.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

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

// "1,2,4" -> {1, 2, 4}; exits with status 2 on anything else.
inline std::vector<int> parse_int_list(const char* tool, const std::string& flag, const std::string& text) {
  std::vector<int> out;
  std::size_t at = 0;
  while (at <= text.size()) {
    const std::size_t comma = text.find(',', at);
    const std::string item = text.substr(at, comma == std::string::npos ? std::string::npos : comma - at);
    char* end = nullptr;
    const long v = std::strtol(item.c_str(), &end, 10);
    if (item.empty() || *end != '\0' || v <= 0 || v > (1 << 24)) {
      std::fprintf(stderr, "%s: %s needs positive integers separated by commas, got '%s'\n", tool, flag.c_str(),
                   text.c_str());
      std::exit(2);
    }
    out.push_back(static_cast<int>(v));
    if (comma == std::string::npos) break;
    at = comma + 1;
  }
  return out;
}

}  // namespace kvactor::bench
