// Appends GGUF-encoded values (see gguf_format.hpp) to a byte string: used by
// the GGUF writer and by bench/real_shape_model for the file header (small;
// tensor data is streamed separately).
#pragma once

#include <cstdint>
#include <cstring>
#include <string>

#include "model/gguf_format.hpp"

namespace kvactor::gguf {

class encoder {
 public:
  template <typename T>
  void raw(T v) {
    char b[sizeof v];
    std::memcpy(b, &v, sizeof v);
    out_.append(b, sizeof v);
  }
  void string(const std::string& s) {
    raw<uint64_t>(s.size());
    out_ += s;
  }
  // Starts a key/value pair (the value follows); counted in n_kv().
  void key(const std::string& k, value_type t) {
    string(k);
    raw(static_cast<uint32_t>(t));
    ++n_kv_;
  }
  void kv_u32(const std::string& k, uint32_t v) { key(k, value_type::uint32), raw(v); }
  void kv_f32(const std::string& k, float v) { key(k, value_type::float32), raw(v); }
  void kv_string(const std::string& k, const std::string& v) { key(k, value_type::string), string(v); }
  // An array's key and header; the caller appends its `count` elements.
  void array_header(const std::string& k, value_type element, uint64_t count) {
    key(k, value_type::array);
    raw(static_cast<uint32_t>(element));
    raw(count);
  }
  const std::string& bytes() const { return out_; }
  uint64_t n_kv() const { return n_kv_; }

 private:
  std::string out_;
  uint64_t n_kv_ = 0;
};

}  // namespace kvactor::gguf
