// End-to-end GPU backend throughput: random-weight Llama models of about 110M and
// 1B parameters, `concurrency` sequences prefilled together (one step) and then
// decoded together, greedy. Reports prefill and decode tokens/s per concurrency.
// Prints Markdown; --out also writes it to a file.
//
//   hip_e2e_bench [--models 110m,1b] [--concurrency 1,2,4,8,16,32,64,128,256]
//                 [--dtype f32|f16|q8_0] [--prompt 128] [--decode 64] [--out FILE]
//
// Exits 77 with a "no GPU" message when no GPU is usable.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "bench/gpu_bench_common.hpp"
#include "device/hip/hip_backend.hpp"
#include "tests/device/random_weights.hpp"

namespace {

using namespace kvactor;
using clock_type = std::chrono::steady_clock;

struct model_choice {
  std::string name;
  testing::random_model_shape shape;
};

model_choice model_named(const std::string& name) {
  model_choice m{name, {}};
  testing::random_model_shape& s = m.shape;
  s.vocab_size = 32000;
  s.max_seq_len = 2048;
  s.seed = 1;
  if (name == "110m") {  // 12 x 768, MHA: ~110M parameters with the shared 32000-token embedding
    s.dim = 768;
    s.hidden_dim = 2048;
    s.n_layers = 12;
    s.n_heads = 12;
    s.n_kv_heads = 12;
  } else if (name == "1b") {  // TinyLlama-1.1B's shape: 22 x 2048, 32 heads over 4 kv heads
    s.dim = 2048;
    s.hidden_dim = 5632;
    s.n_layers = 22;
    s.n_heads = 32;
    s.n_kv_heads = 4;
    s.shared_classifier = false;
  } else {
    std::fprintf(stderr, "hip_e2e_bench: unknown model '%s' (known: 110m, 1b)\n", name.c_str());
    std::exit(2);
  }
  return m;
}

int64_t parameter_count(const model_config& c, bool shared) {
  const int64_t per_layer = 2LL * c.dim * c.dim + 2LL * c.kv_dim() * c.dim + 3LL * c.hidden_dim * c.dim + 2LL * c.dim;
  return per_layer * c.n_layers + static_cast<int64_t>(c.vocab_size) * c.dim * (shared ? 1 : 2) + c.dim;
}

struct measurement {
  int concurrency = 0;
  double prefill_tokens_per_s = 0, decode_tokens_per_s = 0, decode_ms_per_step = 0;
  hip_step_profile profiled;  // one more decode step, profiled (not part of the timings above)
};

// "name 41%, name 22%, name 9%": the largest kernels' shares of the kernel time.
std::string top_kernels(const hip_step_profile& p, std::size_t count) {
  std::vector<std::pair<std::string, double>> by_name = p.kernel_ms_by_name;
  std::sort(by_name.begin(), by_name.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
  std::string text;
  for (std::size_t i = 0; i < by_name.size() && i < count; ++i) {
    char part[96];
    std::snprintf(part, sizeof part, "%s%s %.0f%%", i ? ", " : "", by_name[i].first.c_str(),
                  p.kernel_ms > 0 ? 100.0 * by_name[i].second / p.kernel_ms : 0.0);
    text += part;
  }
  return text;
}

measurement run(const std::shared_ptr<const model_weights>& weights, int concurrency, int prompt, int decode) {
  // One position more than the timed run: the profiled step after it.
  const int page_size = 16, pages_per_seq = (prompt + decode + 1 + page_size - 1) / page_size;
  auto backend = make_hip_backend(weights, {page_size, pages_per_seq * concurrency});
  std::vector<sequence_step> steps(static_cast<std::size_t>(concurrency));
  for (int s = 0; s < concurrency; ++s) {
    sequence_step& st = steps[static_cast<std::size_t>(s)];
    st.seq_id = static_cast<uint64_t>(s);
    st.sample = true;
    for (int p = 0; p < pages_per_seq; ++p) st.block_table.push_back(s * pages_per_seq + p);
    st.tokens.push_back(1);
    for (int t = 1; t < prompt; ++t) st.tokens.push_back(3 + (s * 977 + t * 131) % 31000);
  }
  const auto t0 = clock_type::now();
  std::vector<sequence_result> results = backend->step(steps);
  const auto t1 = clock_type::now();
  for (int d = 0; d < decode; ++d) {
    for (int s = 0; s < concurrency; ++s) {
      sequence_step& st = steps[static_cast<std::size_t>(s)];
      st.start_pos = prompt + d;
      st.tokens = {results[static_cast<std::size_t>(s)].token};
    }
    results = backend->step(steps);
  }
  const auto t2 = clock_type::now();
  measurement m;
  set_hip_step_profiling(*backend, true);
  for (int s = 0; s < concurrency; ++s) {
    sequence_step& st = steps[static_cast<std::size_t>(s)];
    st.start_pos = prompt + decode;
    st.tokens = {results[static_cast<std::size_t>(s)].token};
  }
  backend->step(steps);
  m.profiled = last_hip_step_profile(*backend);
  m.concurrency = concurrency;
  m.prefill_tokens_per_s = static_cast<double>(concurrency) * prompt / std::chrono::duration<double>(t1 - t0).count();
  const double decode_s = std::chrono::duration<double>(t2 - t1).count();
  m.decode_tokens_per_s = static_cast<double>(concurrency) * decode / decode_s;
  m.decode_ms_per_step = decode_s * 1e3 / decode;
  return m;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> models{"110m", "1b"};
  std::vector<int> concurrency{1, 2, 4, 8, 16, 32, 64, 128, 256};
  dtype type = dtype::f16;
  int prompt = 128, decode = 64;
  std::string out;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--help" || flag == "-h") {
      std::printf(
          "usage: hip_e2e_bench [--models 110m,1b] [--concurrency 1,2,...,256] [--dtype f32|f16|q8_0]\n"
          "                     [--prompt 128] [--decode 64] [--out FILE]\n");
      return 0;
    }
    if (i + 1 >= argc) {
      std::fprintf(stderr, "hip_e2e_bench: unknown or incomplete argument '%s'\n", flag.c_str());
      return 2;
    }
    const std::string value = argv[++i];
    if (flag == "--models") {
      models.clear();
      std::stringstream list(value);
      for (std::string item; std::getline(list, item, ',');) models.push_back(item);
    } else if (flag == "--concurrency") {
      concurrency = bench::parse_int_list("hip_e2e_bench", flag, value);
    } else if (flag == "--dtype") {
      if (value == "f32")
        type = dtype::f32;
      else if (value == "f16")
        type = dtype::f16;
      else if (value == "q8_0")
        type = dtype::q8_0;
      else {
        std::fprintf(stderr, "hip_e2e_bench: --dtype must be f32, f16 or q8_0, got '%s'\n", value.c_str());
        return 2;
      }
    } else if (flag == "--prompt" || flag == "--decode") {
      (flag == "--prompt" ? prompt : decode) = bench::parse_positive_int("hip_e2e_bench", flag, value);
    } else if (flag == "--out") {
      out = value;
    } else {
      std::fprintf(stderr, "hip_e2e_bench: unknown argument '%s'\n", flag.c_str());
      return 2;
    }
  }
  std::vector<model_choice> chosen;
  for (const std::string& name : models) chosen.push_back(model_named(name));
  const hip::gpu_probe probe = bench::require_gpu_or_exit("hip_e2e_bench");
  std::ostringstream md;
  md << "## GPU backend end to end\n\n- Device: " << probe.description << "; kernels built for " << hip_build_target()
     << "\n- Each run: `concurrency` sequences prefill " << prompt << " tokens together in one step, then decode "
     << decode << " steps together (greedy, argmax on the device); page size 16; " << dtype_name(type)
     << " random weights, seed 1. Times include the host side of each step (index upload, result copy).\n"
     << "- Then one more decode step, profiled (device events around each launcher call, so not the step timed "
        "above): its wall time, the kernels' summed device time, the share of the step outside the kernels "
        "(1 - kernels / wall), the host time spent launching, and the kernels taking most of the kernel time.\n";
  try {
    for (model_choice& m : chosen) {
      m.shape.type = type;
      m.shape.max_seq_len = prompt + decode + 1;  // + the profiled step
      std::fprintf(stderr, "building the %s model...\n", m.name.c_str());
      const std::shared_ptr<const model_weights> weights = testing::make_random_model(m.shape);
      const model_config& c = weights->config;
      md << "\n### " << m.name << ": dim " << c.dim << ", hidden " << c.hidden_dim << ", " << c.n_layers << " layers, "
         << c.n_heads << " heads, " << c.n_kv_heads << " kv heads, vocab " << c.vocab_size << " ("
         << parameter_count(c, weights->shared_classifier) / 1e6 << "M parameters)\n\n"
         << "| concurrency | prefill tokens/s | decode tokens/s | decode ms/step | profiled step ms | kernels ms "
            "| outside kernels | launch (host) ms | largest kernels |\n"
            "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |\n";
      for (int n : concurrency) {
        const measurement r = run(weights, n, prompt, decode);
        const hip_step_profile& p = r.profiled;
        char line[512];
        std::snprintf(line, sizeof line, "| %d | %.1f | %.1f | %.2f | %.2f | %.2f | %.0f%% | %.2f | %s |\n",
                      r.concurrency, r.prefill_tokens_per_s, r.decode_tokens_per_s, r.decode_ms_per_step, p.wall_ms,
                      p.kernel_ms, p.wall_ms > 0 ? 100.0 * (1.0 - p.kernel_ms / p.wall_ms) : 0.0, p.enqueue_ms,
                      top_kernels(p, 3).c_str());
        md << line;
        std::fputs(line, stderr);
      }
    }
  } catch (const backend_error& e) {
    std::fprintf(stderr, "hip_e2e_bench: %s\n", e.what());
    return 1;
  }
  std::printf("%s", md.str().c_str());
  if (!out.empty()) {
    std::ofstream file(out);
    file << md.str();
    if (!file) {
      std::fprintf(stderr, "hip_e2e_bench: cannot write %s\n", out.c_str());
      return 1;
    }
  }
  return 0;
}
