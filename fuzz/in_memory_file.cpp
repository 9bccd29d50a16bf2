#include "fuzz/in_memory_file.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

namespace kvactor::fuzz {

in_memory_file::in_memory_file(const uint8_t* data, std::size_t size) {
  fd_ = memfd_create("kvactor-fuzz-input", MFD_CLOEXEC);
  if (fd_ < 0) {
    std::perror("memfd_create");
    std::abort();
  }
  std::size_t written = 0;
  while (written < size) {
    const ssize_t n = ::write(fd_, data + written, size - written);
    if (n <= 0) {
      std::perror("write to memfd");
      std::abort();
    }
    written += static_cast<std::size_t>(n);
  }
  path_ = "/proc/self/fd/" + std::to_string(fd_);
}

in_memory_file::~in_memory_file() { ::close(fd_); }

}  // namespace kvactor::fuzz
