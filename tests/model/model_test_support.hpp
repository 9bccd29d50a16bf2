// Shared by the model tests: a scratch directory and weight comparisons.
#pragma once

#include <doctest/doctest.h>

#include <unistd.h>
#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "model/model.hpp"
#include "model/quantization.hpp"

namespace model_test {

inline const std::string models_dir = KVACTOR_MODELS_DIR;

// A fresh directory under the system temp dir, removed with its contents.
class scratch_dir {
 public:
  scratch_dir() {
    static int counter = 0;
    path_ = std::filesystem::temp_directory_path() /
            ("kvactor_model_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    std::filesystem::create_directories(path_);
  }
  ~scratch_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  scratch_dir(const scratch_dir&) = delete;
  scratch_dir& operator=(const scratch_dir&) = delete;
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

inline void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

inline void check_same_matrix(const kvactor::weight_matrix& a, const kvactor::weight_matrix& b,
                              const std::string& what) {
  INFO(what);
  CHECK(a.type == b.type);
  CHECK(a.rows == b.rows);
  CHECK(a.cols == b.cols);
  REQUIRE(a.byte_size() == b.byte_size());
  CHECK(std::memcmp(a.bytes(), b.bytes(), a.byte_size()) == 0);  // bit for bit
}

// Same configuration and every weight identical bit for bit (the classifier
// compared through classifier(), so tied and untied copies compare equal).
inline void check_identical_weights(const kvactor::model_weights& a, const kvactor::model_weights& b) {
  const auto& ca = a.config;
  const auto& cb = b.config;
  CHECK(ca.dim == cb.dim);
  CHECK(ca.hidden_dim == cb.hidden_dim);
  CHECK(ca.n_layers == cb.n_layers);
  CHECK(ca.n_heads == cb.n_heads);
  CHECK(ca.n_kv_heads == cb.n_kv_heads);
  CHECK(ca.vocab_size == cb.vocab_size);
  CHECK(ca.rope_theta == cb.rope_theta);
  CHECK(ca.norm_eps == cb.norm_eps);
  check_same_matrix(a.tok_embeddings, b.tok_embeddings, "token embeddings");
  check_same_matrix(a.classifier(), b.classifier(), "classifier");
  CHECK(a.final_norm == b.final_norm);
  REQUIRE(a.layers.size() == b.layers.size());
  for (std::size_t i = 0; i < a.layers.size(); ++i) {
    const auto& la = a.layers[i];
    const auto& lb = b.layers[i];
    const std::string l = "layer " + std::to_string(i) + " ";
    CHECK(la.attn_norm == lb.attn_norm);
    CHECK(la.ffn_norm == lb.ffn_norm);
    check_same_matrix(la.wq, lb.wq, l + "wq");
    check_same_matrix(la.wk, lb.wk, l + "wk");
    check_same_matrix(la.wv, lb.wv, l + "wv");
    check_same_matrix(la.wo, lb.wo, l + "wo");
    check_same_matrix(la.w1, lb.w1, l + "w1");
    check_same_matrix(la.w2, lb.w2, l + "w2");
    check_same_matrix(la.w3, lb.w3, l + "w3");
  }
}

// Largest |a - b| over a matrix after dequantising both, relative to max |a|.
inline double relative_max_error(const kvactor::weight_matrix& exact, const kvactor::weight_matrix& approx) {
  const auto a = kvactor::dequantize(exact);
  const auto b = kvactor::dequantize(approx);
  REQUIRE(a.size() == b.size());
  double max_abs = 0, max_err = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    max_abs = std::max(max_abs, static_cast<double>(std::fabs(a[i])));
    max_err = std::max(max_err, static_cast<double>(std::fabs(a[i] - b[i])));
  }
  return max_abs > 0 ? max_err / max_abs : max_err;
}

}  // namespace model_test
