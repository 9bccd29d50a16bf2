#include "model/gguf_writer.hpp"

#include <cstdio>
#include <fstream>

#include "model/gguf_encoder.hpp"
#include "model/gguf_format.hpp"
#include "model/quantization.hpp"
#include "model/weight_types.hpp"

namespace kvactor {
namespace {

using gguf::value_type;

struct tensor_entry {
  std::string name;
  std::vector<uint64_t> ne;
  dtype type = dtype::f32;
  const weight_matrix* matrix = nullptr;    // either a matrix ...
  const std::vector<float>* vec = nullptr;  // ... or a norm vector
  uint64_t offset = 0;
  uint64_t bytes() const {
    return vec ? vec->size() * 4 : row_bytes(type, matrix->cols) * static_cast<uint64_t>(matrix->rows);
  }
};

uint64_t align_up(uint64_t v, uint64_t a) { return (v + a - 1) / a * a; }

std::string to_sentencepiece(const std::string& piece) {
  std::string out;
  for (char c : piece) {
    if (c == ' ')
      out += "\xE2\x96\x81";
    else
      out += c;
  }
  return out;
}

// The type a matrix with rows of `cols` values is stored as when `wanted` cannot hold
// them (rows not a whole number of its blocks), as llama.cpp's quantiser falls back:
// Q2_K / Q3_K -> IQ4_NL, Q4_K -> Q5_0, Q5_K -> Q5_1, Q6_K -> Q8_0, then F16.
dtype storage_type(dtype wanted, int64_t cols) {
  dtype t = wanted;
  if (cols % find_weight_type(t)->block_values == 0) return t;
  switch (t) {
    case dtype::q2_k:
    case dtype::q3_k: t = dtype::iq4_nl; break;
    case dtype::q4_k: t = dtype::q5_0; break;
    case dtype::q5_k: t = dtype::q5_1; break;
    case dtype::q6_k: t = dtype::q8_0; break;
    default: t = dtype::f16; break;
  }
  return cols % find_weight_type(t)->block_values == 0 ? t : dtype::f16;
}

}  // namespace

void write_gguf(const std::string& path, const model_weights& w, const tokenizer& tok, dtype matrix_type) {
  const auto& c = w.config;
  const weight_type_info* matrix_info = find_weight_type(matrix_type);
  if (!matrix_info || matrix_type == dtype::q8_k)
    throw model_error(path + ": cannot write matrices as " + dtype_name(matrix_type) +
                      " (writable: " + weight_type_names() + ")");
  if (tok.vocab_size() != c.vocab_size)
    throw model_error(path + ": tokenizer has " + std::to_string(tok.vocab_size()) +
                      " tokens but the model's vocabulary is " + std::to_string(c.vocab_size));
  if (static_cast<int>(w.layers.size()) != c.n_layers)
    throw model_error(path + ": model has " + std::to_string(w.layers.size()) + " layers, config says " +
                      std::to_string(c.n_layers));

  if (const char* feature = llama_layout_gap(w))
    throw model_error(path + ": the GGUF writer writes the llama architecture only; this model has " + feature);

  gguf::encoder h;
  h.kv_string("general.architecture", "llama");
  h.kv_string("general.name", "kvactor");
  h.kv_u32("general.alignment", gguf::default_alignment);
  h.kv_u32("general.file_type", matrix_info->file_type);
  h.kv_u32("llama.context_length", static_cast<uint32_t>(c.max_seq_len));
  h.kv_u32("llama.embedding_length", static_cast<uint32_t>(c.dim));
  h.kv_u32("llama.feed_forward_length", static_cast<uint32_t>(c.hidden_dim));
  h.kv_u32("llama.block_count", static_cast<uint32_t>(c.n_layers));
  h.kv_u32("llama.attention.head_count", static_cast<uint32_t>(c.n_heads));
  h.kv_u32("llama.attention.head_count_kv", static_cast<uint32_t>(c.n_kv_heads));
  h.kv_u32("llama.rope.dimension_count", static_cast<uint32_t>(c.head_dim()));
  h.kv_f32("llama.rope.freq_base", c.rope_theta);
  h.kv_f32("llama.attention.layer_norm_rms_epsilon", c.norm_eps);
  h.kv_u32("llama.vocab_size", static_cast<uint32_t>(c.vocab_size));
  h.kv_string("tokenizer.ggml.model", "llama");
  const auto n_tok = static_cast<uint64_t>(tok.vocab_size());
  h.array_header("tokenizer.ggml.tokens", value_type::string, n_tok);
  for (int32_t i = 0; i < tok.vocab_size(); ++i) h.string(to_sentencepiece(tok.piece(i)));
  h.array_header("tokenizer.ggml.scores", value_type::float32, n_tok);
  for (int32_t i = 0; i < tok.vocab_size(); ++i) h.raw(tok.score(i));
  h.array_header("tokenizer.ggml.token_type", value_type::int32, n_tok);
  for (int32_t i = 0; i < tok.vocab_size(); ++i) h.raw(static_cast<int32_t>(tok.kind(i)));
  h.kv_u32("tokenizer.ggml.bos_token_id", static_cast<uint32_t>(tok.bos_id()));
  h.kv_u32("tokenizer.ggml.eos_token_id", static_cast<uint32_t>(tok.eos_id()));

  std::vector<tensor_entry> tensors;
  const auto add_matrix = [&](const std::string& name, const weight_matrix& m) {
    if (m.rows <= 0 || m.cols <= 0 || !find_weight_type(m.type) ||
        m.byte_size() != row_bytes(m.type, m.cols) * static_cast<std::size_t>(m.rows))
      throw model_error(path + ": matrix " + name + " holds " + std::to_string(m.byte_size()) + " bytes, not " +
                        std::to_string(m.rows) + " x " + std::to_string(m.cols) + " " + dtype_name(m.type));
    const dtype t = storage_type(matrix_type, m.cols);
    tensors.push_back({name, {static_cast<uint64_t>(m.cols), static_cast<uint64_t>(m.rows)}, t, &m, nullptr, 0});
  };
  const auto add_vector = [&](const std::string& name, const std::vector<float>& v) {
    if (v.size() != static_cast<std::size_t>(c.dim))
      throw model_error(path + ": norm " + name + " has " + std::to_string(v.size()) + " values, not dim " +
                        std::to_string(c.dim));
    tensors.push_back({name, {v.size()}, dtype::f32, nullptr, &v, 0});
  };
  add_matrix("token_embd.weight", w.tok_embeddings);
  add_vector("output_norm.weight", w.final_norm);
  if (!w.shared_classifier) add_matrix("output.weight", w.output);
  for (std::size_t i = 0; i < w.layers.size(); ++i) {
    const auto& l = w.layers[i];
    const std::string p = "blk." + std::to_string(i) + ".";
    add_vector(p + "attn_norm.weight", l.attn_norm);
    add_matrix(p + "attn_q.weight", l.wq);
    add_matrix(p + "attn_k.weight", l.wk);
    add_matrix(p + "attn_v.weight", l.wv);
    add_matrix(p + "attn_output.weight", l.wo);
    add_vector(p + "ffn_norm.weight", l.ffn_norm);
    add_matrix(p + "ffn_gate.weight", l.w1);
    add_matrix(p + "ffn_down.weight", l.w2);
    add_matrix(p + "ffn_up.weight", l.w3);
  }

  gguf::encoder infos;
  uint64_t offset = 0;
  for (auto& t : tensors) {
    t.offset = offset;
    offset = align_up(offset + t.bytes(), gguf::default_alignment);
    infos.string(t.name);
    infos.raw(static_cast<uint32_t>(t.ne.size()));
    for (auto d : t.ne) infos.raw(d);
    infos.raw(static_cast<uint32_t>(t.type));
    infos.raw(t.offset);
  }

  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw model_error(path + ": cannot create " + tmp);
    gguf::encoder start;
    start.raw(gguf::magic);
    start.raw<uint32_t>(3);
    start.raw<uint64_t>(tensors.size());
    start.raw<uint64_t>(h.n_kv());
    out << start.bytes() << h.bytes() << infos.bytes();
    const uint64_t header_size = start.bytes().size() + h.bytes().size() + infos.bytes().size();
    const std::string pad(gguf::default_alignment, '\0');
    out.write(pad.data(), static_cast<std::streamsize>(align_up(header_size, gguf::default_alignment) - header_size));
    for (const auto& t : tensors) {
      if (t.vec) {
        out.write(reinterpret_cast<const char*>(t.vec->data()), static_cast<std::streamsize>(t.bytes()));
      } else if (t.matrix->type == t.type) {
        out.write(reinterpret_cast<const char*>(t.matrix->bytes()), static_cast<std::streamsize>(t.bytes()));
      } else {
        const weight_matrix converted = convert(*t.matrix, t.type);
        out.write(reinterpret_cast<const char*>(converted.bytes()), static_cast<std::streamsize>(t.bytes()));
      }
      out.write(pad.data(), static_cast<std::streamsize>(align_up(t.bytes(), gguf::default_alignment) - t.bytes()));
    }
    out.flush();
    if (!out) {
      std::remove(tmp.c_str());
      throw model_error(path + ": write failed (disk full?)");
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    throw model_error(path + ": cannot rename " + tmp + " into place");
  }
}

}  // namespace kvactor
