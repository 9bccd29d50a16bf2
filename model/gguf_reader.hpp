// Reads a GGUF file's metadata and tensor directory, and tensor data on demand.
// Every length and count is checked against the bytes left in the file before
// anything is allocated, so damaged files fail with a model_error naming the
// file (never a crash or a terabyte allocation).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "model/binary_file.hpp"
#include "model/gguf_format.hpp"

namespace kvactor::gguf {

struct value {
  value_type type = value_type::uint8;
  uint64_t uint_value = 0;   // unsigned integer types and bool
  int64_t int_value = 0;     // signed integer types
  double float_value = 0.0;  // float32 / float64
  std::string string_value;
  value_type element_type = value_type::uint8;  // arrays
  std::vector<value> elements;                  // arrays
};

struct tensor_info {
  std::string name;
  std::vector<uint64_t> ne;  // ne[0] is the contiguous (column) dimension
  uint32_t type = 0;         // ggml type id
  uint64_t offset = 0;       // from the start of the data section
  uint64_t n_elements() const;
};

class reader {
 public:
  explicit reader(const std::string& path);  // parses header, metadata, tensor directory

  const std::string& path() const { return file_.path(); }
  uint32_t version() const { return version_; }
  uint32_t alignment() const { return alignment_; }
  const std::map<std::string, value>& metadata() const { return metadata_; }
  const std::vector<tensor_info>& tensors() const { return tensors_; }

  const value* find(const std::string& key) const;  // nullptr if absent
  const tensor_info* find_tensor(const std::string& name) const;

  // Typed metadata access; each throws model_error naming the file and key when
  // the key is missing (unless a default is given) or has an unusable type.
  uint64_t get_uint(const std::string& key) const;
  uint64_t get_uint(const std::string& key, uint64_t fallback) const;
  double get_float(const std::string& key, double fallback) const;
  std::string get_string(const std::string& key) const;
  std::vector<std::string> get_string_array(const std::string& key) const;
  std::vector<float> get_float_array(const std::string& key) const;
  std::vector<int32_t> get_int_array(const std::string& key) const;

  // The raw bytes of a tensor of any type the dtype enum names (others throw), copied.
  std::vector<uint8_t> read_tensor(const tensor_info& t);

  // The same bytes in place, in a read-only mapping of the file (mapped on first use).
  // The pointer stays valid while the returned keep-alive (the mapping) is held.
  struct tensor_view {
    std::shared_ptr<const void> keep_alive;
    const uint8_t* data = nullptr;
    std::size_t size = 0;
  };
  tensor_view map_tensor(const tensor_info& t);

  [[noreturn]] void fail(const std::string& message) const { file_.fail(message); }

 private:
  std::string read_string(const char* what);
  value read_value(value_type t, const std::string& key, int depth);
  uint64_t tensor_bytes(const tensor_info& t) const;  // throws for unsupported types

  std::shared_ptr<const mapped_file> mapping_;
  binary_file file_;
  uint32_t version_ = 0;
  uint32_t alignment_ = default_alignment;
  uint64_t data_offset_ = 0;
  std::map<std::string, value> metadata_;
  std::vector<tensor_info> tensors_;
  std::map<std::string, std::size_t> tensor_index_;
};

}  // namespace kvactor::gguf
