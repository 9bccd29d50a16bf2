// Paged-attention decode bandwidth on the GPU: one query token per sequence over a
// context of C tokens in scattered pages, batch B. Reports the K/V bytes read per
// second as a fraction of the device's measured copy bandwidth (target >= 70% at
// C >= 4K, B = 64). Prints Markdown; --out also writes it to a file.
//
//   attention_bench [--contexts 1024,4096,8192] [--batch 64] [--heads 32] [--kv-heads 8]
//                   [--head-dim 128] [--page-size 16] [--iterations 20] [--out FILE]
//
// Exits 77 with a "no GPU" message when no GPU is usable.
#include <algorithm>
#include <cstdio>
#include <fstream>
#include <numeric>
#include <sstream>
#include <string>
#include <vector>

#include "bench/gpu_bench_common.hpp"
#include "device/hip/attention_plan.hpp"
#include "device/hip/hip_backend.hpp"
#include "device/hip/kernel_launchers.hpp"

namespace {

using namespace kvactor;

struct options {
  std::vector<int> contexts{1024, 4096, 8192};
  int batch = 64, heads = 32, kv_heads = 8, head_dim = 128, page_size = 16, iterations = 20;
  std::string out;
};

struct result {
  int context = 0;
  double ms = 0, gb_per_s = 0, fraction = 0;
};

result measure(const options& o, int context, double copy_gb_per_s) {
  const int pages_per_seq = (context + o.page_size - 1) / o.page_size;
  const int pages = pages_per_seq * o.batch;
  const std::size_t page_floats = 2ull * o.kv_heads * o.page_size * o.head_dim;
  hip::device_buffer store(static_cast<std::size_t>(pages) * page_floats * sizeof(float), "the KV store");
  {  // pseudo-random contents, uploaded in slabs
    std::vector<float> slab(page_floats * 64);
    uint32_t x = 12345;
    for (float& v : slab) {
      x = x * 1664525u + 1013904223u;
      v = static_cast<float>(x >> 8) / static_cast<float>(1u << 24) - 0.5f;
    }
    for (int p = 0; p < pages; p += 64) {
      const std::size_t n = std::min<std::size_t>(64, static_cast<std::size_t>(pages - p)) * page_floats;
      store.upload(slab.data(), n * sizeof(float), static_cast<std::size_t>(p) * page_floats * sizeof(float));
    }
  }
  // Pages handed out in a shuffled order, as a long-running pool would.
  std::vector<int32_t> order(static_cast<std::size_t>(pages));
  std::iota(order.begin(), order.end(), 0);
  uint64_t r = 7;
  for (std::size_t i = order.size(); i > 1; --i) {
    r = r * 6364136223846793005ull + 1442695040888963407ull;
    std::swap(order[i - 1], order[static_cast<std::size_t>((r >> 33) % i)]);
  }
  hip::attention_plan plan;
  for (int s = 0; s < o.batch; ++s) {
    const std::vector<int32_t> table(order.begin() + static_cast<std::ptrdiff_t>(s) * pages_per_seq,
                                     order.begin() + static_cast<std::ptrdiff_t>(s + 1) * pages_per_seq);
    hip::add_query_row(plan, context - 1, hip::add_block_table(plan, table), hip::attention_chunk_keys());
  }
  auto upload = [](const std::vector<int32_t>& v) {
    hip::device_buffer b(v.size() * sizeof(int32_t) + 16, "attention indices");
    b.upload(v.data(), v.size() * sizeof(int32_t));
    return b;
  };
  hip::device_buffer row_pos = upload(plan.row_pos), row_table = upload(plan.row_table),
                     tables = upload(plan.block_tables), work_row = upload(plan.work_row),
                     work_chunk = upload(plan.work_chunk), first = upload(plan.row_first_work);
  const hip::device_attention_rows rows{row_pos.as<int32_t>(),
                                        row_table.as<int32_t>(),
                                        tables.as<int32_t>(),
                                        work_row.as<int32_t>(),
                                        work_chunk.as<int32_t>(),
                                        first.as<int32_t>(),
                                        o.batch,
                                        static_cast<int>(plan.work_row.size())};
  const std::size_t q_floats = static_cast<std::size_t>(o.batch) * o.heads * o.head_dim;
  hip::device_buffer q(q_floats * sizeof(float), "queries"), out(q_floats * sizeof(float), "attention output");
  {  // random queries: zeros would make every score equal
    std::vector<float> host_q(q_floats);
    uint32_t y = 777;
    for (float& v : host_q) {
      y = y * 1664525u + 1013904223u;
      v = static_cast<float>(y >> 8) / static_cast<float>(1u << 24) - 0.5f;
    }
    q.upload(host_q.data(), q_floats * sizeof(float));
  }
  hip::device_buffer scratch(
      static_cast<std::size_t>(hip::attention_scratch_floats(rows.n_work, o.heads, o.head_dim)) * sizeof(float),
      "attention scratch");
  const hip::device_kv_layer layer{store.as<float>(), pages, o.page_size, o.kv_heads, o.head_dim};
  hip::device_stream stream;
  hip::device_timer timer;
  for (int i = 0; i < 3; ++i)
    hip::paged_attention(layer, q.as<float>(), o.heads, rows, scratch.as<float>(), out.as<float>(), stream.handle());
  timer.start(stream.handle());
  for (int i = 0; i < o.iterations; ++i)
    hip::paged_attention(layer, q.as<float>(), o.heads, rows, scratch.as<float>(), out.as<float>(), stream.handle());
  result res;
  res.context = context;
  res.ms = timer.stop_ms(stream.handle()) / o.iterations;
  const double kv_bytes = static_cast<double>(o.batch) * context * 2.0 * o.kv_heads * o.head_dim * sizeof(float);
  res.gb_per_s = kv_bytes / (res.ms * 1e-3) / 1e9;
  res.fraction = res.gb_per_s / copy_gb_per_s;
  return res;
}

int positive(const char* flag, const char* value) { return bench::parse_positive_int("attention_bench", flag, value); }

}  // namespace

int main(int argc, char** argv) {
  options o;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--help" || flag == "-h") {
      std::printf(
          "usage: attention_bench [--contexts 1024,4096,8192] [--batch 64] [--heads 32] [--kv-heads 8]\n"
          "                       [--head-dim 128] [--page-size 16] [--iterations 20] [--out FILE]\n");
      return 0;
    }
    if (i + 1 >= argc) {
      std::fprintf(stderr, "attention_bench: unknown or incomplete argument '%s'\n", flag.c_str());
      return 2;
    }
    const char* value = argv[++i];
    if (flag == "--contexts")
      o.contexts = bench::parse_int_list("attention_bench", flag, value);
    else if (flag == "--batch")
      o.batch = positive("--batch", value);
    else if (flag == "--heads")
      o.heads = positive("--heads", value);
    else if (flag == "--kv-heads")
      o.kv_heads = positive("--kv-heads", value);
    else if (flag == "--head-dim")
      o.head_dim = positive("--head-dim", value);
    else if (flag == "--page-size")
      o.page_size = positive("--page-size", value);
    else if (flag == "--iterations")
      o.iterations = positive("--iterations", value);
    else if (flag == "--out")
      o.out = value;
    else {
      std::fprintf(stderr, "attention_bench: unknown argument '%s'\n", flag.c_str());
      return 2;
    }
  }
  const hip::gpu_probe probe = bench::require_gpu_or_exit("attention_bench");
  try {
    const double copy = bench::measure_copy_bandwidth(std::size_t{1} << 30);
    std::ostringstream md;
    md << "## Paged-attention decode bandwidth\n\n"
       << "- Device: " << probe.description << "; kernels built for " << hip_build_target() << "\n"
       << "- Measured device copy bandwidth (read + write, 1 GiB device-to-device): " << copy << " GB/s\n"
       << "- Shape: batch " << o.batch << ", " << o.heads << " heads, " << o.kv_heads << " kv heads, head_dim "
       << o.head_dim << ", page size " << o.page_size << ", fp32 K/V, pages shuffled; one query per sequence; "
       << "split-K chunk " << hip::attention_chunk_keys() << " keys; mean of " << o.iterations << " calls\n\n"
       << "| context | ms per call | K/V GB/s | fraction of copy bandwidth |\n| ---: | ---: | ---: | ---: |\n";
    for (int context : o.contexts) {
      const result r = measure(o, context, copy);
      char line[160];
      std::snprintf(line, sizeof line, "| %d | %.3f | %.1f | %.1f%% |\n", r.context, r.ms, r.gb_per_s,
                    100.0 * r.fraction);
      md << line;
      std::fputs(line, stderr);  // progress
    }
    std::printf("%s", md.str().c_str());
    if (!o.out.empty()) {
      std::ofstream file(o.out);
      file << md.str();
      if (!file) {
        std::fprintf(stderr, "attention_bench: cannot write %s\n", o.out.c_str());
        return 1;
      }
    }
  } catch (const backend_error& e) {
    std::fprintf(stderr, "attention_bench: %s\n", e.what());
    return 1;
  }
  return 0;
}
