// Writes a random-weight GGUF model in the exact layout of a real one (hyper-
// parameters, tensor names and shapes, tied embeddings, biases, Q/K norms,
// Llama 3 rope_freqs) with the real tokenizer copied from a vocabulary GGUF
// (../shared/models/vocab/), for speed and memory tests at real sizes. Model files
// are written outside the checkout and never committed.
//
//   real_shape_model --layout llama-3.2-1b|qwen2.5-0.5b|qwen3-0.6b|tinyllama-1.1b
//                    --out FILE [--type q8_0] [--layers N] [--vocab-file V] [--seed S]
//
// Matrices are written in --type (any type `kvactor convert` writes); a matrix whose
// rows are not whole blocks of that type falls back to q8_0, then f16, as
// llama-quantize does. Norms, biases and rope_freqs are F32.
#include <cmath>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "bench/bench_arguments.hpp"
#include "model/gguf_encoder.hpp"
#include "model/gguf_reader.hpp"
#include "model/weight_types.hpp"
#include "tests/device/random_weights.hpp"

namespace {

using kvactor::gguf::encoder;
using kvactor::gguf::value;
using kvactor::gguf::value_type;

struct layout {
  const char* name;
  const char* arch;
  int dim, hidden, layers, heads, kv_heads, head_dim, context;
  float rope_base, eps;
  bool tied, qkv_bias, qk_norm, llama3_rope;
  const char* vocab;  // file in ../shared/models/vocab/
};

constexpr layout layouts[] = {
    {"llama-3.2-1b", "llama", 2048, 8192, 16, 32, 8, 64, 131072, 500000.0f, 1e-5f, true, false, false, true,
     "ggml-vocab-llama-bpe.gguf"},
    {"qwen2.5-0.5b", "qwen2", 896, 4864, 24, 14, 2, 64, 32768, 1000000.0f, 1e-6f, true, true, false, false,
     "ggml-vocab-qwen2.gguf"},
    {"qwen3-0.6b", "qwen3", 1024, 3072, 28, 16, 8, 128, 40960, 1000000.0f, 1e-6f, true, false, true, false,
     "ggml-vocab-qwen2.gguf"},
    {"tinyllama-1.1b", "llama", 2048, 5632, 22, 32, 4, 64, 2048, 10000.0f, 1e-5f, false, false, false, false,
     "ggml-vocab-llama-spm.gguf"},
};

// A value as the reader parsed it, re-encoded with its own type.
void append_value(kvactor::gguf::encoder& e, const value& v) {
  switch (v.type) {
    case value_type::uint8:
    case value_type::boolean: e.raw(static_cast<uint8_t>(v.uint_value)); break;
    case value_type::uint16: e.raw(static_cast<uint16_t>(v.uint_value)); break;
    case value_type::uint32: e.raw(static_cast<uint32_t>(v.uint_value)); break;
    case value_type::uint64: e.raw(v.uint_value); break;
    case value_type::int8: e.raw(static_cast<int8_t>(v.int_value)); break;
    case value_type::int16: e.raw(static_cast<int16_t>(v.int_value)); break;
    case value_type::int32: e.raw(static_cast<int32_t>(v.int_value)); break;
    case value_type::int64: e.raw(v.int_value); break;
    case value_type::float32: e.raw(static_cast<float>(v.float_value)); break;
    case value_type::float64: e.raw(v.float_value); break;
    case value_type::string: e.string(v.string_value); break;
    case value_type::array:
      e.raw(static_cast<uint32_t>(v.element_type));
      e.raw<uint64_t>(v.elements.size());
      for (const value& element : v.elements) append_value(e, element);
      break;
  }
}

struct tensor {
  std::string name;
  int64_t rows, cols;  // a vector: rows == 1
  kvactor::dtype type;
  float scale, offset;       // values: offset + scale * uniform(-1, 1)
  std::vector<float> fixed;  // written instead when not empty
  uint64_t offset_in_data = 0;
  uint64_t bytes() const { return kvactor::row_bytes(type, cols) * static_cast<uint64_t>(rows); }
};

uint64_t align32(uint64_t n) { return (n + 31) / 32 * 32; }

// Llama 3's rope_freqs (factor 32, low 1, high 4, original context 8192), as
// llama.cpp's convert_hf_to_gguf computes them.
std::vector<float> llama3_rope_factors(int head_dim, float base) {
  const double factor = 32, low = 1, high = 4, old_context = 8192;
  const double low_wavelen = old_context / low, high_wavelen = old_context / high;
  std::vector<float> out;
  for (int i = 0; i < head_dim; i += 2) {
    const double freq = 1.0 / std::pow(static_cast<double>(base), static_cast<double>(i) / head_dim);
    const double wavelen = 2 * M_PI / freq;
    if (wavelen < high_wavelen)
      out.push_back(1.0f);
    else if (wavelen > low_wavelen)
      out.push_back(static_cast<float>(factor));
    else {
      const double smooth = (old_context / wavelen - low) / (high - low);
      out.push_back(static_cast<float>(1.0 / ((1 - smooth) / factor + smooth)));
    }
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  std::string layout_name, out, vocab_file, type_name = "q8_0";
  int layers = 0;
  uint64_t seed = 1;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--layout")
      layout_name = argv[i + 1];
    else if (flag == "--out")
      out = argv[i + 1];
    else if (flag == "--vocab-file")
      vocab_file = argv[i + 1];
    else if (flag == "--type")
      type_name = argv[i + 1];
    else if (flag == "--layers")
      layers = kvactor::bench::parse_positive_int("real_shape_model", flag, argv[i + 1], 1024);
    else if (flag == "--seed")
      seed = static_cast<uint64_t>(kvactor::bench::parse_positive_int("real_shape_model", flag, argv[i + 1]));
    else {
      std::fprintf(stderr, "real_shape_model: unknown flag '%s'\n", flag.c_str());
      return 2;
    }
  }
  const layout* l = nullptr;
  for (const layout& candidate : layouts)
    if (layout_name == candidate.name) l = &candidate;
  const kvactor::weight_type_info* type = kvactor::find_weight_type(type_name);
  if (!l || out.empty() || argc % 2 == 0 || !type || !type->quantize_row) {
    std::fprintf(stderr,
                 "usage: real_shape_model --layout llama-3.2-1b|qwen2.5-0.5b|qwen3-0.6b|tinyllama-1.1b --out FILE\n"
                 "                        [--type q8_0] [--layers N] [--vocab-file V] [--seed S]\n");
    return 2;
  }
  if (vocab_file.empty()) vocab_file = std::string(KVACTOR_MODELS_DIR) + "/vocab/" + l->vocab;
  try {
    const kvactor::gguf::reader vocab(vocab_file);
    const int n_layers = layers > 0 ? layers : l->layers;
    const auto n_vocab = static_cast<int64_t>(vocab.get_string_array("tokenizer.ggml.tokens").size());
    const std::string p = std::string(l->arch) + ".";
    encoder h;
    h.kv_string("general.architecture", l->arch);
    h.kv_string("general.name", std::string("random ") + l->name);
    h.kv_u32("general.alignment", 32);
    h.kv_u32("general.file_type", type->file_type);
    h.kv_u32(p + "context_length", static_cast<uint32_t>(l->context));
    h.kv_u32(p + "embedding_length", static_cast<uint32_t>(l->dim));
    h.kv_u32(p + "feed_forward_length", static_cast<uint32_t>(l->hidden));
    h.kv_u32(p + "block_count", static_cast<uint32_t>(n_layers));
    h.kv_u32(p + "attention.head_count", static_cast<uint32_t>(l->heads));
    h.kv_u32(p + "attention.head_count_kv", static_cast<uint32_t>(l->kv_heads));
    h.kv_u32(p + "attention.key_length", static_cast<uint32_t>(l->head_dim));
    h.kv_u32(p + "attention.value_length", static_cast<uint32_t>(l->head_dim));
    h.kv_u32(p + "rope.dimension_count", static_cast<uint32_t>(l->head_dim));
    h.kv_f32(p + "rope.freq_base", l->rope_base);
    h.kv_f32(p + "attention.layer_norm_rms_epsilon", l->eps);
    h.kv_u32(p + "vocab_size", static_cast<uint32_t>(n_vocab));
    for (const auto& [key, v] : vocab.metadata())
      if (key.rfind("tokenizer.", 0) == 0) h.key(key, v.type), append_value(h, v);

    const auto matrix_type = [&](int64_t cols) {
      for (kvactor::dtype t : {type->type, kvactor::dtype::q8_0, kvactor::dtype::f16})
        if (cols % kvactor::find_weight_type(t)->block_values == 0) return t;
      return kvactor::dtype::f32;
    };
    const int64_t dim = l->dim, q_dim = int64_t{l->heads} * l->head_dim, kv_dim = int64_t{l->kv_heads} * l->head_dim;
    const float in = 1.0f / std::sqrt(static_cast<float>(dim));
    std::vector<tensor> tensors;
    const auto add_matrix = [&](const std::string& name, int64_t rows, int64_t cols, float scale) {
      tensors.push_back({name, rows, cols, matrix_type(cols), scale, 0.0f, {}});
    };
    const auto add_vector = [&](const std::string& name, int64_t n, float offset, float scale) {
      tensors.push_back({name, 1, n, kvactor::dtype::f32, scale, offset, {}});
    };
    add_matrix("token_embd.weight", n_vocab, dim, 0.3f);
    add_vector("output_norm.weight", dim, 1.0f, 0.2f);
    if (!l->tied) add_matrix("output.weight", n_vocab, dim, 4.0f * in);
    if (l->llama3_rope) {
      tensors.push_back({"rope_freqs.weight", 1, l->head_dim / 2, kvactor::dtype::f32, 0, 0, {}});
      tensors.back().fixed = llama3_rope_factors(l->head_dim, l->rope_base);
    }
    for (int i = 0; i < n_layers; ++i) {
      const std::string b = "blk." + std::to_string(i) + ".";
      add_vector(b + "attn_norm.weight", dim, 1.0f, 0.2f);
      add_matrix(b + "attn_q.weight", q_dim, dim, 4.0f * in);
      add_matrix(b + "attn_k.weight", kv_dim, dim, 4.0f * in);
      add_matrix(b + "attn_v.weight", kv_dim, dim, in);
      add_matrix(b + "attn_output.weight", dim, q_dim, 3.0f / std::sqrt(static_cast<float>(q_dim)));
      if (l->qkv_bias) {
        add_vector(b + "attn_q.bias", q_dim, 0.0f, 0.5f);
        add_vector(b + "attn_k.bias", kv_dim, 0.0f, 0.5f);
        add_vector(b + "attn_v.bias", kv_dim, 0.0f, 0.1f);
      }
      if (l->qk_norm) {
        add_vector(b + "attn_q_norm.weight", l->head_dim, 1.0f, 0.2f);
        add_vector(b + "attn_k_norm.weight", l->head_dim, 1.0f, 0.2f);
      }
      add_vector(b + "ffn_norm.weight", dim, 1.0f, 0.2f);
      add_matrix(b + "ffn_gate.weight", l->hidden, dim, 3.0f * in);
      add_matrix(b + "ffn_up.weight", l->hidden, dim, 3.0f * in);
      add_matrix(b + "ffn_down.weight", dim, l->hidden, 3.0f / std::sqrt(static_cast<float>(l->hidden)));
    }

    encoder infos;
    uint64_t offset = 0;
    for (tensor& t : tensors) {
      t.offset_in_data = offset;
      offset = align32(offset + t.bytes());
      infos.string(t.name);
      const bool vec = t.rows == 1 && (t.name.find(".bias") != std::string::npos ||
                                       t.name.find("norm") != std::string::npos || t.name == "rope_freqs.weight");
      infos.raw<uint32_t>(vec ? 1 : 2);
      infos.raw<uint64_t>(static_cast<uint64_t>(t.cols));
      if (!vec) infos.raw<uint64_t>(static_cast<uint64_t>(t.rows));
      infos.raw(static_cast<uint32_t>(t.type));
      infos.raw(t.offset_in_data);
    }
    std::ofstream file(out, std::ios::binary | std::ios::trunc);
    if (!file) throw kvactor::model_error(out + ": cannot create");
    encoder start;
    start.raw(kvactor::gguf::magic);
    start.raw<uint32_t>(3);
    start.raw<uint64_t>(tensors.size());
    start.raw<uint64_t>(h.n_kv());
    std::string header = start.bytes() + h.bytes() + infos.bytes();
    header.resize(align32(header.size()), '\0');
    file.write(header.data(), static_cast<std::streamsize>(header.size()));

    kvactor::testing::weight_rng rng(seed);
    std::vector<float> row;
    std::vector<uint8_t> encoded;
    uint64_t written = 0;
    for (const tensor& t : tensors) {
      const kvactor::weight_type_info* info = kvactor::find_weight_type(t.type);
      row.resize(static_cast<std::size_t>(t.cols));
      encoded.resize(kvactor::row_bytes(t.type, t.cols));
      for (int64_t r = 0; r < t.rows; ++r) {
        if (!t.fixed.empty())
          row = t.fixed;
        else
          for (float& x : row) x = t.offset + t.scale * rng.next();
        info->quantize_row(row.data(), encoded.data(), t.cols);
        file.write(reinterpret_cast<const char*>(encoded.data()), static_cast<std::streamsize>(encoded.size()));
      }
      const uint64_t pad = align32(t.bytes()) - t.bytes();
      static const char zeros[32] = {};
      file.write(zeros, static_cast<std::streamsize>(pad));
      written += t.bytes();
    }
    if (!file.flush()) throw kvactor::model_error(out + ": write failed");
    std::printf("wrote %s: %s layout (%s), %d layers, vocab %lld from %s, %s matrices, %.1f MiB of tensors\n",
                out.c_str(), l->name, l->arch, n_layers, static_cast<long long>(n_vocab), vocab_file.c_str(),
                type->name, static_cast<double>(written) / (1 << 20));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "real_shape_model: %s\n", e.what());
    return 1;
  }
  return 0;
}
