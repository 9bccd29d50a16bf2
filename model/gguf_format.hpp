// GGUF (v3) container format constants, shared by the reader and the writer.
//
//   "GGUF" | u32 version | u64 n_tensors | u64 n_kv
//   n_kv x      { string key | u32 value_type | value }
//   n_tensors x { string name | u32 n_dims | u64 ne[n_dims] | u32 ggml_type | u64 offset }
//   padding to `general.alignment` (default 32)
//   tensor data; each tensor at data_start + offset (offsets aligned)
// A string is u64 length + bytes (no NUL). An array is u32 elem_type, u64 count, elems.
// ggml shapes list the innermost (contiguous) dimension first: a matrix of
// `rows` x `cols` is ne = {cols, rows}.
#pragma once

#include <cstdint>
#include <string>

namespace kvactor::gguf {

inline constexpr uint32_t magic = 0x46554747;  // "GGUF" read as little-endian u32
inline constexpr uint32_t default_alignment = 32;
inline constexpr uint32_t max_dims = 4;

enum class value_type : uint32_t {
  uint8 = 0,
  int8 = 1,
  uint16 = 2,
  int16 = 3,
  uint32 = 4,
  int32 = 5,
  float32 = 6,
  boolean = 7,
  string = 8,
  array = 9,
  uint64 = 10,
  int64 = 11,
  float64 = 12,
};

const char* value_type_name(value_type t);  // "?" for unknown ids
std::size_t value_type_size(value_type t);  // fixed byte size; 0 for string/array/unknown

// ggml tensor type ids (ggml.h); only f32, f16, q8_0 are loadable here.
const char* ggml_type_name(uint32_t type);  // e.g. "Q4_K"; "unknown" for ids ggml lacks

}  // namespace kvactor::gguf
