// What this CPU can do at most, to compare the engine's kernels against:
//  - FMA peak: independent fused multiply-add chains in registers (AVX-512 and AVX2),
//    1 and N threads, GFLOP/s (2 FLOP per lane per FMA);
//  - memory read bandwidth: summing a buffer far larger than the caches (DRAM) and one
//    that fits the L3, 1 and N threads, GB/s;
//  - the engine's matmul kernel (device/cpu_matmul) on the stories15M shapes, one
//    thread, per ISA and token count: GFLOP/s and the share of the one-thread peak.
// Rates are per wall second; a second column per CPU second of the measuring threads
// shows how much a busy machine (other jobs on the same cores) took away.
//
//   cpu_peak_bench [--threads N] [--seconds S]
#include <immintrin.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "bench/bench_arguments.hpp"
#include "bench/machine_description.hpp"
#include "device/cpu_isa.hpp"
#include "device/cpu_matmul.hpp"
#include "tests/device/random_weights.hpp"

namespace {

using kvactor::bench::cpu_model_name;
using kvactor::bench::load_average;

double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

double wall_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// 12 independent accumulators: enough to cover FMA latency x throughput on current cores.
__attribute__((target("avx512f"), noinline)) float fma_loop_avx512(long iterations) {
  __m512 acc[12];
  for (int j = 0; j < 12; ++j) acc[j] = _mm512_set1_ps(static_cast<float>(j));
  const __m512 a = _mm512_set1_ps(0.999f), b = _mm512_set1_ps(1e-3f);
  for (long i = 0; i < iterations; ++i)
    for (int j = 0; j < 12; ++j) acc[j] = _mm512_fmadd_ps(acc[j], a, b);
  __m512 s = acc[0];
  for (int j = 1; j < 12; ++j) s = _mm512_add_ps(s, acc[j]);
  float lanes[16];
  _mm512_storeu_ps(lanes, s);
  return lanes[0];
}

__attribute__((target("avx2,fma"), noinline)) float fma_loop_avx2(long iterations) {
  __m256 acc[12];
  for (int j = 0; j < 12; ++j) acc[j] = _mm256_set1_ps(static_cast<float>(j));
  const __m256 a = _mm256_set1_ps(0.999f), b = _mm256_set1_ps(1e-3f);
  for (long i = 0; i < iterations; ++i)
    for (int j = 0; j < 12; ++j) acc[j] = _mm256_fmadd_ps(acc[j], a, b);
  __m256 s = acc[0];
  for (int j = 1; j < 12; ++j) s = _mm256_add_ps(s, acc[j]);
  float lanes[8];
  _mm256_storeu_ps(lanes, s);
  return lanes[0];
}

// Sum of a buffer with wide loads (the sum keeps the loads alive).
__attribute__((target("avx2"), noipa)) float read_sum(const float* p, std::size_t n) {
  __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
  for (std::size_t i = 0; i + 32 <= n; i += 32) {
    a0 = _mm256_add_ps(a0, _mm256_loadu_ps(p + i));
    a1 = _mm256_add_ps(a1, _mm256_loadu_ps(p + i + 8));
    a2 = _mm256_add_ps(a2, _mm256_loadu_ps(p + i + 16));
    a3 = _mm256_add_ps(a3, _mm256_loadu_ps(p + i + 24));
  }
  float lanes[8];
  _mm256_storeu_ps(lanes, _mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
  return lanes[0];
}

struct rate {
  double per_wall = 0;  // units per wall second, all threads together
  double per_cpu = 0;   // units per CPU second of the measuring threads
};

// Runs work(thread index) on `threads` threads at once; work returns its units done.
template <class Work>
rate run_threads(int threads, Work work) {
  std::vector<double> units(static_cast<std::size_t>(threads)), cpu(units.size());
  std::atomic<int> ready{0};
  std::vector<std::thread> pool;
  double start = 0;
  for (int t = 0; t < threads; ++t)
    pool.emplace_back([&, t] {
      ready.fetch_add(1);
      while (ready.load() < threads) {}
      const double c0 = thread_cpu_seconds();
      units[static_cast<std::size_t>(t)] = work(t);
      cpu[static_cast<std::size_t>(t)] = thread_cpu_seconds() - c0;
    });
  start = wall_seconds();
  for (auto& th : pool) th.join();
  const double wall = wall_seconds() - start;
  rate r;
  double total = 0, cpu_total = 0;
  for (std::size_t i = 0; i < units.size(); ++i) {
    total += units[i];
    cpu_total += cpu[i];
  }
  r.per_wall = total / wall;
  r.per_cpu = total / cpu_total * threads;  // as if every thread had had its core
  return r;
}

volatile float sink;

}  // namespace

int main(int argc, char** argv) {
  int threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  double seconds = 0.5;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--threads" && i + 1 < argc) {
      threads = kvactor::bench::parse_positive_int("cpu_peak_bench", flag, argv[++i], 1024);
    } else if (flag == "--seconds" && i + 1 < argc) {
      seconds = kvactor::bench::parse_positive_number("cpu_peak_bench", flag, argv[++i]);
    } else if (flag == "--help" || flag == "-h") {
      std::printf("usage: cpu_peak_bench [--threads N] [--seconds S]\n");
      return 0;
    } else {
      std::fprintf(stderr, "cpu_peak_bench: unknown or incomplete argument '%s'\n", flag.c_str());
      return 2;
    }
  }
  std::printf("# CPU peak\n\n- Machine: %s, %u hardware threads; load average at start %s\n\n",
              cpu_model_name().c_str(), std::thread::hardware_concurrency(), load_average().c_str());

  // FMA peak: calibrate iterations to about `seconds`.
  std::printf("| measure | threads | per wall second | per CPU second |\n| --- | ---: | ---: | ---: |\n");
  struct fma_kind {
    const char* name;
    kvactor::cpu_isa isa;
    float (*loop)(long);
    int lanes;
  };
  double peak_one_thread[3] = {0, 0, 0};
  for (const fma_kind& k : {fma_kind{"FMA peak avx512, GFLOP/s", kvactor::cpu_isa::avx512, fma_loop_avx512, 16},
                            fma_kind{"FMA peak avx2, GFLOP/s", kvactor::cpu_isa::avx2, fma_loop_avx2, 8}}) {
    if (!kvactor::cpu_supports(k.isa)) continue;
    const double t0 = wall_seconds();
    sink = k.loop(1 << 20);
    const double per_iteration = (wall_seconds() - t0) / (1 << 20);
    const long iterations = static_cast<long>(seconds / std::max(per_iteration, 1e-12));
    for (int t : {1, threads}) {
      const rate r = run_threads(t, [&](int) {
        sink = k.loop(iterations);
        return static_cast<double>(iterations) * 12 * k.lanes * 2;
      });
      if (t == 1) peak_one_thread[static_cast<int>(k.isa)] = r.per_cpu / 1e9;
      std::printf("| %s | %d | %.1f | %.1f |\n", k.name, t, r.per_wall / 1e9, r.per_cpu / 1e9);
      if (threads == 1) break;
    }
  }
  // Memory: DRAM-sized (256 MiB per thread) and L3-sized (8 MiB per thread) buffers.
  for (std::size_t mib : {256u, 8u}) {
    const std::size_t n = mib * (1u << 20) / sizeof(float);
    std::vector<std::vector<float>> buffers(static_cast<std::size_t>(threads), std::vector<float>(n, 1.0f));
    for (int t : {1, threads}) {
      const int passes = std::max(1, static_cast<int>(seconds * 20e9 / (n * 4.0)));
      const rate r = run_threads(t, [&](int i) {
        float s = 0;
        for (int p = 0; p < passes; ++p) s += read_sum(buffers[static_cast<std::size_t>(i)].data(), n);
        sink = s;
        return static_cast<double>(passes) * n * 4;
      });
      std::printf("| read bandwidth, %zu MiB buffer per thread, GB/s | %d | %.1f | %.1f |\n", mib, t, r.per_wall / 1e9,
                  r.per_cpu / 1e9);
      if (threads == 1) break;
    }
  }

  // The engine's kernel, one thread, stories15M shapes (layer and classifier).
  std::printf(
      "\n| kernel | weights | ISA | tokens | GFLOP/s (wall) | GFLOP/s (CPU) | share of 1-thread FMA peak |\n"
      "| --- | --- | --- | ---: | ---: | ---: | ---: |\n");
  kvactor::testing::weight_rng rng(5);
  struct shape {
    const char* name;
    int rows, cols;
  };
  for (const shape& s :
       {shape{"w1 768x288", 768, 288}, shape{"w2 288x768", 288, 768}, shape{"classifier 32000x288", 32000, 288}})
    for (kvactor::dtype type : {kvactor::dtype::f32, kvactor::dtype::q8_0}) {
      const kvactor::weight_matrix w = kvactor::testing::random_matrix(rng, s.rows, s.cols, 0.05f, type);
      for (kvactor::cpu_isa isa : {kvactor::cpu_isa::avx512, kvactor::cpu_isa::avx2, kvactor::cpu_isa::portable}) {
        if (!kvactor::cpu_supports(isa)) continue;
        for (int tokens : {1, 8, 32, 64}) {
          std::vector<float> x(static_cast<std::size_t>(tokens) * s.cols, 0.5f),
              y(static_cast<std::size_t>(tokens) * s.rows);
          const double flop_per_call = 2.0 * s.rows * s.cols * tokens;
          const int calls = std::max(1, static_cast<int>(seconds * 0.2 * 20e9 / flop_per_call));
          const rate r = run_threads(1, [&](int) {
            for (int c = 0; c < calls; ++c) kvactor::matmul_rows(isa, w, 0, s.rows, x.data(), tokens, y.data(), s.rows);
            return flop_per_call * calls;
          });
          const double peak =
              peak_one_thread[static_cast<int>(isa == kvactor::cpu_isa::portable ? kvactor::cpu_isa::avx2 : isa)];
          std::printf("| %s | %s | %s | %d | %.1f | %.1f | %.0f%% |\n", s.name, kvactor::dtype_name(type),
                      kvactor::cpu_isa_name(isa), tokens, r.per_wall / 1e9, r.per_cpu / 1e9,
                      peak > 0 ? 100.0 * r.per_cpu / 1e9 / peak : 0.0);
          std::fflush(stdout);
        }
      }
    }
  std::printf("\n- load average at end %s\n", load_average().c_str());
  return 0;
}
