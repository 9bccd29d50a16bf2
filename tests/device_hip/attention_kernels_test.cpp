// KV page write and paged attention against a double-precision reference that
// reads K/V straight from the host arrays (so paging mistakes show), for head
// shapes from stories260K's up to head_dim 256 and 8 query heads per kv head, and
// contexts that cross the split-K chunk boundary.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>
#include <vector>

#include "device/hip/attention_plan.hpp"
#include "device/hip/kernel_launchers.hpp"
#include "tests/device/random_weights.hpp"
#include "tests/device_hip/device_vectors.hpp"
#include "tests/device_hip/gpu_presence.hpp"

using namespace kvactor;
using namespace kvactor::testing;

namespace {

struct head_shape {
  int n_heads, n_kv_heads, head_dim, page_size;
};

// The plan's arrays on the device, alive as long as this object.
struct device_plan {
  hip::device_buffer row_pos, row_table, block_tables, work_row, work_chunk, row_first_work;
  hip::device_attention_rows rows;
  explicit device_plan(const hip::attention_plan& p)
      : row_pos(to_device(p.row_pos)),
        row_table(to_device(p.row_table)),
        block_tables(to_device(p.block_tables)),
        work_row(to_device(p.work_row)),
        work_chunk(to_device(p.work_chunk)),
        row_first_work(to_device(p.row_first_work)) {
    rows = {row_pos.as<int32_t>(),
            row_table.as<int32_t>(),
            block_tables.as<int32_t>(),
            work_row.as<int32_t>(),
            work_chunk.as<int32_t>(),
            row_first_work.as<int32_t>(),
            static_cast<int>(p.row_pos.size()),
            static_cast<int>(p.work_row.size())};
  }
};

struct query {
  int seq, pos;
};

std::vector<float> run_attention(const hip::device_kv_layer& layer, const head_shape& s,
                                 const std::vector<std::vector<int32_t>>& tables, const std::vector<query>& queries,
                                 const std::vector<float>& q) {
  hip::attention_plan plan;
  std::vector<int32_t> offsets;
  for (const auto& t : tables) offsets.push_back(hip::add_block_table(plan, t));
  for (const query& qr : queries)
    hip::add_query_row(plan, qr.pos, offsets[static_cast<std::size_t>(qr.seq)], hip::attention_chunk_keys());
  device_plan dp(plan);
  const std::size_t out_size = queries.size() * static_cast<std::size_t>(s.n_heads) * s.head_dim;
  hip::device_buffer d_q = to_device(q), d_out = device_zeros<float>(out_size);
  hip::device_buffer scratch = device_zeros<float>(
      static_cast<std::size_t>(hip::attention_scratch_floats(dp.rows.n_work, s.n_heads, s.head_dim)));
  hip::paged_attention(layer, d_q.as<float>(), s.n_heads, dp.rows, scratch.as<float>(), d_out.as<float>(), nullptr);
  return to_host<float>(d_out, out_size);
}

}  // namespace

TEST_CASE("hip kernels: kv write and paged attention match the reference across chunk boundaries") {
  require_gpu();
  const head_shape shapes[] = {{8, 4, 8, 16},   {6, 2, 16, 7},   {4, 4, 64, 16},  {8, 1, 64, 16},
                               {4, 4, 128, 16}, {2, 1, 256, 32}, {16, 2, 128, 16}};
  const int lengths[] = {1, 5, 256, 257, 700};  // tokens per sequence
  for (const head_shape& s : shapes) {
    CAPTURE(s.n_heads);
    CAPTURE(s.n_kv_heads);
    CAPTURE(s.head_dim);
    const int kv_dim = s.n_kv_heads * s.head_dim, n_seqs = 5;
    int pages = 0;
    for (int len : lengths) pages += (len + s.page_size - 1) / s.page_size;
    // Each sequence's pages are scattered through the store.
    std::vector<int32_t> order(static_cast<std::size_t>(pages));
    std::iota(order.begin(), order.end(), 0);
    uint64_t x = 99;
    for (std::size_t i = order.size(); i > 1; --i) {
      x = x * 6364136223846793005ull + 1442695040888963407ull;
      std::swap(order[i - 1], order[static_cast<std::size_t>((x >> 33) % i)]);
    }
    std::vector<std::vector<int32_t>> tables(n_seqs);
    std::size_t next = 0;
    for (int i = 0; i < n_seqs; ++i)
      for (int p = 0; p < (lengths[i] + s.page_size - 1) / s.page_size; ++p)
        tables[static_cast<std::size_t>(i)].push_back(order[next++]);

    // K/V of every position of every sequence, written through kv_write.
    weight_rng rng(7 + static_cast<uint64_t>(s.head_dim));
    std::vector<std::vector<float>> keys(n_seqs), values(n_seqs);
    std::vector<float> k_rows, v_rows;
    std::vector<int32_t> row_page, row_slot;
    for (int i = 0; i < n_seqs; ++i)
      for (int pos = 0; pos < lengths[i]; ++pos) {
        for (int d = 0; d < kv_dim; ++d) {
          keys[static_cast<std::size_t>(i)].push_back(rng.next());
          values[static_cast<std::size_t>(i)].push_back(rng.next());
        }
        k_rows.insert(k_rows.end(), keys[static_cast<std::size_t>(i)].end() - kv_dim,
                      keys[static_cast<std::size_t>(i)].end());
        v_rows.insert(v_rows.end(), values[static_cast<std::size_t>(i)].end() - kv_dim,
                      values[static_cast<std::size_t>(i)].end());
        row_page.push_back(tables[static_cast<std::size_t>(i)][static_cast<std::size_t>(pos / s.page_size)]);
        row_slot.push_back(pos % s.page_size);
      }
    hip::device_buffer store = device_zeros<float>(static_cast<std::size_t>(pages) * 2 * kv_dim * s.page_size);
    const hip::device_kv_layer layer{store.as<float>(), pages, s.page_size, s.n_kv_heads, s.head_dim};
    hip::device_buffer d_k = to_device(k_rows), d_v = to_device(v_rows), d_page = to_device(row_page),
                       d_slot = to_device(row_slot);
    hip::kv_write(layer, d_k.as<float>(), d_v.as<float>(), d_page.as<int32_t>(), d_slot.as<int32_t>(),
                  static_cast<int>(row_page.size()), nullptr);

    // Queries: the last position of every sequence plus a few inside the long ones.
    std::vector<query> queries;
    for (int i = 0; i < n_seqs; ++i) queries.push_back({i, lengths[i] - 1});
    queries.push_back({4, 255});
    queries.push_back({4, 256});
    queries.push_back({3, 100});
    const int qdim = s.n_heads * s.head_dim;
    std::vector<float> q(queries.size() * static_cast<std::size_t>(qdim));
    for (float& v : q) v = rng.next();
    const std::vector<float> got = run_attention(layer, s, tables, queries, q);

    const int group = s.n_heads / s.n_kv_heads;
    for (std::size_t r = 0; r < queries.size(); ++r) {
      const query& qr = queries[r];
      const auto& K = keys[static_cast<std::size_t>(qr.seq)];
      const auto& V = values[static_cast<std::size_t>(qr.seq)];
      for (int h = 0; h < s.n_heads; ++h) {
        const int kvh = h / group;
        std::vector<double> score(static_cast<std::size_t>(qr.pos + 1));
        double m = -1e300;
        for (int p = 0; p <= qr.pos; ++p) {
          double dot = 0;
          for (int d = 0; d < s.head_dim; ++d)
            dot += static_cast<double>(q[r * qdim + static_cast<std::size_t>(h * s.head_dim + d)]) *
                   K[static_cast<std::size_t>(p * kv_dim + kvh * s.head_dim + d)];
          score[static_cast<std::size_t>(p)] = dot / std::sqrt(static_cast<double>(s.head_dim));
          m = std::max(m, score[static_cast<std::size_t>(p)]);
        }
        double l = 0;
        for (double& sc : score) l += (sc = std::exp(sc - m));
        for (int d = 0; d < s.head_dim; ++d) {
          double want = 0;
          for (int p = 0; p <= qr.pos; ++p)
            want +=
                score[static_cast<std::size_t>(p)] / l * V[static_cast<std::size_t>(p * kv_dim + kvh * s.head_dim + d)];
          const float g = got[r * qdim + static_cast<std::size_t>(h * s.head_dim + d)];
          INFO("query row " << r << " (pos " << qr.pos << "), head " << h << ", d " << d);
          REQUIRE(std::fabs(g - want) <= 2e-5);
        }
      }
    }

    // Batch invariance: every query row alone gives the same bits as in the batch.
    for (std::size_t r = 0; r < queries.size(); ++r) {
      const std::vector<float> q1(q.begin() + static_cast<std::ptrdiff_t>(r * qdim),
                                  q.begin() + static_cast<std::ptrdiff_t>((r + 1) * qdim));
      const std::vector<float> alone = run_attention(layer, s, tables, {queries[r]}, q1);
      REQUIRE(std::memcmp(alone.data(), got.data() + r * qdim, static_cast<std::size_t>(qdim) * 4) == 0);
    }
  }
}

TEST_CASE("hip kernels: paged attention rejects head shapes it cannot run, naming the shape") {
  // Shape checks run before any device work, so this needs no GPU.
  const hip::device_attention_rows rows{};
  CHECK_THROWS_WITH_AS(hip::paged_attention({nullptr, 1, 16, 1, 6}, nullptr, 2, rows, nullptr, nullptr, nullptr),
                       doctest::Contains("head_dim 6"), backend_error);
  CHECK_THROWS_WITH_AS(hip::paged_attention({nullptr, 1, 16, 1, 64}, nullptr, 16, rows, nullptr, nullptr, nullptr),
                       doctest::Contains("16 heads, 1 kv heads"), backend_error);
  CHECK_THROWS_WITH_AS(hip::paged_attention({nullptr, 1, 16, 3, 64}, nullptr, 4, rows, nullptr, nullptr, nullptr),
                       doctest::Contains("4 heads, 3 kv heads"), backend_error);
}
