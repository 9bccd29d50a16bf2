#include "model/gguf_format.hpp"

namespace kvactor::gguf {

const char* value_type_name(value_type t) {
  switch (t) {
    case value_type::uint8: return "uint8";
    case value_type::int8: return "int8";
    case value_type::uint16: return "uint16";
    case value_type::int16: return "int16";
    case value_type::uint32: return "uint32";
    case value_type::int32: return "int32";
    case value_type::float32: return "float32";
    case value_type::boolean: return "bool";
    case value_type::string: return "string";
    case value_type::array: return "array";
    case value_type::uint64: return "uint64";
    case value_type::int64: return "int64";
    case value_type::float64: return "float64";
  }
  return "?";
}

std::size_t value_type_size(value_type t) {
  switch (t) {
    case value_type::uint8:
    case value_type::int8:
    case value_type::boolean: return 1;
    case value_type::uint16:
    case value_type::int16: return 2;
    case value_type::uint32:
    case value_type::int32:
    case value_type::float32: return 4;
    case value_type::uint64:
    case value_type::int64:
    case value_type::float64: return 8;
    case value_type::string:
    case value_type::array: return 0;
  }
  return 0;
}

const char* ggml_type_name(uint32_t type) {
  static const char* const names[] = {"F32",   "F16",   "Q4_0",    "Q4_1",   "Q4_2(removed)", "Q4_3(removed)", "Q5_0",
                                      "Q5_1",  "Q8_0",  "Q8_1",    "Q2_K",   "Q3_K",          "Q4_K",          "Q5_K",
                                      "Q6_K",  "Q8_K",  "IQ2_XXS", "IQ2_XS", "IQ3_XXS",       "IQ1_S",         "IQ4_NL",
                                      "IQ3_S", "IQ2_S", "IQ4_XS",  "I8",     "I16",           "I32",           "I64",
                                      "F64",   "IQ1_M", "BF16"};
  return type < sizeof names / sizeof names[0] ? names[type] : "unknown";
}

}  // namespace kvactor::gguf
