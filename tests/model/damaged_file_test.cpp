// Damaged copies of real model files, generated in a scratch directory: every
// one must fail with a model_error that names the file and says what is wrong.
#include <doctest/doctest.h>

#include <cstring>
#include <random>

#include "model/gguf_format.hpp"
#include "model/gguf_loader.hpp"
#include "model/llama2c_loader.hpp"
#include "model/loader.hpp"
#include "model_test_support.hpp"

using namespace model_test;

namespace {

const std::string checkpoint = models_dir + "/stories260K.bin";
const std::string tokenizer_file = models_dir + "/tok512.bin";
const std::string gguf_file = models_dir + "/stories260K-llamacpp-f32.gguf";

// The error message of loading `path` (llama2.c needs the real tokenizer).
std::string load_error(const std::string& path, const std::string& tok = "") {
  try {
    (void)kvactor::load_model(path, tok);
  } catch (const kvactor::model_error& e) {
    return e.what();
  }
  return "(loaded without error)";
}

template <typename T>
void put(std::string& bytes, std::size_t offset, T v) {
  REQUIRE(offset + sizeof v <= bytes.size());
  std::memcpy(&bytes[offset], &v, sizeof v);
}

// Offset just past the first occurrence of `needle` (a GGUF key or tensor name).
std::size_t after(const std::string& bytes, const std::string& needle) {
  const auto at = bytes.find(needle);
  REQUIRE(at != std::string::npos);
  return at + needle.size();
}

void check_message(const std::string& message, const std::string& path, const std::string& what) {
  INFO("message: " << message);
  CHECK(message.find(path) != std::string::npos);
  CHECK(message.find(what) != std::string::npos);
}

}  // namespace

TEST_CASE("missing and unreadable files") {
  check_message(load_error("/nonexistent/model.bin", tokenizer_file), "/nonexistent/model.bin", "cannot open");
  check_message(load_error("/nonexistent/model.gguf"), "/nonexistent/model.gguf", "cannot open");
  check_message(load_error(checkpoint, "/nonexistent/tok.bin"), "/nonexistent/tok.bin", "cannot open");
  check_message(load_error(models_dir), models_dir, "not a regular file");
}

TEST_CASE("llama2.c checkpoint truncated at many offsets") {
  scratch_dir dir;
  const std::string original = read_file(checkpoint);
  const auto path = dir.file("truncated.bin");
  for (std::size_t cut : {std::size_t{0}, std::size_t{3}, std::size_t{27}, std::size_t{28}, std::size_t{1000},
                          original.size() / 2, original.size() - 4, original.size() - 1}) {
    write_file(path, original.substr(0, cut));
    INFO("cut at " << cut);
    check_message(load_error(path, tokenizer_file), path, "truncated");
  }
  write_file(path, original + "xyz");
  check_message(load_error(path, tokenizer_file), path, "trailing data");
}

TEST_CASE("llama2.c header fields with nonsense values") {
  scratch_dir dir;
  const std::string original = read_file(checkpoint);
  const auto path = dir.file("header.bin");
  struct damage {
    int field;
    int32_t value;
    const char* expect;
  };
  std::string v1 = original;
  put<uint32_t>(v1, 0, 0x616b3432u);  // "ak42": llama2.c's version-1 export
  put<int32_t>(v1, 4, 1);
  write_file(path, v1);
  check_message(load_error(path, tokenizer_file), path, "llama2.c version 1 export");
  for (const damage& d :
       {damage{0, 0, "dim = 0 is outside"}, damage{0, -64, "dim = -64"},
        damage{1, 1 << 30, "hidden_dim = 1073741824 is outside"}, damage{2, 100000, "n_layers = 100000 is outside"},
        damage{3, 7, "not a multiple of n_heads"}, damage{4, 3, "not a multiple of n_kv_heads"},
        damage{4, 16, "n_kv_heads = 16 is outside"}, damage{5, 0, "vocab_size = 0"}, damage{5, INT32_MIN, "vocab_size"},
        damage{5, -512, "implies"},  // an untied classifier that is not there
        damage{6, -1, "seq_len = -1"}, damage{6, 1 << 30, "seq_len = 1073741824"}}) {
    std::string bytes = original;
    put<int32_t>(bytes, 4 * static_cast<std::size_t>(d.field), d.value);
    write_file(path, bytes);
    INFO("field " << d.field << " = " << d.value);
    check_message(load_error(path, tokenizer_file), path, d.expect);
  }
}

TEST_CASE("llama2.c tokenizer damaged or of another model") {
  scratch_dir dir;
  const std::string original = read_file(tokenizer_file);
  const auto path = dir.file("tok.bin");
  for (std::size_t cut :
       {std::size_t{0}, std::size_t{2}, std::size_t{4}, std::size_t{9}, std::size_t{100}, original.size() - 1}) {
    write_file(path, original.substr(0, cut));
    INFO("cut at " << cut);
    check_message(load_error(checkpoint, path), path, "truncated");
  }
  std::string bytes = original;
  put<int32_t>(bytes, 8, -5);  // first token's length
  write_file(path, bytes);
  check_message(load_error(checkpoint, path), path, "has length -5");
  bytes = original;
  put<int32_t>(bytes, 0, 0);  // max_token_length
  write_file(path, bytes);
  check_message(load_error(checkpoint, path), path, "max_token_length");
  check_message(load_error(checkpoint, models_dir + "/llama2-tokenizer.bin"), "llama2-tokenizer.bin",
                "tokenizer of a different model");
}

TEST_CASE("GGUF truncated at every header offset and many data offsets") {
  scratch_dir dir;
  const std::string original = read_file(gguf_file);
  const auto path = dir.file("truncated.gguf");
  std::vector<std::size_t> cuts;
  for (std::size_t c = 0; c < 200; ++c) cuts.push_back(c);
  for (std::size_t c = 200; c < original.size(); c += original.size() / 97) cuts.push_back(c);
  cuts.push_back(original.size() - 1);
  for (auto cut : cuts) {
    write_file(path, original.substr(0, cut));
    INFO("cut at " << cut);
    check_message(load_error(path), path, "truncated");
  }
}

TEST_CASE("GGUF with corrupted magic, version, counts and lengths") {
  scratch_dir dir;
  const std::string original = read_file(gguf_file);
  const auto path = dir.file("corrupt.gguf");
  const auto expect = [&](std::string bytes, const std::string& what) {
    INFO("expecting: " << what);
    write_file(path, bytes);
    check_message(load_error(path), path, what);
  };
  std::string b = original;
  b[0] = 'X';
  // Without the magic the file is taken for a llama2.c checkpoint, which needs a tokenizer;
  // with one, the checkpoint header is rejected.
  write_file(path, b);
  check_message(load_error(path, tokenizer_file), path, "is outside");
  CHECK_THROWS_WITH_AS(kvactor::load_gguf(path), doctest::Contains("not a GGUF file"), kvactor::model_error);
  b = original, put<uint32_t>(b, 4, 99), expect(b, "unsupported GGUF version 99");
  b = original, put<uint64_t>(b, 8, uint64_t{1} << 60), expect(b, "tensor count 1152921504606846976 cannot fit");
  b = original, put<uint64_t>(b, 16, uint64_t{1} << 60), expect(b, "metadata count 1152921504606846976 cannot fit");
  b = original, put<uint64_t>(b, 24, uint64_t{1} << 62), expect(b, "claims 4611686018427387904 bytes");
  // The token array's element count.
  const auto tokens_at = after(original, "tokenizer.ggml.tokens");
  b = original, put<uint64_t>(b, tokens_at + 8, uint64_t{1} << 61), expect(b, "cannot fit");
  b = original, put<uint32_t>(b, tokens_at, 77), expect(b, "unknown value type 77");
  b = original, put<uint32_t>(b, tokens_at + 4, 1000), expect(b, "array of unknown type 1000");
  // Token type 9 is not a llama.cpp token type.
  const auto types_at = after(original, "tokenizer.ggml.token_type");
  b = original, put<int32_t>(b, types_at + 16, 9), expect(b, "unknown token type 9");
  const auto bos_at = after(original, "tokenizer.ggml.bos_token_id");
  b = original, put<uint32_t>(b, bos_at + 4, 600), expect(b, "BOS token id 600 out of range");
  const auto eps_at = after(original, "llama.attention.layer_norm_rms_epsilon");
  b = original, put<uint32_t>(b, eps_at, 4), expect(b, "should be a float but is uint32");
}

TEST_CASE("GGUF hyper-parameters, architecture and tensors that do not fit together") {
  scratch_dir dir;
  const std::string original = read_file(gguf_file);
  const auto path = dir.file("bad.gguf");
  const auto expect = [&](std::string bytes, const std::string& what) {
    INFO("expecting: " << what);
    write_file(path, bytes);
    check_message(load_error(path), path, what);
  };
  std::string b = original;
  const auto arch_at = after(original, "general.architecture");
  b[arch_at + 4 + 8 + 4] = 'X';  // "llama" -> "llamX"
  expect(b, "architecture 'llamX' is not supported");
  const auto ffn_at = after(original, "llama.feed_forward_length");
  b = original, put<uint32_t>(b, ffn_at + 4, 171),
  expect(b, "tensor 'blk.0.ffn_gate.weight' has shape {64, 172} but the hyper-parameters imply {64, 171}");
  b = original, put<uint32_t>(b, ffn_at + 4, 1u << 30), expect(b, "llama.feed_forward_length = 1073741824 is outside");
  const auto heads_at = after(original, "llama.attention.head_count");
  b = original, put<uint32_t>(b, heads_at + 4, 0), expect(b, "head_count = 0 is outside");
  const auto kv_at = after(original, "llama.attention.head_count_kv");
  b = original, put<uint32_t>(b, kv_at + 4, 3),
  expect(b, "llama.attention.head_count 8 is not a multiple of llama.attention.head_count_kv 3");
  const auto layers_at = after(original, "llama.block_count");
  b = original, put<uint32_t>(b, layers_at + 4, 6), expect(b, "tensor 'blk.5.attn_norm.weight' is missing");

  // Tensor directory entries: name, u32 n_dims, u64 ne[n_dims], u32 type, u64 offset.
  const auto up_at = after(original, "blk.4.ffn_up.weight");
  b = original, b[up_at - 9] = 'U', expect(b, "tensor 'blk.4.ffn_up.weight' is missing");  // ffn_up -> ffn_Up
  b = original, put<uint32_t>(b, up_at + 4 + 16, 12),
  expect(b, "is Q4_K but its row length 64 is not a multiple of its block of 256");
  b = original, put<uint32_t>(b, up_at + 4 + 16, 16), expect(b, "unsupported type IQ2_XXS");
  b = original, put<uint32_t>(b, up_at + 4 + 16, 4), expect(b, "unsupported type Q4_2(removed)");
  const auto down_at = after(original, "blk.4.ffn_down.weight");  // ne {172, 64}
  b = original, put<uint32_t>(b, down_at + 4 + 16, 8), expect(b, "is Q8_0 but its row length 172");
  b = original, put<uint32_t>(b, up_at, 7), expect(b, "has 7 dimensions");
  b = original, put<uint64_t>(b, up_at + 4, uint64_t{1} << 41), expect(b, "absurd dimension");
  b = original, put<uint64_t>(b, up_at + 4 + 8, uint64_t{1} << 30), expect(b, "extends past the end of the file");
  b = original, put<uint64_t>(b, up_at + 4 + 16 + 4, 7), expect(b, "is not aligned");
  b = original, put<uint64_t>(b, up_at + 4 + 16 + 4, uint64_t{1} << 62), expect(b, "extends past the end of the file");
  const auto q_at = after(original, "blk.0.attn_q.weight");
  b = original, put<uint64_t>(b, q_at + 4 + 8, 32), expect(b, "tensor 'blk.0.attn_q.weight' has shape {64, 32}");
}

// A GGUF holding only the given metadata entries (already encoded) and no tensors.
std::string metadata_only_gguf(uint64_t n_kv, const std::string& entries) {
  std::string b(24, '\0');
  put<uint32_t>(b, 0, kvactor::gguf::magic);
  put<uint32_t>(b, 4, 3);
  put<uint64_t>(b, 8, 0);
  put<uint64_t>(b, 16, n_kv);
  return b + entries;
}

// One metadata entry whose value is a uint32.
std::string uint32_entry(const std::string& key, uint32_t value) {
  std::string b(8 + key.size() + 8, '\0');
  put<uint64_t>(b, 0, key.size());
  std::memcpy(&b[8], key.data(), key.size());
  put<uint32_t>(b, 8 + key.size(), static_cast<uint32_t>(kvactor::gguf::value_type::uint32));
  put<uint32_t>(b, 8 + key.size() + 4, value);
  return b;
}

TEST_CASE("GGUF architecture and tokenizer model that are not strings are named as such") {
  scratch_dir dir;
  const auto path = dir.file("typed.gguf");
  write_file(path, metadata_only_gguf(1, uint32_entry("general.architecture", 7)));
  check_message(load_error(path), path, "metadata key 'general.architecture' should be a string but is uint32");
  write_file(path, metadata_only_gguf(1, uint32_entry("tokenizer.ggml.model", 7)));
  std::string message = "(loaded without error)";
  try {
    (void)kvactor::load_gguf_tokenizer(path);
  } catch (const kvactor::model_error& e) {
    message = e.what();
  }
  check_message(message, path, "metadata key 'tokenizer.ggml.model' should be a string but is uint32");
}

// Random byte flips in the header and directory: whatever the damage, the result
// is a loaded model or a model_error; never a crash or another exception.
TEST_CASE("GGUF with random byte corruption never crashes") {
  scratch_dir dir;
  const std::string original = read_file(gguf_file);
  const auto path = dir.file("fuzz.gguf");
  const std::size_t directory_end = after(original, "blk.4.ffn_norm.weight") + 4 + 8 + 4 + 8;
  std::mt19937 rng(42);
  int errors = 0;
  for (int i = 0; i < 150; ++i) {
    std::string b = original;
    for (int k = 0; k < 3; ++k) b[rng() % directory_end] = static_cast<char>(rng());
    write_file(path, b);
    try {
      (void)kvactor::load_gguf(path);
    } catch (const kvactor::model_error& e) {
      ++errors;
      CHECK(std::string(e.what()).find(path) != std::string::npos);
    }
  }
  CHECK(errors > 0);
}
