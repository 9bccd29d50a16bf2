// The actor pipeline's own cost.
//  1. Null device (does no work): tokens/s through request -> scheduler -> device ->
//     back at concurrency 64: the ceiling the actors impose on any backend.
//  2. The stories15M shape (random weights, dim 288, hidden 768, 6 layers, 6 heads,
//     vocab 32000) on the CPU backend at batch 32: the share of each decode step
//     spent outside the device (between one step's end and the next one's start).
// Writes Markdown to bench/results/actors.md (or the path given with --out).
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <fstream>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "actors/engine_host.hpp"
#include "actors/null_backend.hpp"
#include "bench/machine_description.hpp"
#include "device/cpu_backend.hpp"
#include "tests/device/random_weights.hpp"

using namespace kvactor;
using clock_type = std::chrono::steady_clock;

namespace {

using kvactor::bench::cpu_model_name;
using kvactor::bench::load_average;

// Records when each step started and ended, and its shape.
struct step_record {
  clock_type::time_point start, end;
  std::size_t sequences = 0;
  std::size_t tokens = 0;
};

class timing_backend final : public backend {
 public:
  explicit timing_backend(std::unique_ptr<backend> inner) : inner_(std::move(inner)) {}
  std::string name() const override { return "timed(" + inner_->name() + ")"; }
  const model_config& config() const override { return inner_->config(); }
  kv_layout layout() const override { return inner_->layout(); }
  std::vector<sequence_result> step(const std::vector<sequence_step>& batch) override {
    step_record r;
    r.start = clock_type::now();
    auto out = inner_->step(batch);
    r.end = clock_type::now();
    r.sequences = batch.size();
    for (auto& s : batch) r.tokens += s.tokens.size();
    std::lock_guard<std::mutex> g(mutex_);
    records_.push_back(r);
    return out;
  }
  std::vector<step_record> records() {
    std::lock_guard<std::mutex> g(mutex_);
    return records_;
  }

 private:
  std::unique_ptr<backend> inner_;
  std::mutex mutex_;
  std::vector<step_record> records_;
};

struct run_result {
  double wall_s = 0;
  uint64_t tokens = 0;
  std::vector<step_record> steps;
};

// `concurrency` requests of `prompt_len` tokens generating `max_tokens` each, all at once.
run_result run_wave(engine_host& host, timing_backend& timed, int concurrency, int prompt_len, int max_tokens,
                    int vocab) {
  std::mutex m;
  std::condition_variable cv;
  int done = 0;
  std::atomic<uint64_t> tokens{0};
  auto t0 = clock_type::now();
  for (int i = 0; i < concurrency; ++i) {
    generation_request req;
    req.prompt.push_back(1);
    for (int t = 1; t < prompt_len; ++t) req.prompt.push_back(3 + (i * 977 + t * 131) % (vocab - 3));
    req.max_tokens = max_tokens;
    req.stop_at_eos = false;
    host.submit(req, [&](const generation_event& ev) {
      if (ev.type == generation_event::kind::token) {
        tokens.fetch_add(1, std::memory_order_relaxed);
        return;
      }
      std::lock_guard<std::mutex> g(m);
      ++done;
      cv.notify_all();
    });
  }
  {
    std::unique_lock<std::mutex> lock(m);
    cv.wait(lock, [&] { return done == concurrency; });
  }
  run_result r;
  r.wall_s = std::chrono::duration<double>(clock_type::now() - t0).count();
  r.tokens = tokens.load();
  r.steps = timed.records();
  return r;
}

engine_config bench_config(int num_pages, int max_batch) {
  engine_config cfg;
  cfg.page_size = 16;
  cfg.num_pages = num_pages;
  cfg.max_batch = max_batch;
  cfg.max_tokens_per_step = 4096;
  cfg.prefill_chunk = 512;
  cfg.queue_limit = 4096;
  return cfg;
}

// Decode steps with exactly `batch` sequences of one token: time inside the device
// vs the gap to the next step (the actors' share).
struct decode_split {
  std::size_t steps = 0;
  double device_ms = 0;
  double outside_ms = 0;
};

decode_split split_decode(const std::vector<step_record>& recs, std::size_t batch) {
  decode_split d;
  for (std::size_t i = 0; i + 1 < recs.size(); ++i) {
    auto& r = recs[i];
    if (r.sequences != batch || r.tokens != batch) continue;
    ++d.steps;
    d.device_ms += std::chrono::duration<double, std::milli>(r.end - r.start).count();
    d.outside_ms += std::chrono::duration<double, std::milli>(recs[i + 1].start - r.end).count();
  }
  return d;
}

}  // namespace

int main(int argc, char** argv) {
  std::string out_path = "bench/results/actors.md";
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--out" && i + 1 < argc) {
      out_path = argv[++i];
    } else if (a == "--help" || a == "-h") {
      std::printf("usage: actor_bench [--out FILE]   (default bench/results/actors.md)\n");
      return 0;
    } else {
      std::fprintf(stderr, "actor_bench: unknown argument '%s' (try --help)\n", a.c_str());
      return 2;
    }
  }
  std::ostringstream md;
  md << "# Actor pipeline benchmark (`bench/actor_bench.cpp`)\n\n"
     << "Machine: " << cpu_model_name() << ", " << std::thread::hardware_concurrency()
     << " hardware threads; 1-minute load average at start " << load_average()
     << " (other builds share this machine). Release build. CAF 0.17.6, default worker threads, the device "
        "actor detached on its own thread.\n\n";

  // 1. Null device at concurrency 64.
  {
    const int vocab = 32000, concurrency = 64, prompt_len = 16, max_tokens = 256;
    auto cfg = bench_config(4096, 64);
    auto timed_owner =
        std::make_unique<timing_backend>(make_null_backend(vocab, 2048, kv_layout{cfg.page_size, cfg.num_pages}));
    auto* timed = timed_owner.get();
    model_config mc = timed->config();
    engine_host host(cfg, mc, {2}, std::shared_ptr<backend>(std::move(timed_owner)));
    run_wave(host, *timed, 8, prompt_len, 16, vocab);  // warm-up
    auto before = timed->records().size();
    auto r = run_wave(host, *timed, concurrency, prompt_len, max_tokens, vocab);
    auto steps = r.steps.size() - before;
    std::vector<step_record> mine(r.steps.begin() + static_cast<std::ptrdiff_t>(before), r.steps.end());
    auto d = split_decode(mine, concurrency);
    md << "## Pipeline alone (null device)\n\n"
       << "| concurrency | tokens | wall s | tokens/s | steps | ms per step | of which outside the device |\n"
       << "|---|---|---|---|---|---|---|\n";
    char line[512];
    std::snprintf(line, sizeof line, "| %d | %llu | %.3f | %.0f | %zu | %.3f | %.3f |\n", concurrency,
                  static_cast<unsigned long long>(r.tokens), r.wall_s, r.tokens / r.wall_s, steps,
                  r.wall_s * 1000.0 / static_cast<double>(steps),
                  d.steps ? d.outside_ms / static_cast<double>(d.steps) : 0.0);
    md << line << "\n"
       << "Each step carries 64 sequences: 64 results out to request actors, 64 offers back, one batch "
          "message to the device and its reply.\n\n";
    std::printf("%s", line);
    host.shutdown(std::chrono::milliseconds(1000));
  }

  // 2. The stories15M shape at batch 32 on the CPU backend.
  {
    testing::random_model_shape shape = testing::stories15m_shape(15);
    std::shared_ptr<const model_weights> weights = testing::make_random_model(shape);
    const int batch = 32, prompt_len = 16, max_tokens = 48;
    auto cfg = bench_config(1024, batch);
    int threads = static_cast<int>(std::thread::hardware_concurrency());
    auto timed_owner =
        std::make_unique<timing_backend>(make_cpu_backend(weights, kv_layout{cfg.page_size, cfg.num_pages}, threads));
    auto* timed = timed_owner.get();
    engine_host host(cfg, weights->config, {2}, std::shared_ptr<backend>(std::move(timed_owner)));
    auto r = run_wave(host, *timed, batch, prompt_len, max_tokens, shape.vocab_size);
    auto d = split_decode(r.steps, batch);
    double share = d.outside_ms / (d.outside_ms + d.device_ms);
    char line[512];
    std::snprintf(line, sizeof line, "| %d | %zu | %.2f | %.3f | %.2f%% | %.1f |\n", batch, d.steps,
                  d.device_ms / static_cast<double>(d.steps), d.outside_ms / static_cast<double>(d.steps),
                  100.0 * share, r.tokens / r.wall_s);
    md << "## Share of a decode step outside the device (stories15M shape, CPU backend, " << threads << " threads)\n\n"
       << "| batch | decode steps | device ms/step | outside ms/step | outside share | tokens/s |\n"
       << "|---|---|---|---|---|---|\n"
       << line << "\n"
       << "Target: outside share under 5%. \"Outside\" is the gap between the end of one device step and "
          "the start of the next: results to 32 request actors, their token callbacks, page publishing "
          "and allocation, 32 offers back, batch formation, the message to the device thread.\n";
    std::printf("%s", line);
    host.shutdown(std::chrono::milliseconds(1000));
  }

  std::ofstream out(out_path);
  out << md.str();
  std::printf("wrote %s\n", out_path.c_str());
  return 0;
}
