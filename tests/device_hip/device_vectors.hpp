// Moving test data to and from the GPU in one line.
#pragma once

#include <vector>

#include "device/hip/device_memory.hpp"

namespace kvactor::testing {

template <class T>
hip::device_buffer to_device(const std::vector<T>& host) {
  hip::device_buffer buffer(host.size() * sizeof(T) + 16, "test input");  // +16: never a zero-size buffer
  buffer.upload(host.data(), host.size() * sizeof(T));
  return buffer;
}

template <class T>
hip::device_buffer device_zeros(std::size_t count) {
  hip::device_buffer buffer(count * sizeof(T) + 16, "test output");
  buffer.fill_zero();
  return buffer;
}

template <class T>
std::vector<T> to_host(const hip::device_buffer& buffer, std::size_t count) {
  std::vector<T> host(count);
  buffer.download(host.data(), count * sizeof(T));
  return host;
}

}  // namespace kvactor::testing
