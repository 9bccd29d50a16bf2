// Bounds-checked sequential reads from a model file. Every read states what it is
// reading, so a short or damaged file fails with "FILE: truncated reading X at
// offset N (file has M bytes)" instead of a crash or a silent zero fill.
#pragma once

#include <cstdint>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "model/model.hpp"

namespace kvactor {

class binary_file {
 public:
  explicit binary_file(const std::string& path);  // throws model_error if unreadable

  const std::string& path() const { return path_; }
  uint64_t size() const { return size_; }
  uint64_t offset() const { return offset_; }
  uint64_t remaining() const { return size_ - offset_; }

  void read(void* dst, uint64_t n, const char* what);
  void skip(uint64_t n, const char* what);
  void seek(uint64_t offset, const char* what);
  std::vector<uint8_t> read_bytes(uint64_t n, const char* what);

  template <typename T>
  T read_value(const char* what) {
    T v{};
    read(&v, sizeof v, what);
    return v;
  }

  // A model_error whose message starts with the file name.
  [[noreturn]] void fail(const std::string& message) const;

 private:
  void require(uint64_t n, const char* what) const;

  std::string path_;
  std::ifstream in_;
  uint64_t size_ = 0;
  uint64_t offset_ = 0;
};

// A read-only, private mapping of a whole file (PROT_READ, MAP_PRIVATE): the page
// cache is shared between processes and nothing is read until a page is touched.
// Matrices viewing it hold a shared_ptr, so it lives as long as any of them.
class mapped_file {
 public:
  static std::shared_ptr<const mapped_file> open(const std::string& path);  // throws model_error
  ~mapped_file();
  mapped_file(const mapped_file&) = delete;
  mapped_file& operator=(const mapped_file&) = delete;

  const uint8_t* data() const { return data_; }
  uint64_t size() const { return size_; }

 private:
  mapped_file(const uint8_t* data, uint64_t size) : data_(data), size_(size) {}
  const uint8_t* data_;
  uint64_t size_;
};

}  // namespace kvactor
