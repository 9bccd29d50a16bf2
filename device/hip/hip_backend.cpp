// The GPU backend: the CPU backend's forward pass, kernel for kernel, over a KV
// store in device memory. Plain C++ over the launcher and device-memory headers
// (no GPU headers), so the host compiler builds it with the project's warnings.
//
// Batch invariance follows the CPU backend's rule: every value of a token row is
// computed by the same kernel in the same order whatever else is in the batch
// (see matmul_kernels.hip and attention_kernels.hip for how each reduction is
// fixed). K/V of a step are written to the store before attention reads all keys
// back from it, so prefill, chunked prefill, decode and cache hits read the same
// way.
#include "device/hip/hip_backend.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "device/hip/attention_plan.hpp"
#include "device/hip/device_memory.hpp"
#include "device/hip/kernel_launchers.hpp"
#include "device/model_validation.hpp"
#include "device/step_sampling.hpp"
#include "device/step_validation.hpp"
#include "device/weight_rows.hpp"

#ifndef KVACTOR_HIP_TARGET
#define KVACTOR_HIP_TARGET "unknown"
#endif

namespace kvactor {

namespace {

using hip::device_buffer;
using hip::device_matrix;

constexpr std::size_t alignment = 256;  // every sub-buffer starts on this many bytes

std::size_t aligned(std::size_t bytes) { return (bytes + alignment - 1) / alignment * alignment; }

// validate_model's checks, shared with the CPU backend, then the GPU kernels' own
// limits.
void check_gpu_shapes(const model_weights& w) {
  validate_model(w);
  const model_config& c = w.config;
  const int hd = c.head_dim(), group = c.n_heads / c.n_kv_heads;
  if (c.dim % 4 != 0 || c.hidden_dim % 4 != 0 || hd % 4 != 0 || hd > 256 || group > 8)
    throw backend_error("hip backend: unsupported shape dim " + std::to_string(c.dim) + ", hidden " +
                        std::to_string(c.hidden_dim) + ", head_dim " + std::to_string(hd) + ", " +
                        std::to_string(group) +
                        " query heads per kv head (the kernels need dim, hidden and head_dim divisible by 4, "
                        "head_dim <= 256, at most 8 query heads per kv head)");
  // Issue 14's architecture features the GPU kernels do not have yet: refused by name.
  const auto refuse = [](const std::string& feature) {
    throw backend_error("hip backend: " + feature + " not supported");
  };
  if (c.head_width != 0 && c.head_width * c.n_heads != c.dim) refuse("head_dim other than dim / heads");
  if (c.rope == rope_style::neox) refuse("NEOX rotary pairs (qwen2/qwen3)");
  if (c.rope_freq_scale != 1.0f) refuse("linear RoPE scaling");
  if (!w.rope_freq_factors.empty()) refuse("rope_freqs.weight frequency factors");
  const auto check_type = [&](const weight_matrix& m, const std::string& name) {
    if (m.type != dtype::f32 && m.type != dtype::f16 && m.type != dtype::q8_0)
      refuse(std::string("weight type ") + dtype_name(m.type) + " (" + name + ")");
  };
  check_type(w.tok_embeddings, "token_embd");
  if (!w.shared_classifier) check_type(w.output, "output");
  for (std::size_t l = 0; l < w.layers.size(); ++l) {
    const layer_weights& L = w.layers[l];
    const std::string p = "blk." + std::to_string(l) + ".";
    if (!L.bq.empty() || !L.bk.empty() || !L.bv.empty()) refuse("attention biases (" + p + "attn_q/k/v.bias)");
    if (!L.q_norm.empty() || !L.k_norm.empty()) refuse("per-head Q/K norms (" + p + "attn_q_norm/attn_k_norm)");
    for (const auto* m : {&L.wq, &L.wk, &L.wv, &L.wo, &L.w1, &L.w2, &L.w3}) check_type(*m, p + "weights");
  }
}

// Lays host tensors out in one device allocation, then uploads them.
class weight_arena_builder {
 public:
  std::size_t add(std::size_t bytes) {
    const std::size_t at = size_;
    size_ += aligned(bytes);
    return at;
  }
  std::size_t size() const { return size_; }

 private:
  std::size_t size_ = 0;
};

struct device_layer {
  const float* attn_norm = nullptr;
  const float* ffn_norm = nullptr;
  device_matrix wq, wk, wv, wo, w1, w2, w3;
};

// Offsets (bytes) of one step's scratch tensors in the scratch buffer.
struct scratch_plan {
  std::size_t x = 0, xb = 0, q = 0, k = 0, v = 0, att = 0, h1 = 0, h3 = 0, logits = 0, attention = 0, tokens = 0;
  std::size_t total = 0;
};

// Offsets (in int32 elements) of one step's index arrays in the metadata buffer.
struct metadata_plan {
  std::size_t tokens = 0, row_pos = 0, row_page = 0, row_slot = 0, row_table = 0, block_tables = 0, work_row = 0,
              work_chunk = 0, row_first_work = 0, output_rows = 0;
};

class hip_backend final : public backend {
 public:
  hip_backend(std::shared_ptr<const model_weights> weights, kv_layout layout);

  std::string name() const override { return "hip"; }
  const model_config& config() const override { return config_; }
  kv_layout layout() const override { return layout_; }
  std::vector<sequence_result> step(const std::vector<sequence_step>& batch) override;

  void set_profiling(bool on) {
    profiling_ = on;
    profile_ = {};
  }
  const hip_step_profile& profile() const { return profile_; }

 private:
  // Runs one launcher; while profiling, brackets it with device events.
  template <class Launch>
  void launch(const char* kernel, Launch&& run) {
    if (profiling_) trace_.record(stream_->handle());
    run();
    if (profiling_) {
      trace_.record(stream_->handle());
      trace_names_.push_back(kernel);
    }
  }
  void finish_profile(std::chrono::steady_clock::time_point start, std::chrono::steady_clock::time_point launched,
                      std::chrono::steady_clock::time_point enqueued);

  void upload_weights();
  void allocate_kv();
  void upload_rope_table();
  hip::device_kv_layer kv_layer(int layer) const {
    return {kv_.as<float>(static_cast<std::size_t>(layer) * layer_bytes_), layout_.num_pages, layout_.page_size,
            config_.n_kv_heads, config_.head_dim()};
  }
  template <class T>
  T* scratch_at(std::size_t offset) const {
    return scratch_.as<T>(offset);
  }

  std::shared_ptr<const model_weights> weights_;
  model_config config_;
  kv_layout layout_;
  std::unique_ptr<hip::device_stream> stream_;  // created once a GPU is known to be there
  device_buffer weight_arena_;
  device_buffer kv_;  // [layer][page][k|v][kv_head][page_size][head_dim]
  std::size_t layer_bytes_ = 0;
  device_buffer rope_;  // [max_seq_len][head_dim / 2][cos, sin]
  device_matrix embeddings_, classifier_;
  const float* final_norm_ = nullptr;
  std::vector<device_layer> layers_;

  // Per-step buffers, grown as needed and reused.
  device_buffer scratch_;
  device_buffer metadata_;
  std::vector<int32_t> host_metadata_;

  bool profiling_ = false;
  hip::event_trace trace_;
  std::vector<const char*> trace_names_;
  hip_step_profile profile_;
};

hip_backend::hip_backend(std::shared_ptr<const model_weights> weights, kv_layout layout)
    : weights_(std::move(weights)), config_(weights_ ? weights_->config : model_config{}), layout_(layout) {
  if (!weights_) throw backend_error("hip backend: no model weights");
  check_gpu_shapes(*weights_);
  validate_layout(layout_);
  upload_weights();
  allocate_kv();
  upload_rope_table();
}

void hip_backend::upload_weights() {
  const model_weights& w = *weights_;
  weight_arena_builder arena;
  struct pending {
    std::size_t offset;
    const void* host;
    std::size_t bytes;
  };
  std::vector<pending> uploads;
  auto place_matrix = [&](const weight_matrix& m) {
    const std::size_t at = arena.add(m.byte_size());
    uploads.push_back({at, m.bytes(), m.byte_size()});
    return at;
  };
  auto place_vector = [&](const std::vector<float>& v) {
    const std::size_t at = arena.add(v.size() * sizeof(float));
    uploads.push_back({at, v.data(), v.size() * sizeof(float)});
    return at;
  };
  struct layer_offsets {
    std::size_t attn_norm, ffn_norm, wq, wk, wv, wo, w1, w2, w3;
  };
  const std::size_t embeddings_at = place_matrix(w.tok_embeddings);
  const std::size_t classifier_at = w.shared_classifier ? embeddings_at : place_matrix(w.output);
  const std::size_t final_norm_at = place_vector(w.final_norm);
  std::vector<layer_offsets> offsets;
  for (const layer_weights& L : w.layers)
    offsets.push_back({place_vector(L.attn_norm), place_vector(L.ffn_norm), place_matrix(L.wq), place_matrix(L.wk),
                       place_matrix(L.wv), place_matrix(L.wo), place_matrix(L.w1), place_matrix(L.w2),
                       place_matrix(L.w3)});

  // The first device allocation: on a machine without a usable GPU this is where
  // the runtime's reason surfaces, so say that plainly.
  const hip::gpu_probe probe = hip::probe_gpu();
  if (!probe.available) throw backend_error("hip backend: " + probe.description);
  stream_ = std::make_unique<hip::device_stream>();
  weight_arena_ = device_buffer(arena.size(), "the model weights");
  for (const pending& p : uploads) weight_arena_.upload(p.host, p.bytes, p.offset);

  auto matrix_at = [&](const weight_matrix& m, std::size_t at) {
    return device_matrix{m.type, m.rows, m.cols, weight_arena_.as<void>(at)};
  };
  embeddings_ = matrix_at(w.tok_embeddings, embeddings_at);
  classifier_ = matrix_at(w.classifier(), classifier_at);
  final_norm_ = weight_arena_.as<float>(final_norm_at);
  for (std::size_t l = 0; l < w.layers.size(); ++l) {
    const layer_weights& L = w.layers[l];
    const layer_offsets& o = offsets[l];
    layers_.push_back({weight_arena_.as<float>(o.attn_norm), weight_arena_.as<float>(o.ffn_norm), matrix_at(L.wq, o.wq),
                       matrix_at(L.wk, o.wk), matrix_at(L.wv, o.wv), matrix_at(L.wo, o.wo), matrix_at(L.w1, o.w1),
                       matrix_at(L.w2, o.w2), matrix_at(L.w3, o.w3)});
  }
}

void hip_backend::allocate_kv() {
  const double bytes = 2.0 * config_.n_kv_heads * layout_.page_size * config_.head_dim() * sizeof(float) *
                       layout_.num_pages * config_.n_layers;
  if (bytes > 1e15) throw backend_error("kv layout of " + std::to_string(layout_.num_pages) + " pages is too large");
  layer_bytes_ = 2 * static_cast<std::size_t>(config_.n_kv_heads) * layout_.page_size * config_.head_dim() *
                 sizeof(float) * static_cast<std::size_t>(layout_.num_pages);
  const std::string what = "the KV store (" + std::to_string(layout_.num_pages) + " pages of " +
                           std::to_string(layout_.page_size) + " tokens)";
  kv_ = device_buffer(layer_bytes_ * static_cast<std::size_t>(config_.n_layers), what.c_str());
  kv_.fill_zero();
}

// RoPE as llama2.c and the CPU backend compute it (float pow, cos, sin on the
// host), so both backends rotate by exactly the same values.
void hip_backend::upload_rope_table() {
  const int hd = config_.head_dim(), pairs = hd / 2;
  std::vector<float> table(static_cast<std::size_t>(config_.max_seq_len) * pairs * 2);
  for (int pos = 0; pos < config_.max_seq_len; ++pos)
    for (int j = 0; j < pairs; ++j) {
      const float freq = 1.0f / std::pow(config_.rope_theta, static_cast<float>(2 * j) / static_cast<float>(hd));
      const float angle = static_cast<float>(pos) * freq;
      table[(static_cast<std::size_t>(pos) * pairs + j) * 2] = std::cos(angle);
      table[(static_cast<std::size_t>(pos) * pairs + j) * 2 + 1] = std::sin(angle);
    }
  rope_ = device_buffer(table.size() * sizeof(float), "the RoPE table");
  rope_.upload(table.data(), table.size() * sizeof(float));
}

std::vector<sequence_result> hip_backend::step(const std::vector<sequence_step>& batch) {
  using steady = std::chrono::steady_clock;
  const steady::time_point started = steady::now();
  validate_step(batch, config_, layout_);
  const int dim = config_.dim, kv_dim = config_.kv_dim(), hidden = config_.hidden_dim, vocab = config_.vocab_size;
  const int ps = layout_.page_size, chunk = hip::attention_chunk_keys();

  // Host-side index arrays: one row per token, one work item per (row, key chunk).
  hip::attention_plan plan;
  std::vector<int32_t> tokens, row_page, row_slot;
  for (std::size_t s = 0; s < batch.size(); ++s) {
    const sequence_step& seq = batch[s];
    const int32_t table_at = hip::add_block_table(plan, seq.block_table);
    for (std::size_t i = 0; i < seq.tokens.size(); ++i) {
      const int32_t pos = seq.start_pos + static_cast<int32_t>(i);
      tokens.push_back(seq.tokens[i]);
      row_page.push_back(seq.block_table[static_cast<std::size_t>(pos / ps)]);
      row_slot.push_back(pos % ps);
      hip::add_query_row(plan, pos, table_at, chunk);
    }
  }
  const int n = static_cast<int>(tokens.size());
  // Final norm and classifier rows: last rows that sample or return logits, scored rows.
  output_plan outputs;
  plan_outputs(batch, outputs);
  const std::vector<int32_t>& output_rows = outputs.rows;
  const int n_out = static_cast<int>(output_rows.size());
  const int n_work = static_cast<int>(plan.work_row.size());

  metadata_plan mp;
  host_metadata_.clear();
  auto append = [&](const std::vector<int32_t>& v) {
    const std::size_t at = host_metadata_.size();
    host_metadata_.insert(host_metadata_.end(), v.begin(), v.end());
    host_metadata_.resize((host_metadata_.size() + 63) / 64 * 64);  // keep each array on 256 bytes
    return at;
  };
  mp.tokens = append(tokens);
  mp.row_pos = append(plan.row_pos);
  mp.row_page = append(row_page);
  mp.row_slot = append(row_slot);
  mp.row_table = append(plan.row_table);
  mp.block_tables = append(plan.block_tables);
  mp.work_row = append(plan.work_row);
  mp.work_chunk = append(plan.work_chunk);
  mp.row_first_work = append(plan.row_first_work);
  mp.output_rows = append(output_rows);
  const std::size_t metadata_bytes = host_metadata_.size() * sizeof(int32_t);
  if (metadata_.size() < metadata_bytes) metadata_ = device_buffer(metadata_bytes * 2, "step metadata");
  metadata_.upload(host_metadata_.data(), metadata_bytes);
  auto meta = [&](std::size_t at) { return metadata_.as<const int32_t>(at * sizeof(int32_t)); };

  scratch_plan sp;
  std::size_t at = 0;
  auto take = [&](std::size_t bytes) {
    const std::size_t here = at;
    at += aligned(bytes);
    return here;
  };
  const auto un = static_cast<std::size_t>(n);
  sp.x = take(un * dim * 4);
  sp.xb = take(un * dim * 4);
  sp.q = take(un * dim * 4);
  sp.k = take(un * kv_dim * 4);
  sp.v = take(un * kv_dim * 4);
  sp.att = take(un * dim * 4);
  sp.h1 = take(un * hidden * 4);
  sp.h3 = take(un * hidden * 4);
  sp.logits = take(static_cast<std::size_t>(n_out) * vocab * 4);
  sp.attention =
      take(static_cast<std::size_t>(hip::attention_scratch_floats(n_work, config_.n_heads, config_.head_dim())) * 4);
  sp.tokens = take(static_cast<std::size_t>(n_out) * 4);
  sp.total = at;
  if (scratch_.size() < sp.total) {
    const std::size_t grown = std::max(sp.total, scratch_.size() * 2);
    scratch_ = device_buffer();  // free first: the old and new buffers need not fit together
    scratch_ = device_buffer(grown, "step activations");
  }

  void* s = stream_->handle();
  float* x = scratch_at<float>(sp.x);
  float* xb = scratch_at<float>(sp.xb);
  float* q = scratch_at<float>(sp.q);
  float* k = scratch_at<float>(sp.k);
  float* v = scratch_at<float>(sp.v);
  float* att = scratch_at<float>(sp.att);
  float* h1 = scratch_at<float>(sp.h1);
  float* h3 = scratch_at<float>(sp.h3);
  const hip::device_attention_rows rows{meta(mp.row_pos),
                                        meta(mp.row_table),
                                        meta(mp.block_tables),
                                        meta(mp.work_row),
                                        meta(mp.work_chunk),
                                        meta(mp.row_first_work),
                                        n,
                                        n_work};

  trace_.clear();
  trace_names_.clear();
  const steady::time_point launching = steady::now();
  launch("embedding_gather", [&] { hip::embedding_gather(embeddings_, meta(mp.tokens), n, x, s); });
  for (int l = 0; l < config_.n_layers; ++l) {
    const device_layer& L = layers_[static_cast<std::size_t>(l)];
    const hip::device_kv_layer layer = kv_layer(l);
    launch("rmsnorm", [&] { hip::rmsnorm(x, nullptr, n, dim, L.attn_norm, config_.norm_eps, xb, s); });
    launch("matmul qkv", [&] {
      hip::matmul(L.wq, xb, n, q, s);
      hip::matmul(L.wk, xb, n, k, s);
      hip::matmul(L.wv, xb, n, v, s);
    });
    launch("rope", [&] {
      hip::rope(q, meta(mp.row_pos), n, config_.n_heads, config_.head_dim(), rope_.as<float>(), s);
      hip::rope(k, meta(mp.row_pos), n, config_.n_kv_heads, config_.head_dim(), rope_.as<float>(), s);
    });
    launch("kv_write", [&] { hip::kv_write(layer, k, v, meta(mp.row_page), meta(mp.row_slot), n, s); });
    launch("paged_attention",
           [&] { hip::paged_attention(layer, q, config_.n_heads, rows, scratch_at<float>(sp.attention), xb, s); });
    launch("matmul wo", [&] { hip::matmul(L.wo, xb, n, att, s); });
    launch("residual_add", [&] { hip::residual_add(x, att, static_cast<int64_t>(un * dim), s); });

    launch("rmsnorm", [&] { hip::rmsnorm(x, nullptr, n, dim, L.ffn_norm, config_.norm_eps, xb, s); });
    launch("matmul w1 w3", [&] {
      hip::matmul(L.w1, xb, n, h1, s);
      hip::matmul(L.w3, xb, n, h3, s);
    });
    launch("swiglu", [&] { hip::swiglu(h1, h3, static_cast<int64_t>(un * hidden), s); });
    launch("matmul w2", [&] { hip::matmul(L.w2, h1, n, att, s); });
    launch("residual_add", [&] { hip::residual_add(x, att, static_cast<int64_t>(un * dim), s); });
  }

  std::vector<sequence_result> results(batch.size());
  for (std::size_t i = 0; i < batch.size(); ++i) results[i].seq_id = batch[i].seq_id;
  if (n_out == 0) {
    const steady::time_point enqueued = steady::now();
    stream_->synchronize();
    if (profiling_) finish_profile(started, launching, enqueued);
    return results;
  }
  // Final norm and classifier only for the rows of `outputs`.
  float* logits = scratch_at<float>(sp.logits);
  int32_t* greedy = scratch_at<int32_t>(sp.tokens);
  launch("rmsnorm", [&] { hip::rmsnorm(x, meta(mp.output_rows), n_out, dim, final_norm_, config_.norm_eps, xb, s); });
  launch("matmul classifier", [&] { hip::matmul(classifier_, xb, n_out, logits, s); });
  launch("argmax", [&] { hip::argmax(logits, n_out, vocab, greedy, s); });
  const steady::time_point enqueued = steady::now();
  stream_->synchronize();

  std::vector<int32_t> greedy_tokens(static_cast<std::size_t>(n_out));
  hip::copy_to_host(greedy_tokens.data(), greedy, greedy_tokens.size() * sizeof(int32_t));
  bool need_logits = outputs.any_scores();
  for (std::size_t e = 0; e < batch.size(); ++e)
    need_logits = need_logits || (outputs.last_output[e] >= 0 && needs_logits(batch[e]));
  std::vector<float> host_logits;
  if (need_logits) {
    host_logits.resize(static_cast<std::size_t>(n_out) * vocab);
    hip::copy_to_host(host_logits.data(), logits, host_logits.size() * sizeof(float));
  }
  auto row_logits = [&](int32_t o) {
    return need_logits ? host_logits.data() + static_cast<std::size_t>(o) * vocab : nullptr;
  };
  for (const output_plan::score& sc : outputs.scores)
    score_into(results[sc.entry], row_logits(sc.output), vocab, batch[sc.entry], sc.index);
  sampler_scratch scratch;
  for (std::size_t e = 0; e < batch.size(); ++e) {
    const int32_t o = outputs.last_output[e];
    if (o < 0) continue;
    const sequence_step& seq = batch[e];
    sequence_result& out = results[e];
    const float* logits_row = row_logits(o);
    const int32_t greedy_token = greedy_tokens[static_cast<std::size_t>(o)];
    if (seq.return_logits) out.logits.assign(logits_row, logits_row + vocab);
    if (seq.sample && logits_row == nullptr)
      out.token = greedy_token;
    else if (seq.sample)
      sample_into(out, logits_row, vocab, seq, scratch, greedy_token);
  }
  if (profiling_) finish_profile(started, launching, enqueued);
  return results;
}

void hip_backend::finish_profile(std::chrono::steady_clock::time_point start,
                                 std::chrono::steady_clock::time_point launched,
                                 std::chrono::steady_clock::time_point enqueued) {
  using ms = std::chrono::duration<double, std::milli>;
  hip_step_profile p;
  p.wall_ms = ms(std::chrono::steady_clock::now() - start).count();
  p.prepare_ms = ms(launched - start).count();
  p.enqueue_ms = ms(enqueued - launched).count();
  p.timed_sections = static_cast<int>(trace_names_.size());
  if (trace_.size() >= 2) p.device_span_ms = trace_.elapsed_ms(0, trace_.size() - 1);
  for (std::size_t i = 0; i < trace_names_.size(); ++i) {
    const double t = trace_.elapsed_ms(2 * i, 2 * i + 1);
    p.kernel_ms += t;
    auto it = std::find_if(p.kernel_ms_by_name.begin(), p.kernel_ms_by_name.end(),
                           [&](const auto& entry) { return entry.first == trace_names_[i]; });
    if (it == p.kernel_ms_by_name.end())
      p.kernel_ms_by_name.emplace_back(trace_names_[i], t);
    else
      it->second += t;
  }
  profile_ = std::move(p);
}

}  // namespace

std::unique_ptr<backend> make_hip_backend(std::shared_ptr<const model_weights> weights, kv_layout layout) {
  return std::make_unique<hip_backend>(std::move(weights), layout);
}

bool hip_backend_built() { return true; }

const char* hip_build_target() { return KVACTOR_HIP_TARGET; }

bool set_hip_step_profiling(backend& b, bool on) {
  auto* gpu = dynamic_cast<hip_backend*>(&b);
  if (gpu) gpu->set_profiling(on);
  return gpu != nullptr;
}

hip_step_profile last_hip_step_profile(const backend& b) {
  const auto* gpu = dynamic_cast<const hip_backend*>(&b);
  return gpu ? gpu->profile() : hip_step_profile{};
}

}  // namespace kvactor
