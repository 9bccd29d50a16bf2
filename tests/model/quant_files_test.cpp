// Block formats against files llama.cpp wrote (../shared/models/padded: one trained
// model stored as F32 and requantised by llama-quantize into ten mixtures), and the
// encoders' round trips.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "model/gguf_writer.hpp"
#include "model/quantization.hpp"
#include "model/tokenizer.hpp"
#include "model/weight_types.hpp"
#include "tests/model/gguf_tensor_file.hpp"
#include "tests/model/model_test_support.hpp"

using namespace kvactor;

namespace {

const std::string padded_dir = std::string(KVACTOR_MODELS_DIR) + "/padded/";

// Relative RMS error a type may show on these weights (measured values are ~1/3 to 1/2
// of these; a layout error gives ~1 or more).
double rms_bound(dtype t) {
  switch (t) {
    case dtype::q8_0: return 0.01;
    case dtype::q6_k: return 0.03;
    case dtype::q5_0:
    case dtype::q5_1:
    case dtype::q5_k: return 0.08;
    case dtype::q4_0:
    case dtype::q4_1:
    case dtype::q4_k:
    case dtype::iq4_nl: return 0.12;
    case dtype::q3_k: return 0.25;
    case dtype::q2_k: return 0.45;
    default: return 1e-6;
  }
}

struct error_sum {
  double diff2 = 0, ref2 = 0;
  double rms() const { return ref2 > 0 ? std::sqrt(diff2 / ref2) : std::sqrt(diff2); }
};

std::vector<float> rows_of(const model_test::gguf_tensor_file& f, const model_test::gguf_tensor& t) {
  const int64_t cols = static_cast<int64_t>(t.ne[0]);
  const int64_t rows = t.ne.size() > 1 ? static_cast<int64_t>(t.ne[1]) : 1;
  const weight_type_info* info = find_weight_type_id(t.type);
  REQUIRE_MESSAGE(info != nullptr, "tensor type " << t.type);
  std::vector<float> out(static_cast<std::size_t>(rows * cols));
  const std::size_t rb = row_bytes(info->type, cols);
  for (int64_t r = 0; r < rows; ++r) info->dequantize_row(f.data(t) + r * rb, out.data() + r * cols, cols);
  return out;
}

}  // namespace

TEST_CASE("every quantised tensor llama.cpp wrote decodes close to the F32 original, per type") {
  const char* files[][2] = {{"llama-Q8_0", "llama-F32"},   {"llama-Q6_K", "llama-F32"},   {"llama-Q5_K_M", "llama-F32"},
                            {"llama-Q4_K_M", "llama-F32"}, {"llama-Q4_K_S", "llama-F32"}, {"llama-Q3_K_M", "llama-F32"},
                            {"llama-Q2_K", "llama-F32"},   {"llama-Q4_0", "llama-F32"},   {"llama-Q5_0", "llama-F32"},
                            {"llama-IQ4_NL", "llama-F32"}, {"qwen2-Q4_K_M", "qwen2-F32"}};
  std::map<dtype, int> tensors_seen;
  std::map<std::string, model_test::gguf_tensor_file> references;
  for (auto& pair : files) {
    const std::string name = std::string("stories260K-pad256-") + pair[0] + ".gguf";
    const std::string ref_name = std::string("stories260K-pad256-") + pair[1] + ".gguf";
    CAPTURE(name);
    const model_test::gguf_tensor_file q(padded_dir + name);
    if (!references.count(ref_name)) references.emplace(ref_name, model_test::gguf_tensor_file(padded_dir + ref_name));
    const model_test::gguf_tensor_file& f32 = references.at(ref_name);
    std::map<dtype, error_sum> errors;
    for (const auto& [name_in_file, t] : q.tensors) {
      const std::string tensor_name = name_in_file;
      CAPTURE(tensor_name);
      REQUIRE(f32.tensors.count(tensor_name) == 1);
      const auto& ref = f32.tensors.at(tensor_name);
      REQUIRE(ref.type == 0);
      REQUIRE(ref.ne == t.ne);
      if (t.type == 0) continue;
      const std::vector<float> got = rows_of(q, t), want = rows_of(f32, ref);
      error_sum& e = errors[static_cast<dtype>(t.type)];
      error_sum own;
      for (std::size_t i = 0; i < got.size(); ++i) {
        const double d = static_cast<double>(got[i]) - want[i];
        own.diff2 += d * d;
        own.ref2 += static_cast<double>(want[i]) * want[i];
      }
      e.diff2 += own.diff2;
      e.ref2 += own.ref2;
      CHECK(own.rms() <= rms_bound(static_cast<dtype>(t.type)));
      ++tensors_seen[static_cast<dtype>(t.type)];
    }
    for (const auto& [type, e] : errors) {
      MESSAGE(name << " " << std::string(dtype_name(type)) << ": relative RMS error " << e.rms());
      CHECK(e.rms() <= rms_bound(type));
      CHECK(e.rms() > 0.0);  // a real quantisation, not a copy
    }
  }
  for (dtype t : {dtype::q8_0, dtype::q6_k, dtype::q5_k, dtype::q4_k, dtype::q3_k, dtype::q2_k, dtype::q4_0,
                  dtype::q5_0, dtype::iq4_nl}) {
    const std::string type_name = dtype_name(t);
    CAPTURE(type_name);
    CHECK(tensors_seen[t] >= 1);
  }
}

TEST_CASE("kvactor's encoders give llama-quantize's bytes for every type but iq4_nl") {
  // llama-quantize without an importance matrix runs ggml's reference quantisers; kvactor's
  // follow them operation for operation (IQ4_NL's search is simpler: same format, other bytes).
  const model_test::gguf_tensor_file f32(padded_dir + "stories260K-pad256-llama-F32.gguf");
  std::map<dtype, int> rows_compared;
  for (const char* file : {"Q8_0", "Q4_0", "Q5_0", "Q6_K", "Q5_K_M", "Q4_K_S", "Q3_K_M", "Q2_K"}) {
    const model_test::gguf_tensor_file q(padded_dir + "stories260K-pad256-llama-" + file + ".gguf");
    for (const auto& [name_in_file, t] : q.tensors) {
      const weight_type_info* info = find_weight_type_id(t.type);
      if (t.type == 0 || info == nullptr || info->type == dtype::iq4_nl) continue;
      const std::string tensor_name = std::string(file) + " " + name_in_file;
      CAPTURE(tensor_name);
      const std::vector<float> original = rows_of(f32, f32.tensors.at(name_in_file));
      const int64_t cols = static_cast<int64_t>(t.ne[0]);
      const std::size_t rb = row_bytes(info->type, cols);
      std::vector<uint8_t> ours(rb);
      int differing = 0;
      for (uint64_t r = 0; r < t.ne[1]; ++r) {
        info->quantize_row(original.data() + r * t.ne[0], ours.data(), cols);
        differing += std::memcmp(ours.data(), q.data(t) + r * rb, rb) != 0;
        ++rows_compared[info->type];
      }
      CHECK(differing == 0);
    }
  }
  for (dtype t :
       {dtype::q8_0, dtype::q4_0, dtype::q5_0, dtype::q2_k, dtype::q3_k, dtype::q4_k, dtype::q5_k, dtype::q6_k}) {
    const std::string type_name = dtype_name(t);
    CAPTURE(type_name);
    CHECK(rows_compared[t] >= 256);
  }
}

TEST_CASE("quantise -> dequantise round trip per writable type, within the type's error") {
  // Weights like a trained layer's: mostly small, a few outliers, some all-zero blocks.
  const int64_t rows = 8, cols = 1024;
  std::vector<float> x(static_cast<std::size_t>(rows * cols));
  uint64_t s = 42;
  for (std::size_t i = 0; i < x.size(); ++i) {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    const double u = static_cast<double>(s >> 11) / 9007199254740992.0;
    double v = std::sin(u * 6.2832) * 0.05 + (u - 0.5) * 0.02;
    if (i % 97 == 0) v *= 8;
    x[i] = (i / 256) % 7 == 3 ? 0.0f : static_cast<float>(v);
  }
  weight_matrix m;
  m.rows = rows;
  m.cols = cols;
  m.data.resize(x.size() * 4);
  std::memcpy(m.data.data(), x.data(), m.data.size());
  for (dtype t : {dtype::f16, dtype::bf16, dtype::q8_0, dtype::q4_0, dtype::q4_1, dtype::q5_0, dtype::q5_1,
                  dtype::iq4_nl, dtype::q2_k, dtype::q3_k, dtype::q4_k, dtype::q5_k, dtype::q6_k}) {
    const std::string type_name = dtype_name(t);
    CAPTURE(type_name);
    const weight_matrix q = convert(m, t);
    CHECK(q.byte_size() == row_bytes(t, cols) * rows);
    const std::vector<float> back = dequantize(q);
    error_sum e;
    bool zeros_kept = true;
    for (std::size_t i = 0; i < x.size(); ++i) {
      const double d = static_cast<double>(back[i]) - x[i];
      e.diff2 += d * d;
      e.ref2 += static_cast<double>(x[i]) * x[i];
      if (x[i] == 0.0f && (i / 256) % 7 == 3 && back[i] != 0.0f) zeros_kept = false;
    }
    MESSAGE(std::string(dtype_name(t)) << ": round-trip relative RMS error " << e.rms());
    const double bound = t == dtype::f16 ? 1e-3 : t == dtype::bf16 ? 5e-3 : rms_bound(t);
    CHECK(e.rms() <= bound);
    CHECK(zeros_kept);
    // Encoding what was decoded changes nothing for the formats without a scale search.
    if (t == dtype::q8_0 || t == dtype::f16 || t == dtype::bf16) {
      const weight_matrix again = convert(q, t);
      CHECK(std::memcmp(again.bytes(), q.bytes(), q.byte_size()) == 0);
    }
  }
  CHECK_THROWS_WITH_AS(convert(m, dtype::q8_1), doctest::Contains("q8_1"), model_error);
  weight_matrix narrow = m;
  narrow.cols = 512;
  narrow.rows = 16;
  CHECK_THROWS_WITH_AS(convert(narrow.cols % 256 == 0 ? [&] {
                         weight_matrix n2 = m;
                         n2.cols = 96;
                         n2.rows = 1;
                         n2.data.resize(96 * 4);
                         return n2;
                       }()
                                                      : narrow,
                               dtype::q4_k),
                       doctest::Contains("multiple of 256"), model_error);
}

TEST_CASE("GGUF writer round trip per type: ggml type ids, file_type, the encoder's bytes, llama.cpp's fallbacks") {
  // A small model whose rows are 256 wide (every type applies) except ffn_down's (96: fallbacks).
  const tokenizer tok = tokenizer::load_llama2c(std::string(KVACTOR_MODELS_DIR) + "/tok512.bin", 512);
  model_weights w;
  w.config = {256, 96, 1, 4, 2, 512, 64, 10000.0f, 1e-5f};
  uint64_t s = 7;
  const auto matrix = [&](int64_t rows, int64_t cols) {
    weight_matrix m;
    m.rows = rows;
    m.cols = cols;
    std::vector<float> v(static_cast<std::size_t>(rows * cols));
    for (float& x : v) {
      s = s * 6364136223846793005ull + 1442695040888963407ull;
      x = static_cast<float>(static_cast<double>(s >> 11) / 9007199254740992.0 - 0.5) * 0.2f;
    }
    m.data.resize(v.size() * 4);
    std::memcpy(m.data.data(), v.data(), m.data.size());
    return m;
  };
  w.tok_embeddings = matrix(512, 256);
  w.final_norm.assign(256, 1.0f);
  w.shared_classifier = true;
  layer_weights l;
  l.attn_norm.assign(256, 1.0f);
  l.ffn_norm.assign(256, 1.0f);
  l.wq = matrix(256, 256);
  l.wk = matrix(128, 256);
  l.wv = matrix(128, 256);
  l.wo = matrix(256, 256);
  l.w1 = matrix(96, 256);
  l.w2 = matrix(256, 96);
  l.w3 = matrix(96, 256);
  w.layers.push_back(l);
  const model_test::scratch_dir dir;
  struct expect {
    dtype type;
    uint32_t file_type;
    dtype narrow;  // what ffn_down (rows of 96) becomes
  };
  for (auto e : {expect{dtype::f32, 0, dtype::f32},
                 {dtype::f16, 1, dtype::f16},
                 {dtype::bf16, 32, dtype::bf16},
                 {dtype::q8_0, 7, dtype::q8_0},
                 {dtype::q4_0, 2, dtype::q4_0},
                 {dtype::q4_1, 3, dtype::q4_1},
                 {dtype::q5_0, 8, dtype::q5_0},
                 {dtype::q5_1, 9, dtype::q5_1},
                 {dtype::iq4_nl, 25, dtype::iq4_nl},
                 {dtype::q2_k, 10, dtype::iq4_nl},
                 {dtype::q3_k, 12, dtype::iq4_nl},
                 {dtype::q4_k, 15, dtype::q5_0},
                 {dtype::q5_k, 17, dtype::q5_1},
                 {dtype::q6_k, 18, dtype::q8_0}}) {
    const std::string type_name = dtype_name(e.type);
    CAPTURE(type_name);
    const std::string path = dir.file(type_name + ".gguf");
    write_gguf(path, w, tok, e.type);
    const model_test::gguf_tensor_file f(path);
    CHECK(f.file_type == e.file_type);
    const auto check = [&](const std::string& name, const weight_matrix& m, dtype stored) {
      CAPTURE(name);
      REQUIRE(f.tensors.count(name) == 1);
      const auto& t = f.tensors.at(name);
      CHECK(t.type == static_cast<uint32_t>(stored));
      CHECK(t.ne == std::vector<uint64_t>{static_cast<uint64_t>(m.cols), static_cast<uint64_t>(m.rows)});
      const weight_matrix want = convert(m, stored);
      CHECK(std::memcmp(f.data(t), want.bytes(), want.byte_size()) == 0);
      CHECK(t.offset % 32 == 0);
    };
    check("token_embd.weight", w.tok_embeddings, e.type);
    check("blk.0.attn_k.weight", l.wk, e.type);
    check("blk.0.ffn_gate.weight", l.w1, e.type);
    check("blk.0.ffn_down.weight", l.w2, e.narrow);
    CHECK(f.tensors.at("blk.0.attn_norm.weight").type == 0);
  }
  CHECK_THROWS_WITH_AS(write_gguf(dir.file("bad.gguf"), w, tok, dtype::q8_k), doctest::Contains("cannot write"),
                       model_error);
}
