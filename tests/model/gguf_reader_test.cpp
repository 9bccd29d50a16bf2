// The GGUF reader on hand-built files covering every metadata value type.
#include <doctest/doctest.h>

#include <cstring>

#include "model/gguf_reader.hpp"
#include "model_test_support.hpp"

using namespace model_test;
using kvactor::gguf::value_type;

namespace {

// Encodes GGUF by hand, independently of model/gguf_writer.cpp.
struct gguf_bytes {
  std::string out;
  template <typename T>
  gguf_bytes& raw(T v) {
    char b[sizeof v];
    std::memcpy(b, &v, sizeof v);
    out.append(b, sizeof v);
    return *this;
  }
  gguf_bytes& str(const std::string& s) {
    raw<uint64_t>(s.size());
    out += s;
    return *this;
  }
  gguf_bytes& key(const std::string& k, value_type t) {
    str(k);
    return raw(static_cast<uint32_t>(t));
  }
};

gguf_bytes header(uint64_t n_tensors, uint64_t n_kv) {
  gguf_bytes b;
  b.raw<uint32_t>(0x46554747).raw<uint32_t>(3).raw(n_tensors).raw(n_kv);
  return b;
}

}  // namespace

TEST_CASE("GGUF reader decodes every metadata value type, arrays and nested arrays") {
  scratch_dir dir;
  auto b = header(1, 16);
  b.key("u8", value_type::uint8).raw<uint8_t>(200);
  b.key("i8", value_type::int8).raw<int8_t>(-100);
  b.key("u16", value_type::uint16).raw<uint16_t>(60000);
  b.key("i16", value_type::int16).raw<int16_t>(-30000);
  b.key("u32", value_type::uint32).raw<uint32_t>(4000000000u);
  b.key("i32", value_type::int32).raw<int32_t>(-2000000000);
  b.key("f32", value_type::float32).raw<float>(0.25f);
  b.key("yes", value_type::boolean).raw<uint8_t>(1);
  b.key("text", value_type::string).str("h\xC3\xA9llo");
  b.key("u64", value_type::uint64).raw<uint64_t>(uint64_t{1} << 63);
  b.key("i64", value_type::int64).raw<int64_t>(-(int64_t{1} << 62));
  b.key("f64", value_type::float64).raw<double>(-1.5e300);
  b.key("ints", value_type::array)
      .raw(static_cast<uint32_t>(value_type::int16))
      .raw<uint64_t>(3)
      .raw<int16_t>(-1)
      .raw<int16_t>(2)
      .raw<int16_t>(-3);
  b.key("big", value_type::array)
      .raw(static_cast<uint32_t>(value_type::uint32))
      .raw<uint64_t>(1)
      .raw<uint32_t>(3000000000u);
  b.key("nested", value_type::array).raw(static_cast<uint32_t>(value_type::array)).raw<uint64_t>(2);
  b.raw(static_cast<uint32_t>(value_type::string)).raw<uint64_t>(1).str("x");
  b.raw(static_cast<uint32_t>(value_type::float64)).raw<uint64_t>(2).raw<double>(1.0).raw<double>(2.0);
  b.key("general.alignment", value_type::uint32).raw<uint32_t>(64);
  // one f16 tensor of 3 x 2 at data offset 0
  b.str("t").raw<uint32_t>(2).raw<uint64_t>(3).raw<uint64_t>(2).raw<uint32_t>(1).raw<uint64_t>(0);
  while (b.out.size() % 64) b.out += '\0';
  for (int i = 0; i < 6; ++i) b.raw<uint16_t>(static_cast<uint16_t>(0x3C00 + i));
  const auto path = dir.file("all.gguf");
  write_file(path, b.out);

  kvactor::gguf::reader r(path);
  CHECK(r.alignment() == 64);
  CHECK(r.get_uint("u8") == 200);
  CHECK(r.find("i8")->int_value == -100);
  CHECK(r.get_uint("u16") == 60000);
  CHECK(r.find("i16")->int_value == -30000);
  CHECK(r.get_uint("u32") == 4000000000u);
  CHECK(r.find("i32")->int_value == -2000000000);
  CHECK(r.get_float("f32", 0) == 0.25);
  CHECK(r.find("yes")->uint_value == 1);
  CHECK(r.get_string("text") == "h\xC3\xA9llo");
  CHECK(r.get_uint("u64") == (uint64_t{1} << 63));
  CHECK(r.find("i64")->int_value == -(int64_t{1} << 62));
  CHECK(r.get_float("f64", 0) == -1.5e300);
  CHECK(r.get_int_array("ints") == std::vector<int32_t>{-1, 2, -3});
  const auto* nested = r.find("nested");
  REQUIRE(nested != nullptr);
  REQUIRE(nested->elements.size() == 2);
  CHECK(nested->elements[0].elements[0].string_value == "x");
  CHECK(nested->elements[1].elements[1].float_value == 2.0);
  CHECK(r.get_float("absent", 7.0) == 7.0);
  CHECK(r.get_uint("absent", 9) == 9);

  // Wrong uses name the file and the key.
  CHECK_THROWS_WITH_AS(r.get_uint("i8"), doctest::Contains("'i8' is negative"), kvactor::model_error);
  CHECK_THROWS_WITH_AS(r.get_uint("text"), doctest::Contains("should be an integer but is string"),
                       kvactor::model_error);
  CHECK_THROWS_WITH_AS(r.get_string("u8"), doctest::Contains("all.gguf"), kvactor::model_error);
  CHECK_THROWS_WITH_AS(r.get_int_array("big"), doctest::Contains("too large for int32"), kvactor::model_error);
  CHECK_THROWS_WITH_AS(r.get_string_array("ints"), doctest::Contains("array of strings"), kvactor::model_error);
  CHECK_THROWS_WITH_AS(r.get_uint("missing.key"), doctest::Contains("'missing.key' is missing"), kvactor::model_error);

  const auto* t = r.find_tensor("t");
  REQUIRE(t != nullptr);
  const auto data = r.read_tensor(*t);
  REQUIRE(data.size() == 12);
  uint16_t last;
  std::memcpy(&last, data.data() + 10, 2);
  CHECK(last == 0x3C05);
}

TEST_CASE("GGUF reader rejects bad booleans, deep nesting, duplicates and bad alignment") {
  scratch_dir dir;
  const auto path = dir.file("bad.gguf");
  const auto expect = [&](const gguf_bytes& b, const std::string& what) {
    write_file(path, b.out);
    INFO("expecting " << what);
    CHECK_THROWS_WITH_AS(kvactor::gguf::reader{path}, doctest::Contains(what.c_str()), kvactor::model_error);
  };
  auto b = header(0, 1);
  b.key("flag", value_type::boolean).raw<uint8_t>(7);
  expect(b, "bool value 7");

  b = header(0, 1);
  b.key("deep", value_type::array);
  for (int i = 0; i < 6; ++i) b.raw(static_cast<uint32_t>(value_type::array)).raw<uint64_t>(1);
  expect(b, "nests arrays too deeply");

  b = header(0, 2);
  b.key("k", value_type::uint8).raw<uint8_t>(1);
  b.key("k", value_type::uint8).raw<uint8_t>(2);
  expect(b, "'k' appears twice");

  b = header(0, 1);
  b.key("general.alignment", value_type::uint32).raw<uint32_t>(48);
  expect(b, "not a power of two");

  b = header(2, 0);
  b.str("t").raw<uint32_t>(1).raw<uint64_t>(4).raw<uint32_t>(0).raw<uint64_t>(0);
  b.str("t").raw<uint32_t>(1).raw<uint64_t>(4).raw<uint32_t>(0).raw<uint64_t>(32);
  while (b.out.size() % 32) b.out += '\0';
  b.out += std::string(64, '\0');
  expect(b, "tensor 't' appears twice");

  b = header(1, 0);
  b.str("huge")
      .raw<uint32_t>(2)
      .raw<uint64_t>(uint64_t{1} << 39)
      .raw<uint64_t>(uint64_t{1} << 39)
      .raw<uint32_t>(0)
      .raw<uint64_t>(0);
  expect(b, "absurd dimension");  // 2^78 elements: refused before any arithmetic overflows
}
