// GGUF architectures (llama, qwen2, qwen3) and their hyper-parameters as llama.cpp
// reads them, on llama.cpp-written files (../shared/models/padded), plus metadata
// edits that must be refused with the key named. Also: matrices are used in place
// from the file's read-only mapping.
#include <doctest/doctest.h>

#include <cstring>
#include <string>

#include "model/gguf_loader.hpp"
#include "model/gguf_reader.hpp"
#include "model/gguf_writer.hpp"
#include "model/llama2c_writer.hpp"
#include "model_test_support.hpp"

using namespace model_test;
using kvactor::rope_style;

namespace {

const std::string padded = models_dir + "/padded/stories260K-pad256-";

// GGUF encodings of one metadata entry.
std::string gguf_string(const std::string& s) {
  std::string out(8, '\0');
  const uint64_t n = s.size();
  std::memcpy(&out[0], &n, 8);
  return out + s;
}
template <typename T>
std::string raw(T v) {
  std::string out(sizeof v, '\0');
  std::memcpy(&out[0], &v, sizeof v);
  return out;
}
std::string kv_string(const std::string& key, const std::string& value) {
  return gguf_string(key) + raw<uint32_t>(8) + gguf_string(value);
}
std::string kv_u32(const std::string& key, uint32_t value) { return gguf_string(key) + raw<uint32_t>(4) + raw(value); }
std::string kv_f32(const std::string& key, float value) { return gguf_string(key) + raw<uint32_t>(6) + raw(value); }

// The file with extra metadata entries inserted after the header. A filler entry
// keeps the insertion a multiple of the 32-byte alignment, so the tensor data
// moves by whole alignment units and every tensor offset stays valid.
std::string with_metadata(const std::string& file, std::string entries, int count) {
  constexpr std::size_t filler_overhead = 8 + 6 + 4 + 8;  // "x.fill" string entry without its value
  std::size_t pad = (32 - (entries.size() + filler_overhead) % 32) % 32;
  entries += kv_string("x.fill", std::string(pad, ' '));
  uint64_t n_kv;
  std::memcpy(&n_kv, &file[16], 8);
  n_kv += static_cast<uint64_t>(count) + 1;
  std::string out = file;
  std::memcpy(&out[16], &n_kv, 8);
  out.insert(24, entries);
  return out;
}

// Replaces the first occurrence of `from` (same length as `to`).
std::string patched(std::string file, const std::string& from, const std::string& to) {
  REQUIRE(from.size() == to.size());
  const auto at = file.find(from);
  REQUIRE(at != std::string::npos);
  file.replace(at, from.size(), to);
  return file;
}

void check_refused(const scratch_dir& dir, const std::string& bytes, const std::string& expected) {
  const std::string path = dir.file("edited.gguf");
  write_file(path, bytes);
  CHECK_THROWS_WITH_AS(kvactor::load_gguf(path), doctest::Contains(expected.c_str()), kvactor::model_error);
}

}  // namespace

TEST_CASE("llama architecture: hyper-parameters of llama.cpp's padded stories260K") {
  const auto m = kvactor::load_gguf(padded + "llama-F32.gguf");
  const auto& c = m.weights.config;
  CHECK(c.dim == 256);
  CHECK(c.hidden_dim == 256);
  CHECK(c.n_layers == 5);
  CHECK(c.n_heads == 8);
  CHECK(c.n_kv_heads == 4);
  CHECK(c.head_dim() == 32);
  CHECK(c.q_dim() == 256);
  CHECK(c.vocab_size == 512);
  CHECK(c.max_seq_len == 512);
  CHECK(c.rope == rope_style::adjacent);
  CHECK(c.rope_theta == doctest::Approx(1e16));
  CHECK(c.norm_eps == doctest::Approx(2.5e-6));
  CHECK(c.rope_freq_scale == 1.0f);
  CHECK_FALSE(m.weights.shared_classifier);
  CHECK(m.weights.rope_freq_factors.empty());
  CHECK(m.weights.layers[0].bq.empty());
  CHECK(m.weights.layers[0].q_norm.empty());
}

TEST_CASE("qwen2 architecture: NEOX RoPE, Q/K/V biases, tied embeddings") {
  const auto m = kvactor::load_gguf(padded + "qwen2-F32.gguf");
  const auto& c = m.weights.config;
  CHECK(c.rope == rope_style::neox);
  CHECK(c.head_dim() == 32);
  CHECK(m.weights.shared_classifier);
  for (const auto& l : m.weights.layers) {
    CHECK(l.bq.size() == 256);
    CHECK(l.bk.size() == 128);
    CHECK(l.bv.size() == 128);
    CHECK(l.q_norm.empty());
  }
}

TEST_CASE("GGUF matrices are used in place from the file's read-only mapping") {
  const std::string path = padded + "llama-F32.gguf";
  const auto m = kvactor::load_gguf(path);
  kvactor::gguf::reader r(path);
  const auto in_place = [&](const kvactor::weight_matrix& w, const std::string& name) {
    INFO(name);
    CHECK(w.is_view());
    CHECK(w.data.empty());                                   // no copy owned
    CHECK(reinterpret_cast<uintptr_t>(w.bytes()) % 4 == 0);  // F32 rows readable as floats
    const auto copy = r.read_tensor(*r.find_tensor(name));
    REQUIRE(copy.size() == w.byte_size());
    CHECK(std::memcmp(copy.data(), w.bytes(), copy.size()) == 0);
  };
  in_place(m.weights.tok_embeddings, "token_embd.weight");
  in_place(m.weights.output, "output.weight");
  in_place(m.weights.layers[4].wq, "blk.4.attn_q.weight");
  in_place(m.weights.layers[2].w2, "blk.2.ffn_down.weight");
  // All matrices view one mapping: consecutive tensors lie at their file distance.
  const auto& l = m.weights.layers[0];
  const auto* q = r.find_tensor("blk.0.attn_q.weight");
  const auto* k = r.find_tensor("blk.0.attn_k.weight");
  CHECK(l.wk.bytes() - l.wq.bytes() == static_cast<std::ptrdiff_t>(k->offset) - static_cast<std::ptrdiff_t>(q->offset));
  // A copy of the weights keeps the mapping alive after the loader's model is gone.
  kvactor::weight_matrix kept;
  {
    const auto again = kvactor::load_gguf(path);
    kept = again.weights.layers[1].w3;
  }
  const auto copy = r.read_tensor(*r.find_tensor("blk.1.ffn_up.weight"));
  CHECK(std::memcmp(copy.data(), kept.bytes(), copy.size()) == 0);
  kept.make_owned();
  CHECK_FALSE(kept.is_view());
  CHECK(kept.data.size() == copy.size());
}

TEST_CASE("rope scaling, key/value lengths and architectures as llama.cpp reads them") {
  scratch_dir dir;
  const std::string llama = read_file(padded + "llama-F32.gguf");
  const std::string qwen2 = read_file(padded + "qwen2-F32.gguf");
  {  // linear scaling: positions multiplied by 1 / factor
    const std::string path = dir.file("linear.gguf");
    write_file(
        path, with_metadata(llama,
                            kv_string("llama.rope.scaling.type", "linear") + kv_f32("llama.rope.scaling.factor", 4.0f) +
                                kv_u32("llama.rope.scaling.original_context_length", 128),
                            3));
    CHECK(kvactor::load_gguf(path).weights.config.rope_freq_scale == 0.25f);
    write_file(path, with_metadata(llama, kv_string("llama.rope.scaling.type", "none"), 1));
    CHECK(kvactor::load_gguf(path).weights.config.rope_freq_scale == 1.0f);
  }
  check_refused(dir, with_metadata(qwen2, kv_string("qwen2.rope.scaling.type", "yarn"), 1),
                "qwen2.rope.scaling.type = 'yarn' is not supported");
  check_refused(dir, with_metadata(llama, kv_f32("llama.rope.scaling.factor", -2.0f), 1),
                "llama.rope.scaling.factor = -2");
  check_refused(dir, with_metadata(llama, kv_u32("llama.attention.value_length", 16), 1),
                "llama.attention.value_length 16 differs from llama.attention.key_length 32");
  // key_length 16: these architectures rotate the whole head, so rope.dimension_count 32 no longer fits.
  check_refused(dir, with_metadata(llama, kv_u32("llama.attention.key_length", 16), 1),
                "llama.rope.dimension_count 32 differs from the head size 16");
  check_refused(dir, with_metadata(llama, kv_u32("llama.attention.key_length", 33), 1),
                "llama.attention.key_length 33 is odd");
  {
    const std::string rope_key = "llama.rope.dimension_count";
    auto b = llama;
    const auto at = b.find(rope_key);
    REQUIRE(at != std::string::npos);
    const uint32_t partial = 16;
    std::memcpy(&b[at + rope_key.size() + 4], &partial, 4);
    check_refused(dir, b, "llama.rope.dimension_count 16 differs from the head size 32");
  }
  check_refused(dir, patched(llama, "llama", "gemma"), "general.architecture 'gemma' is not supported");
  // qwen3 reads qwen3.* keys and needs per-head norms: a qwen2 file relabelled fails by name.
  check_refused(dir, patched(qwen2, "qwen2", "qwen3"), "qwen3.");
}

TEST_CASE("writers of the llama layout refuse a qwen2 model rather than drop its biases") {
  scratch_dir dir;
  const auto m = kvactor::load_gguf(padded + "qwen2-F32.gguf");
  CHECK_THROWS_WITH_AS(kvactor::write_gguf(dir.file("q.gguf"), m.weights, m.tok, kvactor::dtype::f32),
                       doctest::Contains("this model has NEOX rotary pairs"), kvactor::model_error);
  CHECK_THROWS_WITH_AS(kvactor::write_llama2c(dir.file("q.bin"), m.weights),
                       doctest::Contains("this model has NEOX rotary pairs"), kvactor::model_error);
}
