// Memory and time of loading a model: the file size against the process's resident
// memory after load, after the backend is made, and after a short greedy run
// (VmRSS split into RssFile, pages of mapped files: the GGUF's weights, also the
// program's own code as it first runs; the model file's mapping alone, from
// /proc/self/smaps; and RssAnon, memory of the process's own). GGUF weights are used in place from a
// read-only mapping, so after load RssAnon grows only by the converted norms,
// biases and the tokenizer, and RssFile by the pages actually read.
//
//   model_memory --model FILE [--tokenizer T] [--tokens N] [--threads N]
#include <sys/stat.h>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>

#include "bench/bench_arguments.hpp"
#include "device/cpu_backend.hpp"
#include "model/gguf_format.hpp"
#include "model/gguf_loader.hpp"
#include "model/gguf_reader.hpp"
#include "model/loader.hpp"

namespace {

struct rss {
  long total_kb = 0, file_kb = 0, anon_kb = 0, model_kb = 0;
};

// Resident kB of the mappings of `path` (/proc/self/smaps).
long mapped_resident_kb(const std::string& path) {
  std::ifstream in("/proc/self/smaps");
  long kb = 0;
  bool inside = false;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && std::isxdigit(static_cast<unsigned char>(line[0])) && line.find('-') < 16 &&
        line.find(' ') != std::string::npos)
      inside = line.size() >= path.size() && line.compare(line.size() - path.size(), path.size(), path) == 0;
    else if (inside && line.rfind("Rss:", 0) == 0)
      kb += std::stol(line.substr(4));
  }
  return kb;
}

rss read_rss(const std::string& model) {
  rss r;
  r.model_kb = mapped_resident_kb(model);
  std::ifstream in("/proc/self/status");
  for (std::string line; std::getline(in, line);) {
    const auto value = [&] { return std::stol(line.substr(line.find(':') + 1)); };
    if (line.rfind("VmRSS:", 0) == 0)
      r.total_kb = value();
    else if (line.rfind("RssFile:", 0) == 0)
      r.file_kb = value();
    else if (line.rfind("RssAnon:", 0) == 0)
      r.anon_kb = value();
  }
  return r;
}

void report(const char* when, const rss& r, const rss& base) {
  std::printf("| %s | %.1f | %.1f | %.1f | %.1f |\n", when, (r.total_kb - base.total_kb) / 1024.0,
              (r.file_kb - base.file_kb) / 1024.0, r.model_kb / 1024.0, (r.anon_kb - base.anon_kb) / 1024.0);
}

}  // namespace

int main(int argc, char** argv) {
  std::string model, tokenizer;
  int tokens = 16, threads = 2;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--model")
      model = argv[i + 1];
    else if (flag == "--tokenizer")
      tokenizer = argv[i + 1];
    else if (flag == "--tokens")
      tokens = kvactor::bench::parse_positive_int("model_memory", flag, argv[i + 1]);
    else if (flag == "--threads")
      threads = kvactor::bench::parse_positive_int("model_memory", flag, argv[i + 1]);
    else {
      std::fprintf(stderr, "model_memory: unknown flag '%s'\n", flag.c_str());
      return 2;
    }
  }
  if (model.empty() || argc % 2 == 0) {
    std::fprintf(stderr, "usage: model_memory --model FILE [--tokenizer T] [--tokens N] [--threads N]\n");
    return 2;
  }
  try {
    struct stat st {};
    if (::stat(model.c_str(), &st) != 0) throw kvactor::model_error(model + ": cannot stat");
    const rss base = read_rss(model);
    const auto t0 = std::chrono::steady_clock::now();
    const kvactor::loaded_model m = kvactor::load_model(model, tokenizer);
    const double load_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    const rss loaded = read_rss(model);
    const auto& c = m.weights->config;
    const int page = 16, pages = (c.max_seq_len < 256 ? c.max_seq_len : 256) / page + 1;
    auto cpu = kvactor::make_cpu_backend(m.weights, {page, pages}, threads);
    const rss made = read_rss(model);
    std::vector<int32_t> block_table(static_cast<std::size_t>(pages));
    for (int p = 0; p < pages; ++p) block_table[static_cast<std::size_t>(p)] = p;
    int32_t token = m.tok->bos_id();
    const int run = tokens < c.max_seq_len ? tokens : c.max_seq_len;
    for (int pos = 0; pos < run && pos < pages * page; ++pos) {
      kvactor::sequence_step s;
      s.seq_id = 1;
      s.tokens = {token};
      s.start_pos = pos;
      s.block_table = block_table;
      s.sample = true;
      token = cpu->step({s})[0].token;
    }
    const rss ran = read_rss(model);
    std::printf("model %s: %.1f MiB file, loaded in %.1f ms (dim %d, %d layers, vocab %d)\n", model.c_str(),
                static_cast<double>(st.st_size) / (1 << 20), load_ms, c.dim, c.n_layers, c.vocab_size);
    if (tokenizer.empty()) {  // GGUF: where the load time goes (after the load, so the page cache is warm)
      const auto since = [](std::chrono::steady_clock::time_point t) {
        return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t).count();
      };
      auto t = std::chrono::steady_clock::now();
      { const kvactor::gguf::reader header(model); }
      const double header_ms = since(t);
      t = std::chrono::steady_clock::now();
      { const kvactor::tokenizer tok = kvactor::load_gguf_tokenizer(model); }
      std::printf("of a load: header and metadata parse %.1f ms; header parse + tokenizer build %.1f ms\n", header_ms,
                  since(t));
    }
    std::printf("\n");
    std::printf(
        "| after | RSS growth MiB | file-backed growth | of it the model file's mapping | anonymous growth |\n"
        "|---|---|---|---|---|\n");
    report("load", loaded, base);
    report("backend made (KV store)", made, base);
    char label[64];
    std::snprintf(label, sizeof label, "%d greedy tokens", run);
    report(label, ran, base);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "model_memory: %s\n", e.what());
    return 1;
  }
  return 0;
}
