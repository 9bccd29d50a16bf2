// Every block format decoded from hand-built bytes, the expected floats worked out by
// hand from ggml's layout (ggml-common.h / dequantize_row_* in ggml-quants.c).
#include <doctest/doctest.h>

#include <cstring>
#include <string>
#include <vector>

#include "model/quantization.hpp"
#include "model/weight_types.hpp"

using namespace kvactor;

namespace {

constexpr uint16_t h_one = 0x3C00, h_half = 0x3800, h_quarter = 0x3400, h_two = 0x4000, h_minus_one = 0xBC00;

void put16(std::vector<uint8_t>& b, std::size_t at, uint16_t v) { std::memcpy(b.data() + at, &v, 2); }

std::vector<float> decode(dtype t, const std::vector<uint8_t>& bytes) {
  const weight_type_info* info = find_weight_type(t);
  REQUIRE(info != nullptr);
  REQUIRE(bytes.size() == static_cast<std::size_t>(info->block_bytes));
  std::vector<float> out(static_cast<std::size_t>(info->block_values), -12345.0f);
  dequantize_row(t, bytes.data(), out.data(), info->block_values);
  return out;
}

}  // namespace

TEST_CASE("the type table: ggml block sizes, names and row bytes") {
  struct expect {
    dtype t;
    int values, bytes;
  };
  for (auto e : {expect{dtype::f32, 1, 4},
                 {dtype::f16, 1, 2},
                 {dtype::bf16, 1, 2},
                 {dtype::q8_0, 32, 34},
                 {dtype::q4_0, 32, 18},
                 {dtype::q4_1, 32, 20},
                 {dtype::q5_0, 32, 22},
                 {dtype::q5_1, 32, 24},
                 {dtype::iq4_nl, 32, 18},
                 {dtype::q2_k, 256, 84},
                 {dtype::q3_k, 256, 110},
                 {dtype::q4_k, 256, 144},
                 {dtype::q5_k, 256, 176},
                 {dtype::q6_k, 256, 210}}) {
    const std::string type_name = dtype_name(e.t);
    CAPTURE(type_name);
    const weight_type_info* info = find_weight_type(e.t);
    REQUIRE(info != nullptr);
    CHECK(info->block_values == e.values);
    CHECK(info->block_bytes == e.bytes);
    CHECK(std::string(info->name) == dtype_name(e.t));
    CHECK(find_weight_type(std::string(info->name)) == info);
    CHECK(row_bytes(e.t, 2048) == static_cast<std::size_t>(2048 / e.values * e.bytes));
  }
  CHECK(find_weight_type(std::string("Q4_K")) == find_weight_type(dtype::q4_k));
  CHECK(find_weight_type(std::string("q4_k_m")) == nullptr);
  CHECK(find_weight_type(dtype::q8_1) == nullptr);
  CHECK(row_bytes(dtype::q8_1, 64) == 0);
  CHECK(weight_type_names().find("iq4_nl") != std::string::npos);
}

TEST_CASE("bf16: the top half of an f32") {
  std::vector<uint8_t> b(2);
  put16(b, 0, 0x3FC0);
  CHECK(decode(dtype::bf16, b)[0] == 1.5f);
  put16(b, 0, 0xC120);
  CHECK(decode(dtype::bf16, b)[0] == -10.0f);
}

TEST_CASE("q4_0: d * (nibble - 8), low nibbles are values 0..15, high nibbles 16..31") {
  std::vector<uint8_t> b(18, 0x88);
  put16(b, 0, h_half);
  b[2] = 0x1F;  // value 0: 15, value 16: 1
  const auto y = decode(dtype::q4_0, b);
  CHECK(y[0] == 3.5f);
  CHECK(y[16] == -3.5f);
  CHECK(y[1] == 0.0f);
  CHECK(y[31] == 0.0f);
}

TEST_CASE("q4_1: d * nibble + m") {
  std::vector<uint8_t> b(20, 0);
  put16(b, 0, h_half);
  put16(b, 2, h_minus_one);
  b[4] = 0x2A;
  const auto y = decode(dtype::q4_1, b);
  CHECK(y[0] == 4.0f);   // 10 * 0.5 - 1
  CHECK(y[16] == 0.0f);  // 2 * 0.5 - 1
  CHECK(y[5] == -1.0f);
}

TEST_CASE("q5_0: the 5th bit of value j is bit j of qh (little endian)") {
  std::vector<uint8_t> b(22, 0);
  put16(b, 0, h_one);
  const uint32_t qh = (1u << 0) | (1u << 16);
  std::memcpy(b.data() + 2, &qh, 4);
  b[6] = 0x3F;
  const auto y = decode(dtype::q5_0, b);
  CHECK(y[0] == 15.0f);   // (15 | 16) - 16
  CHECK(y[16] == 3.0f);   // (3 | 16) - 16
  CHECK(y[1] == -16.0f);  // 0 - 16
  CHECK(y[17] == -16.0f);
}

TEST_CASE("q5_1: d * (5-bit value) + m") {
  std::vector<uint8_t> b(24, 0);
  put16(b, 0, h_quarter);
  put16(b, 2, h_two);
  const uint32_t qh = 1u << 17;
  std::memcpy(b.data() + 4, &qh, 4);
  b[8 + 1] = 0x21;
  const auto y = decode(dtype::q5_1, b);
  CHECK(y[1] == 2.25f);  // 1 * 0.25 + 2
  CHECK(y[17] == 6.5f);  // (2 | 16) * 0.25 + 2
  CHECK(y[0] == 2.0f);
}

TEST_CASE("q8_0: d * int8") {
  std::vector<uint8_t> b(34, 0);
  put16(b, 0, h_two);
  b[2 + 5] = static_cast<uint8_t>(-3);
  b[2 + 31] = 127;
  const auto y = decode(dtype::q8_0, b);
  CHECK(y[5] == -6.0f);
  CHECK(y[31] == 254.0f);
  CHECK(y[0] == 0.0f);
}

TEST_CASE("iq4_nl: d * kvalues[nibble]") {
  std::vector<uint8_t> b(18, 0x88);
  put16(b, 0, h_half);
  b[2] = 0xF0;
  const auto y = decode(dtype::iq4_nl, b);
  CHECK(y[0] == -63.5f);  // -127 * 0.5
  CHECK(y[16] == 56.5f);  // 113 * 0.5
  CHECK(y[1] == 0.5f);    // kvalues[8] = 1
}

TEST_CASE("q2_K: 2-bit values, 4-bit scale (low) and min (high) per 16 values") {
  std::vector<uint8_t> b(84, 0);
  // Layout: scales[16], qs[64], then d and dmin (bytes 80 and 82).
  put16(b, 80, h_one);   // d
  put16(b, 82, h_half);  // dmin
  b[0] = 0x23;           // values 0..15: scale 3, min 2
  b[1] = 0x01;           // values 16..31: scale 1, min 0
  b[2] = 0x15;           // values 32..47: scale 5, min 1
  b[8] = 0x02;           // values 128..143: scale 2
  b[16 + 0] = 0xE4;      // bits 0-1 -> value 0 (0), bits 2-3 -> value 32 (1), bits 4-5 -> value 64, 6-7 -> value 96
  b[16 + 16] = 0x03;     // value 16: 3
  b[16 + 32] = 0x02;     // value 128: 2
  const auto y = decode(dtype::q2_k, b);
  CHECK(y[0] == -1.0f);  // 3 * 0 - 0.5 * 2
  CHECK(y[1] == -1.0f);
  CHECK(y[16] == 3.0f);   // 1 * 3
  CHECK(y[32] == 4.5f);   // 5 * 1 - 0.5
  CHECK(y[128] == 4.0f);  // 2 * 2
  CHECK(y[64] == 0.0f);   // scale 0
}

TEST_CASE("q3_K: 6-bit scales minus 32, 2 low bits in qs, the high bit in hmask (set: no -4)") {
  std::vector<uint8_t> b(110, 0);
  // scales at 96..107: every scale 32 (means 0) except scale 0 = 33 (+1) and scale 5 = 30 (-2).
  uint8_t* sc = b.data() + 96;
  sc[0] = 0x01;                               // scale 0 low nibble 1
  sc[5] = 0x0E;                               // scale 5 low nibble 14
  for (int i = 8; i < 12; ++i) sc[i] = 0xAA;  // high bits 2 (= 32) for every scale ...
  sc[9] = 0xA6;                               // ... but scale 5 (byte 9, bits 2-3) has high bits 1
  put16(b, 108, h_one);
  b[32 + 0] = 0x03;   // value 0: low bits 3
  b[0] = 0x01;        // value 0: high bit (hmask byte 0, bit 0)
  b[32 + 16] = 0x20;  // value 80 = 64 + 16: qs[16] bits 4-5 = 2
  b[16] = 0x04;       // value 80: hmask byte 16, bit 2
  const auto y = decode(dtype::q3_k, b);
  CHECK(y[0] == 3.0f);    // 1 * 3
  CHECK(y[1] == -4.0f);   // 1 * (0 - 4)
  CHECK(y[80] == -4.0f);  // -2 * 2
  CHECK(y[81] == 8.0f);   // -2 * (0 - 4)
  CHECK(y[40] == 0.0f);   // scale 0
}

TEST_CASE("q4_K and q5_K: 6-bit scales and mins packed in 12 bytes") {
  std::vector<uint8_t> b(144, 0);
  put16(b, 0, h_one);
  put16(b, 2, h_half);
  uint8_t* sc = b.data() + 4;
  sc[0] = 0x42;       // scale 0 = 2, and bits 4-5 of scale 4
  sc[4] = 0x83;       // min 0 = 3, and bits 4-5 of min 4
  sc[8] = 0x11;       // scale 4 low = 1, min 4 low = 1: scale 4 = 17, min 4 = 33
  b[16 + 0] = 0x5A;   // value 0: 10, value 32: 5
  b[16 + 64] = 0x07;  // value 128: 7
  auto y = decode(dtype::q4_k, b);
  CHECK(y[0] == 18.5f);  // 2 * 10 - 0.5 * 3
  CHECK(y[1] == -1.5f);
  CHECK(y[32] == 0.0f);     // scale 1 and min 1 are 0
  CHECK(y[128] == 102.5f);  // 17 * 7 - 0.5 * 33
  CHECK(y[129] == -16.5f);

  std::vector<uint8_t> b5(176, 0);
  std::memcpy(b5.data(), b.data(), 16);  // d, dmin, scales
  b5[16 + 0] = 0x01 | 0x10;              // qh[0]: value 0 (bit 0) and value 128 (bit 4) get +16
  b5[48 + 0] = 0x5A;
  b5[48 + 64] = 0x07;
  y = decode(dtype::q5_k, b5);
  CHECK(y[0] == 50.5f);     // 2 * 26 - 1.5
  CHECK(y[128] == 374.5f);  // 17 * 23 - 16.5
  CHECK(y[32] == 0.0f);
  CHECK(y[1] == -1.5f);
}

TEST_CASE("q6_K: 4 low bits in ql, 2 high in qh, minus 32, int8 scale per 16 values") {
  std::vector<uint8_t> b(210, 0);
  b[0] = 0x21;    // ql[0]: value 0 low 1, value 64 low 2
  b[32] = 0x05;   // ql[32]: value 32 low 5, value 96 low 0
  b[128] = 0x1B;  // qh[0]: value 0 -> 3, value 32 -> 2, value 64 -> 1, value 96 -> 0
  auto* scales = reinterpret_cast<int8_t*>(b.data() + 192);
  scales[0] = 3;
  scales[2] = -1;
  scales[4] = 2;
  scales[6] = 1;
  put16(b, 208, h_half);
  const auto y = decode(dtype::q6_k, b);
  CHECK(y[0] == 25.5f);    // 0.5 * 3 * (49 - 32)
  CHECK(y[1] == -48.0f);   // 0.5 * 3 * (0 - 32)
  CHECK(y[32] == -2.5f);   // 0.5 * -1 * (37 - 32)
  CHECK(y[64] == -14.0f);  // 0.5 * 2 * (18 - 32)
  CHECK(y[96] == -16.0f);  // 0.5 * 1 * (0 - 32)
  CHECK(y[16] == 0.0f);    // scale 1 is 0
}
