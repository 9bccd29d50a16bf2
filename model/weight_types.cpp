#include "model/weight_types.hpp"

#include <cctype>
#include <cstring>

#include "model/ggml_blocks.hpp"
#include "model/ggml_dequant.hpp"
#include "model/ggml_quantize.hpp"
#include "model/quantization.hpp"

namespace kvactor {
namespace {

// A row of whole blocks through a per-block decoder.
template <int BlockValues, int BlockBytes, void (*Block)(const uint8_t*, float*)>
void dequantize_blocks(const uint8_t* src, float* dst, int64_t cols) {
  for (int64_t b = 0; b < cols / BlockValues; ++b) Block(src + b * BlockBytes, dst + b * BlockValues);
}

void f32_dequantize(const uint8_t* src, float* dst, int64_t cols) {
  std::memcpy(dst, src, static_cast<std::size_t>(cols) * 4);
}
void f32_quantize(const float* src, uint8_t* dst, int64_t cols) {
  std::memcpy(dst, src, static_cast<std::size_t>(cols) * 4);
}
void f16_dequantize(const uint8_t* src, float* dst, int64_t cols) {
  for (int64_t c = 0; c < cols; ++c) {
    uint16_t h;
    std::memcpy(&h, src + 2 * c, 2);
    dst[c] = ggml::fp16_value(h);
  }
}
void f16_quantize(const float* src, uint8_t* dst, int64_t cols) {
  for (int64_t c = 0; c < cols; ++c) {
    const uint16_t h = fp32_to_fp16(src[c]);
    std::memcpy(dst + 2 * c, &h, 2);
  }
}
void bf16_dequantize(const uint8_t* src, float* dst, int64_t cols) {
  for (int64_t c = 0; c < cols; ++c) {
    uint16_t h;
    std::memcpy(&h, src + 2 * c, 2);
    dst[c] = ggml::bf16_value(h);
  }
}
// Round to nearest even; NaN stays a quiet NaN (ggml's ggml_compute_fp32_to_bf16).
void bf16_quantize(const float* src, uint8_t* dst, int64_t cols) {
  for (int64_t c = 0; c < cols; ++c) {
    uint32_t u;
    std::memcpy(&u, &src[c], 4);
    const uint16_t h = (u & 0x7fffffffu) > 0x7f800000u
                           ? static_cast<uint16_t>((u >> 16) | 64)
                           : static_cast<uint16_t>((u + (0x7fffu + ((u >> 16) & 1u))) >> 16);
    std::memcpy(dst + 2 * c, &h, 2);
  }
}

using namespace ggml;

#define KVACTOR_BLOCK_TYPE(T, ftype, block, qk)                                                                        \
  weight_type_info {                                                                                                   \
    dtype::T, #T, qk, static_cast<int>(sizeof(block_##block)), ftype,                                                  \
        dequantize_blocks<qk, static_cast<int>(sizeof(block_##block)), dequantize_block_##block>, quantize_row_##block \
  }

// LLAMA_FTYPE_* values from llama.h: MOSTLY_Q4_0 2, Q4_1 3, Q8_0 7, Q5_0 8, Q5_1 9, Q2_K 10,
// Q3_K_M 12, Q4_K_M 15, Q5_K_M 17, Q6_K 18, IQ4_NL 25, BF16 32.
const weight_type_info table[] = {
    {dtype::f32, "f32", 1, 4, 0, f32_dequantize, f32_quantize},
    {dtype::f16, "f16", 1, 2, 1, f16_dequantize, f16_quantize},
    {dtype::bf16, "bf16", 1, 2, 32, bf16_dequantize, bf16_quantize},
    KVACTOR_BLOCK_TYPE(q8_0, 7, q8_0, qk_legacy),
    KVACTOR_BLOCK_TYPE(q4_0, 2, q4_0, qk_legacy),
    KVACTOR_BLOCK_TYPE(q4_1, 3, q4_1, qk_legacy),
    KVACTOR_BLOCK_TYPE(q5_0, 8, q5_0, qk_legacy),
    KVACTOR_BLOCK_TYPE(q5_1, 9, q5_1, qk_legacy),
    KVACTOR_BLOCK_TYPE(iq4_nl, 25, iq4_nl, qk_legacy),
    KVACTOR_BLOCK_TYPE(q2_k, 10, q2_K, qk_k),
    KVACTOR_BLOCK_TYPE(q3_k, 12, q3_K, qk_k),
    KVACTOR_BLOCK_TYPE(q4_k, 15, q4_K, qk_k),
    KVACTOR_BLOCK_TYPE(q5_k, 17, q5_K, qk_k),
    KVACTOR_BLOCK_TYPE(q6_k, 18, q6_K, qk_k),
};

#undef KVACTOR_BLOCK_TYPE

}  // namespace

const weight_type_info* find_weight_type(dtype t) {
  for (const auto& info : table)
    if (info.type == t) return &info;
  return nullptr;
}

const weight_type_info* find_weight_type_id(uint32_t ggml_type) {
  return find_weight_type(static_cast<dtype>(ggml_type));
}

const weight_type_info* find_weight_type(const std::string& name) {
  std::string lower;
  for (char c : name) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (const auto& info : table)
    if (lower == info.name) return &info;
  return nullptr;
}

std::string weight_type_names() {
  std::string out;
  for (const auto& info : table) {
    if (!out.empty()) out += ", ";
    out += info.name;
  }
  return out;
}

}  // namespace kvactor
