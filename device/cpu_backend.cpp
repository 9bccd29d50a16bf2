// CPU forward pass. Batch invariance comes from one rule: every output value is a
// function of its own token row only, computed by the same routine in the same
// order whatever else is in the batch.
//  - Matmuls (cpu_matmul.hpp) compute each output as one dot product whose
//    summation order depends only on its length and the process's ISA, whatever
//    register tile, token count or thread computes it. Threads split output rows,
//    never a reduction.
//  - A step first writes the K/V of every token of a layer into the paged store,
//    then attention reads all keys 0..pos back from the store, in position order, with
//    the same code for prefill and decode. So K/V computed earlier (by this sequence
//    or another) is read exactly like K/V computed in this step.
//  - Q8_0, Q4_K, Q5_K and Q6_K products in integers (q8_0_activations::int8) quantize each
//    token row on its own, and the integer kernels' float chain has one order
//    (cpu_q8_activations.hpp, cpu_q8k_activations.hpp).
//  - Logits are computed only for the rows that need them; that choice changes which
//    rows are computed, never how.
#include "device/cpu_backend.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <initializer_list>
#include <limits>
#include <string>
#include <thread>

#ifdef __linux__
#include <sched.h>
#endif

#include "device/cpu_dot.hpp"
#include "device/cpu_isa.hpp"
#include "device/cpu_matmul.hpp"
#include "device/model_validation.hpp"
#include "device/step_sampling.hpp"
#include "device/step_validation.hpp"
#include "device/thread_pool.hpp"
#include "device/weight_rows.hpp"

namespace kvactor {

namespace {

// Multiply-adds below which a job is not worth handing to another thread. Inside a
// step the workers are still spinning from the previous product, so a hand-off
// costs about a microsecond (32K multiply-adds take about as long); at 1 << 17 the
// 288-row products of a one-token decode step ran on one thread. Only changes which
// thread computes an output, never how.
constexpr int64_t min_work_per_thread = 1 << 15;

// Weights beyond this many bytes do not stay in the caches from one step to the next
// (32 MiB: the L3 of one EPYC CCD; the 15M shape's Q8_0 file, 16 MB, stays).
constexpr std::size_t dram_weights = std::size_t{32} << 20;

std::size_t weight_bytes(const model_weights& w) {
  std::size_t bytes = w.tok_embeddings.byte_size() + (w.shared_classifier ? 0 : w.output.byte_size());
  for (const layer_weights& l : w.layers)
    for (const weight_matrix* m : {&l.wq, &l.wk, &l.wv, &l.wo, &l.w1, &l.w2, &l.w3}) bytes += m->byte_size();
  return bytes;
}

// Where one token row of the flattened batch comes from.
struct token_row {
  int seq = 0;  // batch index
  int pos = 0;  // position in its sequence
};

class cpu_backend final : public backend {
 public:
  cpu_backend(std::shared_ptr<const model_weights> weights, kv_layout layout, int threads, q8_0_activations q8)
      : weights_(std::move(weights)),
        config_(weights_ ? weights_->config : model_config{}),
        layout_(layout),
        q8_integer_(q8 == q8_0_activations::int8),
        pool_(threads > 0 ? threads : usable_cpus()) {
    cpu_isa_in_use();  // a bad KVACTOR_CPU_ISA is reported here, not in the middle of a step
    if (!weights_) throw backend_error("cpu backend: no model weights");
    validate_model(*weights_);
    validate_layout(layout_);
    weights_from_dram_ = weight_bytes(*weights_) > dram_weights;
    const int hd = config_.head_dim();
    page_block_ = static_cast<std::size_t>(layout_.page_size) * hd;                 // one kv head in one page
    page_stride_ = 2 * static_cast<std::size_t>(config_.n_kv_heads) * page_block_;  // k and v of one page
    layer_stride_ = page_stride_ * static_cast<std::size_t>(layout_.num_pages);
    const double floats = static_cast<double>(layer_stride_) * config_.n_layers;
    if (floats * sizeof(float) > static_cast<double>(std::numeric_limits<std::ptrdiff_t>::max()) / 2)
      throw backend_error("kv layout of " + std::to_string(layout_.num_pages) + " pages is too large");
    // calloc: large blocks come straight from mmap as zero pages, so the store costs
    // resident memory only as pages are first written (memory grows with the cache's
    // use, not its capacity). Reads of never-written slots would see zeros.
    kv_.reset(
        static_cast<float*>(std::calloc(layer_stride_ * static_cast<std::size_t>(config_.n_layers), sizeof(float))));
    if (!kv_)
      throw backend_error("cannot allocate the KV store: " + std::to_string(floats * 4 / (1 << 20)) + " MiB for " +
                          std::to_string(layout_.num_pages) + " pages");
    // RoPE frequencies as llama2.c computes them (float pow); rope_freqs.weight
    // divides a pair's frequency, as ggml_rope_ext applies it (a no-op at 1).
    const int pairs = hd / 2;
    const std::vector<float>& factors = weights_->rope_freq_factors;
    rope_freq_.resize(static_cast<std::size_t>(pairs));
    for (int j = 0; j < pairs; ++j) {
      float freq = 1.0f / std::pow(config_.rope_theta, static_cast<float>(2 * j) / static_cast<float>(hd));
      if (!factors.empty()) freq /= factors[static_cast<std::size_t>(j)];
      rope_freq_[static_cast<std::size_t>(j)] = freq;
    }
  }

  std::string name() const override { return "cpu"; }
  int host_threads() const override { return pool_.size(); }
  const model_config& config() const override { return config_; }
  kv_layout layout() const override { return layout_; }

  std::vector<sequence_result> step(const std::vector<sequence_step>& batch) override;

 private:
  struct matmul_target {
    const weight_matrix* w;
    float* out;  // [n_rows, w->rows]
  };
  // out[t * w.rows + r] = dot(row r of w, in[t * w.cols ...]) for every token row t
  // and every target (all targets share the input and its width).
  void matmul(std::initializer_list<matmul_target> targets, const float* in, int n_rows);
  void rmsnorm(const float* x, const float* weight, int n, float* out) const;
  // Per token row: biases, per-head Q/K norms and RoPE on its q/k (before K/V are stored).
  void prepare_qk(const layer_weights& L, float* q, float* k, float* v, const float* rope_table) const;
  // cos/sin of every pair's angle at `pos` into table[pair][2] (linear scaling multiplies the angle).
  void rope_angles(int pos, float* table) const;
  void rope(float* vec, int n_heads, const float* table) const;
  float* kv_slot(int layer, int page, int which, int kv_head, int slot) {
    return kv_.get() + static_cast<std::size_t>(layer) * layer_stride_ + static_cast<std::size_t>(page) * page_stride_ +
           (static_cast<std::size_t>(which) * config_.n_kv_heads + kv_head) * page_block_ +
           static_cast<std::size_t>(slot) * config_.head_dim();
  }
  void attention(int layer, const std::vector<sequence_step>& batch);

  std::shared_ptr<const model_weights> weights_;
  model_config config_;
  kv_layout layout_;
  bool q8_integer_;  // Q8_0, Q4_K, Q5_K and Q6_K products in integers (q8_0_activations::int8)
  // The weights are larger than the caches, so each decode step reads them from memory.
  bool weights_from_dram_ = false;
  thread_pool pool_;
  // [layer][page][k|v][kv_head][page_size][head_dim]
  struct free_deleter {
    void operator()(float* p) const { std::free(p); }
  };
  std::unique_ptr<float[], free_deleter> kv_;
  std::size_t page_block_ = 0, page_stride_ = 0, layer_stride_ = 0;
  std::vector<float> rope_freq_;  // [head_dim / 2]
  std::vector<float> rope_rows_;  // per step: [token row][head_dim / 2][cos, sin]

  // Per-step scratch, grown as needed and reused: after the first steps of the
  // largest batch a step allocates nothing but its result vector.
  std::vector<token_row> rows_;
  std::vector<float> x_, xb_, q_, k_, v_, att_, h1_, h3_, logits_;
  q8_activations q8_in_;    // a product's input quantized for Q8_0 weights (q8_integer_)
  q8k_activations q8k_in_;  // ... and for Q4_K / Q5_K / Q6_K weights
  sampler_scratch sampling_scratch_;
  output_plan output_plan_;
};

void cpu_backend::matmul(std::initializer_list<matmul_target> targets, const float* in, int n_rows) {
  // Rows are handed out in blocks of 24 (a multiple of every ISA's row tile);
  // matrices sharing an input run as one job. Token rows go in tiles of 64, so a
  // long prefill's activations stay in L2 while the weight rows pass over them.
  constexpr int64_t block = 24;
  constexpr int token_tile = 64;
  int64_t blocks = 0, work = 0;
  for (const matmul_target& m : targets) {
    blocks += (m.w->rows + block - 1) / block;
    work += m.w->rows * m.w->cols;
  }
  const int64_t work_per_block = std::max<int64_t>(1, work / blocks * n_rows);
  const int64_t min_blocks = std::max<int64_t>(1, min_work_per_thread / work_per_block);
  bool integer = false, kquant = false;
  for (const matmul_target& m : targets) {
    integer = integer || (q8_integer_ && m.w->type == dtype::q8_0);
    kquant = kquant || (q8_integer_ && kquant_integer_type(m.w->type));
  }
  const int64_t cols = targets.begin()->w->cols;
  // The input quantized once for every row block (Q8_0 and/or Q8_K blocks), in whole groups
  // of tokens per thread (each group is packed by the call that quantizes its tokens).
  const auto quantize_groups = [&](auto& activations, int group_tokens) {
    activations.resize(n_rows, cols);
    const int64_t groups = (n_rows + group_tokens - 1) / group_tokens;
    pool_.parallel_for(groups, std::max<int64_t>(1, min_work_per_thread / (cols * group_tokens)),
                       [&](int64_t g0, int64_t g1) {
                         activations.quantize(in, static_cast<int>(g0 * group_tokens),
                                              static_cast<int>(std::min<int64_t>(g1 * group_tokens, n_rows)));
                       });
  };
  if (integer) quantize_groups(q8_in_, q8_group_tokens);
  if (kquant) quantize_groups(q8k_in_, q8k_group_tokens);
  pool_.parallel_for(blocks, min_blocks, [&](int64_t b0, int64_t b1) {
    for (int t0 = 0; t0 < n_rows; t0 += token_tile) {
      const int tokens = std::min(n_rows - t0, token_tile);
      const matmul_target* m = targets.begin();
      int64_t first_block = 0;  // global index of m's first block
      for (int64_t b = b0; b < b1;) {
        while (b - first_block >= (m->w->rows + block - 1) / block) {
          first_block += (m->w->rows + block - 1) / block;
          ++m;
        }
        const weight_matrix& w = *m->w;
        // One or two tokens: this thread's consecutive blocks of the matrix in one call, so
        // the kernels stream its rows without restarting every 24 rows (the K-quant kernel
        // reads two far-apart rows at once; TinyLlama-shape Q4_K_M decode, one thread: 17.6
        // -> 26 tokens/s). More tokens: a block at a time, its rows kept in the caches.
        const int64_t span = n_rows <= 2 ? std::min(b1, first_block + (w.rows + block - 1) / block) - b : 1;
        const int64_t r0 = (b - first_block) * block, r1 = std::min(w.rows, r0 + span * block);
        b += span;
        float* out = m->out + static_cast<int64_t>(t0) * w.rows;
        if (integer && w.type == dtype::q8_0)
          matmul_rows_q8(w, r0, r1, q8_in_, t0, tokens, out, w.rows, weights_from_dram_);
        else if (kquant && kquant_integer_type(w.type))
          matmul_rows_kquant(w, r0, r1, q8k_in_, t0, tokens, out, w.rows);
        else
          matmul_rows(w, r0, r1, in + static_cast<int64_t>(t0) * w.cols, tokens, out, w.rows);
      }
    }
  });
}

// llama2.c's rmsnorm: weight * (x / sqrt(mean(x^2) + eps)). out may be x.
void cpu_backend::rmsnorm(const float* x, const float* weight, int n, float* out) const {
  float ss = dot(x, x, n);
  ss /= static_cast<float>(n);
  ss += config_.norm_eps;
  ss = 1.0f / std::sqrt(ss);
  for (int i = 0; i < n; ++i) out[i] = weight[i] * (ss * x[i]);
}

// In llama.cpp's order: Q/K/V biases right after the products (qwen2), then the
// per-head RMSNorm of Q and K (qwen3), then RoPE.
void cpu_backend::prepare_qk(const layer_weights& L, float* q, float* k, float* v, const float* rope_table) const {
  const int hd = config_.head_dim();
  const auto add = [](float* x, const std::vector<float>& b) {
    for (std::size_t i = 0; i < b.size(); ++i) x[i] += b[i];
  };
  add(q, L.bq);
  add(k, L.bk);
  add(v, L.bv);
  if (!L.q_norm.empty())
    for (int h = 0; h < config_.n_heads; ++h) rmsnorm(q + h * hd, L.q_norm.data(), hd, q + h * hd);
  if (!L.k_norm.empty())
    for (int h = 0; h < config_.n_kv_heads; ++h) rmsnorm(k + h * hd, L.k_norm.data(), hd, k + h * hd);
  rope(q, config_.n_heads, rope_table);
  rope(k, config_.n_kv_heads, rope_table);
}

// Computed per token row and step, from the position alone (the same bits whenever
// and wherever a position is computed), rather than a table of every position the
// context allows (32 MiB for Llama 3's 131,072).
void cpu_backend::rope_angles(int pos, float* table) const {
  for (std::size_t j = 0; j < rope_freq_.size(); ++j) {
    const float angle = static_cast<float>(pos) * rope_freq_[j] * config_.rope_freq_scale;
    table[2 * j] = std::cos(angle);
    table[2 * j + 1] = std::sin(angle);
  }
}

// Pair j of each head turns by the angle of frequency j. llama2.c / ggml NORM pair
// adjacent values (x[2j], x[2j+1]); NEOX (qwen2, qwen3) pairs halves (x[j], x[j + hd/2]).
void cpu_backend::rope(float* vec, int n_heads, const float* table) const {
  const int hd = config_.head_dim(), pairs = hd / 2;
  const bool neox = config_.rope == rope_style::neox;
  const int stride = neox ? 1 : 2, offset = neox ? pairs : 1;
  for (int h = 0; h < n_heads; ++h) {
    float* head = vec + static_cast<std::size_t>(h) * hd;
    for (int j = 0; j < pairs; ++j) {
      const float c = table[2 * j], s = table[2 * j + 1];
      float* a = head + j * stride;
      float* b = a + offset;
      const float v0 = *a, v1 = *b;
      *a = v0 * c - v1 * s;
      *b = v0 * s + v1 * c;
    }
  }
}

// Each (token row, head) reads keys and values 0..pos from the paged store in
// position order; xb_ receives the concatenated head outputs.
// A prefill's later tokens read more keys than its first: 8 chunks per thread, claimed as
// threads finish, keep them ending together (one chunk each gave the thread with the last
// tokens 3/4 of a long prompt's attention).
constexpr int attention_chunks_per_thread = 8;

void cpu_backend::attention(int layer, const std::vector<sequence_step>& batch) {
  const int hd = config_.head_dim(), n_heads = config_.n_heads, q_dim = config_.q_dim();
  const int group = config_.n_heads / config_.n_kv_heads;
  const int ps = layout_.page_size;
  const float scale = std::sqrt(static_cast<float>(hd));
  const int64_t tasks = static_cast<int64_t>(rows_.size()) * n_heads;
  int64_t keys = 0;
  for (const token_row& r : rows_) keys += r.pos + 1;
  const int64_t work_per_task = std::max<int64_t>(1, keys / static_cast<int64_t>(rows_.size()) * hd * 2);
  pool_.parallel_for(
      tasks, std::max<int64_t>(1, min_work_per_thread / work_per_task),
      [&](int64_t begin, int64_t end) {
        thread_local std::vector<float> scores;
        scores.resize(static_cast<std::size_t>(config_.max_seq_len));
        for (int64_t task = begin; task < end; ++task) {
          const auto t = static_cast<std::size_t>(task / n_heads);
          const int h = static_cast<int>(task % n_heads), kvh = h / group;
          const token_row& row = rows_[t];
          const std::vector<int32_t>& table = batch[static_cast<std::size_t>(row.seq)].block_table;
          const float* q = q_.data() + t * q_dim + static_cast<std::size_t>(h) * hd;
          // Keys page by page: one block-table lookup per page, then consecutive slots.
          for (int p0 = 0; p0 <= row.pos; p0 += ps) {
            const float* k = kv_slot(layer, table[static_cast<std::size_t>(p0 / ps)], 0, kvh, 0);
            const int n = std::min(ps, row.pos + 1 - p0);
            dot_rows(q, k, hd, n, hd, scale, scores.data() + p0);
          }
          float max_score = scores[0];
          for (int p = 1; p <= row.pos; ++p) max_score = std::max(max_score, scores[static_cast<std::size_t>(p)]);
          float sum = 0.0f;
          for (int p = 0; p <= row.pos; ++p) {
            float& s = scores[static_cast<std::size_t>(p)];
            s = std::exp(s - max_score);
            sum += s;
          }
          float* out = xb_.data() + t * q_dim + static_cast<std::size_t>(h) * hd;
          std::fill(out, out + hd, 0.0f);
          for (int p0 = 0; p0 <= row.pos; p0 += ps) {
            const float* v = kv_slot(layer, table[static_cast<std::size_t>(p0 / ps)], 1, kvh, 0);
            const int n = std::min(ps, row.pos + 1 - p0);
            add_scaled_rows(out, scores.data() + p0, sum, v, hd, n, hd);
          }
        }
      },
      attention_chunks_per_thread);
}

std::vector<sequence_result> cpu_backend::step(const std::vector<sequence_step>& batch) {
  validate_step(batch, config_, layout_);
  if (batch.empty()) return {};
  const model_weights& w = *weights_;
  const int dim = config_.dim, q_dim = config_.q_dim(), kv_dim = config_.kv_dim(), hidden = config_.hidden_dim;
  const int ps = layout_.page_size;

  rows_.clear();
  for (std::size_t s = 0; s < batch.size(); ++s)
    for (std::size_t i = 0; i < batch[s].tokens.size(); ++i)
      rows_.push_back({static_cast<int>(s), batch[s].start_pos + static_cast<int>(i)});
  const int n = static_cast<int>(rows_.size());
  const auto un = static_cast<std::size_t>(n);
  x_.resize(un * dim);
  xb_.resize(un * static_cast<std::size_t>(std::max(dim, q_dim)));  // normed rows [dim], then attention out [q_dim]
  q_.resize(un * q_dim);
  k_.resize(un * kv_dim);
  v_.resize(un * kv_dim);
  att_.resize(un * dim);
  h1_.resize(un * hidden);
  h3_.resize(un * hidden);
  rope_rows_.resize(un * rope_freq_.size() * 2);
  for (int t = 0; t < n; ++t)
    rope_angles(rows_[static_cast<std::size_t>(t)].pos,
                rope_rows_.data() + static_cast<std::size_t>(t) * rope_freq_.size() * 2);

  for (int t = 0; t < n; ++t) {
    const token_row& r = rows_[static_cast<std::size_t>(t)];
    const int32_t token =
        batch[static_cast<std::size_t>(r.seq)]
            .tokens[static_cast<std::size_t>(r.pos - batch[static_cast<std::size_t>(r.seq)].start_pos)];
    read_weight_row(w.tok_embeddings, token, x_.data() + static_cast<std::size_t>(t) * dim);
  }

  for (int l = 0; l < config_.n_layers; ++l) {
    const layer_weights& L = w.layers[static_cast<std::size_t>(l)];
    for (int t = 0; t < n; ++t)
      rmsnorm(x_.data() + static_cast<std::size_t>(t) * dim, L.attn_norm.data(), dim,
              xb_.data() + static_cast<std::size_t>(t) * dim);
    matmul({{&L.wq, q_.data()}, {&L.wk, k_.data()}, {&L.wv, v_.data()}}, xb_.data(), n);
    for (int t = 0; t < n; ++t) {
      const token_row& r = rows_[static_cast<std::size_t>(t)];
      float* k = k_.data() + static_cast<std::size_t>(t) * kv_dim;
      float* v = v_.data() + static_cast<std::size_t>(t) * kv_dim;
      prepare_qk(L, q_.data() + static_cast<std::size_t>(t) * q_dim, k, v,
                 rope_rows_.data() + static_cast<std::size_t>(t) * rope_freq_.size() * 2);
      const int page = batch[static_cast<std::size_t>(r.seq)].block_table[static_cast<std::size_t>(r.pos / ps)];
      const int hd = config_.head_dim();
      for (int h = 0; h < config_.n_kv_heads; ++h) {
        std::copy(k + h * hd, k + (h + 1) * hd, kv_slot(l, page, 0, h, r.pos % ps));
        std::copy(v + h * hd, v + (h + 1) * hd, kv_slot(l, page, 1, h, r.pos % ps));
      }
    }
    attention(l, batch);
    matmul({{&L.wo, att_.data()}}, xb_.data(), n);
    for (std::size_t i = 0; i < un * dim; ++i) x_[i] += att_[i];

    for (int t = 0; t < n; ++t)
      rmsnorm(x_.data() + static_cast<std::size_t>(t) * dim, L.ffn_norm.data(), dim,
              xb_.data() + static_cast<std::size_t>(t) * dim);
    matmul({{&L.w1, h1_.data()}, {&L.w3, h3_.data()}}, xb_.data(), n);
    // SiLU gate, token rows split over the threads (an exp per value: ~10% of a long
    // prefill's step when it ran on one thread).
    pool_.parallel_for(
        n, std::max<int64_t>(1, min_work_per_thread / (int64_t{hidden} * 16)), [&](int64_t t0, int64_t t1) {
          for (auto i = static_cast<std::size_t>(t0 * hidden); i < static_cast<std::size_t>(t1 * hidden); ++i) {
            float g = h1_[i];
            g *= 1.0f / (1.0f + std::exp(-g));  // SiLU
            h1_[i] = g * h3_[i];
          }
        });
    matmul({{&L.w2, att_.data()}}, h1_.data(), n);
    for (std::size_t i = 0; i < un * dim; ++i) x_[i] += att_[i];
  }

  // Final norm and classifier, only for the rows that want output (step_sampling.hpp).
  output_plan& plan = output_plan_;
  plan_outputs(batch, plan);
  const int vocab = config_.vocab_size;
  const std::size_t n_out = plan.rows.size();
  if (xb_.size() < n_out * dim) xb_.resize(n_out * dim);
  for (std::size_t i = 0; i < n_out; ++i)
    rmsnorm(x_.data() + static_cast<std::size_t>(plan.rows[i]) * dim, w.final_norm.data(), dim, xb_.data() + i * dim);
  logits_.resize(n_out * static_cast<std::size_t>(vocab));
  if (n_out > 0) matmul({{&w.classifier(), logits_.data()}}, xb_.data(), static_cast<int>(n_out));
  auto row_logits = [&](int32_t output) { return logits_.data() + static_cast<std::size_t>(output) * vocab; };

  std::vector<sequence_result> results(batch.size());
  for (std::size_t s = 0; s < batch.size(); ++s) results[s].seq_id = batch[s].seq_id;
  for (const output_plan::score& sc : plan.scores)
    score_into(results[sc.entry], row_logits(sc.output), vocab, batch[sc.entry], sc.index);
  sampler_scratch& scratch = sampling_scratch_;
  for (std::size_t e = 0; e < batch.size(); ++e) {
    if (plan.last_output[e] < 0) continue;
    const sequence_step& s = batch[e];
    const float* logits = row_logits(plan.last_output[e]);
    if (s.return_logits) results[e].logits.assign(logits, logits + vocab);
    sample_into(results[e], logits, vocab, s, scratch);
  }
  return results;
}

}  // namespace

int default_cpu_threads(const model_weights& weights) {
  constexpr int64_t small_model_parameters = int64_t{4} << 20;
  auto count = [](const weight_matrix& m) { return m.rows * m.cols; };
  int64_t parameters = count(weights.tok_embeddings) + (weights.shared_classifier ? 0 : count(weights.output));
  for (const layer_weights& l : weights.layers)
    for (const weight_matrix* m : {&l.wq, &l.wk, &l.wv, &l.wo, &l.w1, &l.w2, &l.w3}) parameters += count(*m);
  if (parameters < small_model_parameters) return 1;
  return usable_cpus();
}

int usable_cpus() {
#ifdef __linux__
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0) return CPU_COUNT(&set);
#endif
  return std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
}

std::unique_ptr<backend> make_cpu_backend(std::shared_ptr<const model_weights> weights, kv_layout layout, int threads,
                                          q8_0_activations q8) {
  return std::make_unique<cpu_backend>(std::move(weights), layout, threads, q8);
}

std::unique_ptr<backend> make_cpu_backend(std::shared_ptr<const model_weights> weights, kv_layout layout, int threads) {
  return make_cpu_backend(std::move(weights), layout, threads, q8_0_activations::int8);
}

q8_0_activations parse_q8_0_activations(const std::string& name) {
  if (name == "int8" || name == "auto") return q8_0_activations::int8;
  if (name == "f32") return q8_0_activations::f32;
  throw backend_error("q8_0_activations must be auto, int8 or f32 (got '" + name + "')");
}

}  // namespace kvactor
