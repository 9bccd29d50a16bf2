// kvactor's greedy generations on llama.cpp-written GGUF files (stories260K padded to
// K-quant widths, ../shared/models/padded/README.md) equal llama.cpp's own, recorded
// next to each file: `ids` on F32 files, `ids_dequant` (llama.cpp on its own exact
// dequantization, F32 arithmetic) on quantized files. The prompt ids are used as
// given (BOS included). Q8_0 and K-quant (Q4_K, Q5_K, Q6_K) files are also compared on `ids` with the
// default int8 activations (llama.cpp's own arithmetic). A parting is allowed only at a near tie: where the two first
// differ, llama.cpp's top-1 minus top-2 log-probability must be below 0.05.
#include <doctest/doctest.h>

#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "device/cpu_backend.hpp"
#include "model/loader.hpp"
#include "tests/device/engine_runs.hpp"

using namespace kvactor;
using namespace kvactor::testing;

namespace {

const std::string padded_dir = std::string(KVACTOR_MODELS_DIR) + "/padded/";
constexpr double near_tie = 0.05;

// The numbers of the JSON array `"key": [...]` in one line (the files are flat
// objects whose arrays hold numbers only).
std::vector<double> json_numbers(const std::string& line, const std::string& key) {
  const std::string tag = "\"" + key + "\": [";
  const std::size_t at = line.find(tag);
  REQUIRE_MESSAGE(at != std::string::npos, "no " << key << " in the reference line");
  std::vector<double> out;
  const char* p = line.c_str() + at + tag.size();
  while (*p != ']' && *p != '\0') {
    char* end = nullptr;
    out.push_back(std::strtod(p, &end));
    REQUIRE(end != p);
    p = end;
    while (*p == ',' || *p == ' ') ++p;
  }
  return out;
}

std::vector<int32_t> as_ids(const std::vector<double>& v) { return {v.begin(), v.end()}; }

// Returns how many prompts were compared.
// dequant: compare with `ids_dequant` (exact dequantization, F32 arithmetic), else `ids`.
int check_file(const std::string& name, bool dequant, q8_0_activations q8 = q8_0_activations::f32) {
  const std::string ids_key = dequant ? "ids_dequant" : "ids";
  const std::string margins_key = dequant ? "margins_dequant" : "margins";
  const loaded_model m = load_model(padded_dir + name + ".gguf");
  CHECK(m.weights->config.max_seq_len == 512);
  auto cpu = make_cpu_backend(m.weights, {16, 32}, 2, q8);
  std::ifstream in(padded_dir + name + ".llamacpp.jsonl");
  REQUIRE_MESSAGE(in, "cannot read " << padded_dir << name << ".llamacpp.jsonl");
  int prompts = 0;
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) continue;
    const std::vector<int32_t> prompt = as_ids(json_numbers(line, "prompt_ids"));
    const std::vector<int32_t> want = as_ids(json_numbers(line, ids_key));
    const std::vector<double> margins = json_numbers(line, margins_key);
    REQUIRE(margins.size() >= want.size());
    const std::vector<int32_t> got = greedy_generate(*cpu, prompt, static_cast<int>(want.size()), page_range(0, 32));
    std::size_t same = 0;
    while (same < want.size() && got[same] == want[same]) ++same;
    INFO(name << " prompt " << prompts << ": first difference at token " << same << " of " << want.size());
    if (same < want.size()) {
      MESSAGE(name << " prompt " << prompts << " parts from llama.cpp at token " << same << " (margin " << margins[same]
                   << ")");
      CHECK(margins[same] < near_tie);
    }
    ++prompts;
  }
  CHECK(prompts > 0);
  return prompts;
}

}  // namespace

TEST_CASE("llama.cpp agreement: llama architecture, F32 (adjacent RoPE, separate classifier)") {
  CHECK(check_file("stories260K-pad256-llama-F32", false) == 4);
}

TEST_CASE("llama.cpp agreement: qwen2 architecture, F32 (NEOX RoPE, Q/K/V biases, tied embeddings)") {
  CHECK(check_file("stories260K-pad256-qwen2-F32", false) == 4);
}

// The weights read in place in their block formats (exact dequantisation, F32
// arithmetic), so kvactor follows llama.cpp's run on its own dequantised copy. One
// test case per file: ctest runs them in parallel and names the failing type.
TEST_CASE("llama.cpp agreement: llama architecture, Q8_0 with F32 activations (ids_dequant)") {
  CHECK(check_file("stories260K-pad256-llama-Q8_0", true, q8_0_activations::f32) == 4);
}

// The default Q8_0 arithmetic is llama.cpp's own (the activations quantized to Q8_0
// blocks, integer products: device/cpu_q8_activations.hpp), so it follows llama.cpp's
// run on the quantized file itself.
TEST_CASE("llama.cpp agreement: llama architecture, Q8_0 with int8 activations (ids, llama.cpp's own run)") {
  CHECK(check_file("stories260K-pad256-llama-Q8_0", false, q8_0_activations::int8) == 4);
}

// Q4_K, Q5_K and Q6_K the same way, with Q8_K activations (device/cpu_q8k_activations.hpp).
// The _M and _S files mix these three types (llama.cpp's choice per tensor).
TEST_CASE("llama.cpp agreement: llama architecture, Q6_K with int8 activations (ids, llama.cpp's own run)") {
  CHECK(check_file("stories260K-pad256-llama-Q6_K", false, q8_0_activations::int8) == 4);
}

TEST_CASE("llama.cpp agreement: llama architecture, Q4_K_M with int8 activations (ids, llama.cpp's own run)") {
  CHECK(check_file("stories260K-pad256-llama-Q4_K_M", false, q8_0_activations::int8) == 4);
}

TEST_CASE("llama.cpp agreement: llama architecture, Q5_K_M with int8 activations (ids, llama.cpp's own run)") {
  CHECK(check_file("stories260K-pad256-llama-Q5_K_M", false, q8_0_activations::int8) == 4);
}

TEST_CASE("llama.cpp agreement: llama architecture, Q4_K_S with int8 activations (ids, llama.cpp's own run)") {
  CHECK(check_file("stories260K-pad256-llama-Q4_K_S", false, q8_0_activations::int8) == 4);
}

TEST_CASE("llama.cpp agreement: qwen2 architecture, Q4_K_M with int8 activations (ids, llama.cpp's own run)") {
  CHECK(check_file("stories260K-pad256-qwen2-Q4_K_M", false, q8_0_activations::int8) == 4);
}

TEST_CASE("llama.cpp agreement: llama architecture, Q6_K (ids_dequant)") {
  CHECK(check_file("stories260K-pad256-llama-Q6_K", true) == 4);
}

TEST_CASE("llama.cpp agreement: llama architecture, Q5_K_M (ids_dequant)") {
  CHECK(check_file("stories260K-pad256-llama-Q5_K_M", true) == 4);
}

TEST_CASE("llama.cpp agreement: llama architecture, Q4_K_M (ids_dequant)") {
  CHECK(check_file("stories260K-pad256-llama-Q4_K_M", true) == 4);
}

TEST_CASE("llama.cpp agreement: llama architecture, Q4_K_S (ids_dequant)") {
  CHECK(check_file("stories260K-pad256-llama-Q4_K_S", true) == 4);
}

TEST_CASE("llama.cpp agreement: llama architecture, Q3_K_M (ids_dequant)") {
  CHECK(check_file("stories260K-pad256-llama-Q3_K_M", true) == 4);
}

TEST_CASE("llama.cpp agreement: llama architecture, Q2_K (ids_dequant)") {
  CHECK(check_file("stories260K-pad256-llama-Q2_K", true) == 4);
}

TEST_CASE("llama.cpp agreement: llama architecture, Q4_0 (ids_dequant)") {
  CHECK(check_file("stories260K-pad256-llama-Q4_0", true) == 4);
}

TEST_CASE("llama.cpp agreement: llama architecture, Q5_0 (ids_dequant)") {
  CHECK(check_file("stories260K-pad256-llama-Q5_0", true) == 4);
}

TEST_CASE("llama.cpp agreement: llama architecture, IQ4_NL (ids_dequant)") {
  CHECK(check_file("stories260K-pad256-llama-IQ4_NL", true) == 4);
}

TEST_CASE("llama.cpp agreement: qwen2 architecture, Q4_K_M (ids_dequant)") {
  CHECK(check_file("stories260K-pad256-qwen2-Q4_K_M", true) == 4);
}
