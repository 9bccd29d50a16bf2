// The table of weight types kvactor reads and writes: for each ggml type id, its
// name, block geometry and row codecs. Everything that needs to know a type's layout
// (row_bytes, the GGUF reader/writer, the CPU backend's checks, `kvactor convert`)
// asks here.
#pragma once

#include <cstdint>
#include <string>

#include "model/model.hpp"

namespace kvactor {

struct weight_type_info {
  dtype type;
  const char* name;    // as `kvactor convert --type` spells it (dtype_name)
  int block_values;    // values per block (1 for f32 / f16 / bf16)
  int block_bytes;     // bytes per block
  uint32_t file_type;  // GGUF general.file_type of a file mostly of this type (LLAMA_FTYPE_*)
  // One row of `cols` values (cols % block_values == 0), exact (ggml's dequantize_row_*).
  void (*dequantize_row)(const uint8_t* src, float* dst, int64_t cols);
  // One row encoded as this type (ggml's reference quantiser, or a close relative).
  void (*quantize_row)(const float* src, uint8_t* dst, int64_t cols);
};

// The type's entry, or nullptr when kvactor does not support it.
const weight_type_info* find_weight_type(dtype t);
// The entry for a supported ggml type id given as a number (from a file), else nullptr.
const weight_type_info* find_weight_type_id(uint32_t ggml_type);
// By name ("q4_k", "Q4_K" and "f16" alike), else nullptr.
const weight_type_info* find_weight_type(const std::string& name);
// The names of the types that can be written, comma separated (for messages).
std::string weight_type_names();

}  // namespace kvactor
