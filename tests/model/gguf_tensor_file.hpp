// A minimal, independent GGUF reader for tests: the tensor directory and raw tensor
// bytes of a well-formed file, of any tensor type (the project's reader is not used
// here so that a test can check files written by either side).
#pragma once

#include <doctest/doctest.h>

#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <vector>

namespace model_test {

struct gguf_tensor {
  std::vector<uint64_t> ne;
  uint32_t type = 0;
  uint64_t offset = 0;
};

class gguf_tensor_file {
 public:
  explicit gguf_tensor_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    REQUIRE_MESSAGE(in.good(), "cannot open " << path);
    bytes_.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    REQUIRE(take<uint32_t>() == 0x46554747u);  // "GGUF"
    REQUIRE(take<uint32_t>() == 3);
    const auto n_tensors = take<uint64_t>();
    const auto n_kv = take<uint64_t>();
    for (uint64_t i = 0; i < n_kv; ++i) {
      const std::string key = take_string();
      const auto type = take<uint32_t>();
      if (key == "general.alignment" && type == 4) {
        alignment_ = take<uint32_t>();
        continue;
      }
      if (key == "general.file_type" && type == 4) {
        file_type = take<uint32_t>();
        continue;
      }
      skip_value(type);
    }
    for (uint64_t i = 0; i < n_tensors; ++i) {
      const std::string name = take_string();
      gguf_tensor t;
      t.ne.resize(take<uint32_t>());
      for (auto& d : t.ne) d = take<uint64_t>();
      t.type = take<uint32_t>();
      t.offset = take<uint64_t>();
      tensors[name] = t;
    }
    data_ = (pos_ + alignment_ - 1) / alignment_ * alignment_;
  }

  const uint8_t* data(const gguf_tensor& t) const { return bytes_.data() + data_ + t.offset; }
  std::size_t file_size() const { return bytes_.size(); }
  std::size_t data_start() const { return data_; }

  std::map<std::string, gguf_tensor> tensors;
  uint32_t file_type = 0xffffffffu;

 private:
  template <class T>
  T take() {
    REQUIRE(pos_ + sizeof(T) <= bytes_.size());
    T v;
    std::memcpy(&v, bytes_.data() + pos_, sizeof v);
    pos_ += sizeof v;
    return v;
  }
  std::string take_string() {
    const auto n = take<uint64_t>();
    REQUIRE(pos_ + n <= bytes_.size());
    std::string s(reinterpret_cast<const char*>(bytes_.data() + pos_), n);
    pos_ += n;
    return s;
  }
  void skip_value(uint32_t type) {
    static const int sizes[] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};
    REQUIRE(type <= 12);
    if (type == 8) {
      take_string();
    } else if (type == 9) {
      const auto element = take<uint32_t>();
      const auto count = take<uint64_t>();
      for (uint64_t i = 0; i < count; ++i) skip_value(element);
    } else {
      pos_ += static_cast<std::size_t>(sizes[type]);
    }
  }

  std::vector<uint8_t> bytes_;
  std::size_t pos_ = 0;
  std::size_t data_ = 0;
  uint32_t alignment_ = 32;
};

}  // namespace model_test
