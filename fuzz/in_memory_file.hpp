// The loaders take a path; fuzz inputs live in memory. An anonymous memfd gives a
// path (/proc/self/fd/N) without touching the disk or leaving files behind.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace kvactor::fuzz {

class in_memory_file {
 public:
  in_memory_file(const uint8_t* data, std::size_t size);  // aborts if no memfd can be made
  ~in_memory_file();
  in_memory_file(const in_memory_file&) = delete;
  in_memory_file& operator=(const in_memory_file&) = delete;

  const std::string& path() const { return path_; }

 private:
  int fd_ = -1;
  std::string path_;
};

}  // namespace kvactor::fuzz
