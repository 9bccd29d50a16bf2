// CPU engine throughput: prefill and decode tokens/s at batch 1, 8 and 32 for a
// random-weight model of the stories15M shape (dim 288, hidden 768, 6 layers,
// 6 heads, vocab 32000, seq 256), f32 and q8_0. Writes Markdown (default
// bench/results/engine.md) describing the machine.
//
//   engine_bench [--quick] [--threads N] [--out FILE]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bench/bench_arguments.hpp"
#include "device/cpu_backend.hpp"
#include "device/cpu_isa.hpp"
#include "tests/device/random_weights.hpp"

namespace {

using clock_type = std::chrono::steady_clock;

struct measurement {
  std::string type;
  int threads = 0;
  int batch = 0;
  double prefill_tokens_per_s = 0;
  double decode_tokens_per_s = 0;
  double decode_ms_per_step = 0;
};

// The 1-minute load average: a busy machine (shared CI, parallel builds) slows
// every number here, so the report states it.
std::string load_average() {
  std::ifstream in("/proc/loadavg");
  std::string one;
  in >> one;
  return one.empty() ? "unknown" : one;
}

std::string cpu_model_name() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  return "unknown";
}

// B sequences, each prefilled with `prompt_len` tokens in one step, then decoded
// `decode_steps` times together (greedy), each in its own pages.
measurement run_case(const std::shared_ptr<const kvactor::model_weights>& weights, const char* type, int batch,
                     int prompt_len, int decode_steps, int threads) {
  const int page_size = 16;
  const int pages_per_seq = (prompt_len + decode_steps + page_size - 1) / page_size;
  auto engine = kvactor::make_cpu_backend(weights, {page_size, pages_per_seq * batch}, threads);
  std::vector<kvactor::sequence_step> steps(static_cast<std::size_t>(batch));
  for (int s = 0; s < batch; ++s) {
    auto& st = steps[static_cast<std::size_t>(s)];
    st.seq_id = static_cast<uint64_t>(s);
    st.sample = true;
    for (int p = 0; p < pages_per_seq; ++p) st.block_table.push_back(s * pages_per_seq + p);
    st.tokens.push_back(1);
    for (int t = 1; t < prompt_len; ++t) st.tokens.push_back(3 + (s * 977 + t * 131) % 31000);
  }
  const auto t0 = clock_type::now();
  std::vector<kvactor::sequence_result> results = engine->step(steps);
  const auto t1 = clock_type::now();
  for (int d = 0; d < decode_steps; ++d) {
    for (int s = 0; s < batch; ++s) {
      auto& st = steps[static_cast<std::size_t>(s)];
      st.start_pos = prompt_len + d;
      st.tokens = {results[static_cast<std::size_t>(s)].token};
    }
    results = engine->step(steps);
  }
  const auto t2 = clock_type::now();
  const double prefill_s = std::chrono::duration<double>(t1 - t0).count();
  const double decode_s = std::chrono::duration<double>(t2 - t1).count();
  measurement m;
  m.type = type;
  m.threads = threads;
  m.batch = batch;
  m.prefill_tokens_per_s = static_cast<double>(batch) * prompt_len / prefill_s;
  m.decode_tokens_per_s = static_cast<double>(batch) * decode_steps / decode_s;
  m.decode_ms_per_step = decode_s * 1e3 / decode_steps;
  return m;
}

}  // namespace

int main(int argc, char** argv) {
  bool quick = false;
  int threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  std::string out = std::string(KVACTOR_SOURCE_DIR) + "/bench/results/engine.md";
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--quick") {
      quick = true;
    } else if (flag == "--threads" && i + 1 < argc) {
      threads = kvactor::bench::parse_positive_int("engine_bench", flag, argv[++i], 1024);
    } else if (flag == "--out" && i + 1 < argc) {
      out = argv[++i];
    } else if (flag == "--help" || flag == "-h") {
      std::printf("usage: engine_bench [--quick] [--threads N] [--out FILE]\n");
      return 0;
    } else {
      std::fprintf(stderr, "engine_bench: unknown or incomplete argument '%s'\n", flag.c_str());
      return 2;
    }
  }
  const int prompt_len = quick ? 16 : 64;
  const int decode_steps = quick ? 4 : 32;

  kvactor::testing::random_model_shape shape = kvactor::testing::stories15m_shape(1);

  const std::string load_before = load_average();
  std::vector<measurement> results;
  // Each case runs `repeats` times on a fresh backend and keeps its best prefill and
  // best decode rate: on a shared machine the best run is the least disturbed one.
  const int repeats = quick ? 1 : 3;
  for (kvactor::dtype type : {kvactor::dtype::f32, kvactor::dtype::q8_0}) {
    shape.type = type;
    const std::shared_ptr<const kvactor::model_weights> weights = kvactor::testing::make_random_model(shape);
    std::vector<int> thread_counts = {threads};
    if (threads > 1 && type == kvactor::dtype::f32) thread_counts.insert(thread_counts.begin(), 1);
    for (int t : thread_counts)
      for (int batch : {1, 8, 32}) {
        measurement best;
        for (int r = 0; r < repeats; ++r) {
          const measurement m = run_case(weights, kvactor::dtype_name(type), batch, prompt_len, decode_steps, t);
          if (r == 0) best = m;
          best.prefill_tokens_per_s = std::max(best.prefill_tokens_per_s, m.prefill_tokens_per_s);
          if (m.decode_tokens_per_s > best.decode_tokens_per_s) {
            best.decode_tokens_per_s = m.decode_tokens_per_s;
            best.decode_ms_per_step = m.decode_ms_per_step;
          }
        }
        results.push_back(best);
        std::printf("%-5s threads %d batch %2d: prefill %8.1f tok/s, decode %8.1f tok/s (%.2f ms/step)\n",
                    best.type.c_str(), best.threads, best.batch, best.prefill_tokens_per_s, best.decode_tokens_per_s,
                    best.decode_ms_per_step);
        std::fflush(stdout);
      }
  }

  std::ostringstream md;
  md << "# CPU engine benchmark\n\n"
     << "Random-weight model of the stories15M shape (dim 288, hidden 768, 6 layers, 6 heads, 6 KV heads, "
        "vocab 32000, seq 256), seed 1, built in memory. `bench/engine_bench"
     << (quick ? " --quick" : "") << "`.\n\n"
     << "- Machine: " << cpu_model_name() << ", " << std::thread::hardware_concurrency()
     << " hardware threads; backend threads: " << threads << "; kernels: " << kvactor::cpu_isa_name(kvactor::cpu_isa_in_use())
     << "\n"
     << "- 1-minute load average before / after the run: " << load_before << " / " << load_average()
     << " (other jobs on the machine share its cores)\n"
     << "- Prefill: each of the batch's sequences prefills " << prompt_len
     << " tokens in one step (logits only for the last token). Decode: " << decode_steps
     << " steps of one token per sequence after the prompt, greedy; page size 16.\n"
     << "- Numerics are batch-invariant (one fixed dot-product order per output), which rules out "
        "activation quantisation and split reductions; q8_0 rows are dequantised exactly to f32.\n"
     << "- Each row is the best of " << repeats << " runs (fresh backend each).\n\n"
     << "| weights | threads | batch | prefill tokens/s | decode tokens/s | decode ms/step |\n"
     << "| --- | ---: | ---: | ---: | ---: | ---: |\n";
  md.setf(std::ios::fixed);
  md.precision(1);
  for (const measurement& m : results)
    md << "| " << m.type << " | " << m.threads << " | " << m.batch << " | " << m.prefill_tokens_per_s << " | " << m.decode_tokens_per_s
       << " | " << m.decode_ms_per_step << " |\n";
  std::ofstream file(out);
  file << md.str();
  if (!file) {
    std::fprintf(stderr, "engine_bench: cannot write %s\n", out.c_str());
    return 1;
  }
  std::printf("wrote %s\n", out.c_str());
  return 0;
}
