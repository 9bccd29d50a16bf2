// `kvactor generate`: one prompt, one sequence, straight on the CPU backend (no
// actors), streaming each token's text to stdout as it is produced.
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>
#include <vector>

#include "cli/command.hpp"
#include "device/cpu_backend.hpp"
#include "model/loader.hpp"

namespace {

const char* const usage_text =
    "usage: kvactor generate --model M [--tokenizer T] [--prompt P] [options]\n"
    "\n"
    "Generates a completion of the prompt with the CPU backend and prints it to stdout\n"
    "as it is produced (timing goes to stderr). Generation stops at BOS or EOS, after\n"
    "--max-tokens tokens, or at the model's context length.\n"
    "\n"
    "  --model M         model file: llama2.c checkpoint (.bin) or GGUF (.gguf)   (required)\n"
    "  --tokenizer T     llama2.c tokenizer.bin; required for .bin, ignored for GGUF\n"
    "  --prompt P        text to continue (default: empty, generate from BOS)\n"
    "  --max-tokens N    most tokens to generate, N >= 1 (default 128)\n"
    "  --temperature X   0 = greedy (default), else sample from softmax(logits / X)\n"
    "  --top-k K         sample only among the K most likely tokens (0 = all, default)\n"
    "  --top-p P         nucleus sampling: smallest set with mass >= P, 0 < P <= 1 (default 1)\n"
    "  --seed S          random seed for sampling, 0..2^64-1 (default 0); same seed, same text\n"
    "  --page-size N     tokens per KV page, N >= 1 (default 16)\n"
    "  --threads N       CPU threads, 0 = one per hardware thread (default 0)\n"
    "  --help            this text\n"
    "\n"
    "Flags take their value as the next argument or after '=' (--max-tokens=32).\n"
    "Exit status: 0 success, 1 the model could not be loaded or run, 2 bad arguments.\n";

struct generate_options {
  std::string model;
  std::string tokenizer;
  std::string prompt;
  long max_tokens = 128;
  kvactor::sampling_params sampling;
  long page_size = 16;
  long threads = 0;
};

struct usage_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

long parse_integer(const std::string& flag, const std::string& text, long min, long max) {
  char* end = nullptr;
  errno = 0;
  const long value = std::strtol(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || errno == ERANGE || value < min || value > max)
    throw usage_error(flag + " needs an integer in [" + std::to_string(min) + ", " + std::to_string(max) + "], got '" +
                      text + "'");
  return value;
}

float parse_float(const std::string& flag, const std::string& text, float min, float max, bool min_inclusive,
                  const char* range) {
  char* end = nullptr;
  const float value = std::strtof(text.c_str(), &end);
  const bool above = min_inclusive ? value >= min : value > min;
  if (text.empty() || *end != '\0' || !std::isfinite(value) || !above || value > max)
    throw usage_error(flag + " needs a number " + range + ", got '" + text + "'");
  return value;
}

uint64_t parse_seed(const std::string& text) {
  char* end = nullptr;
  errno = 0;
  const unsigned long long value = std::strtoull(text.c_str(), &end, 10);
  // strtoull skips leading space and accepts a sign, negating "-1" (or " -1") to
  // 2^64-1: only plain digits are a seed.
  if (text.empty() || !std::isdigit(static_cast<unsigned char>(text[0])) || *end != '\0' || errno == ERANGE)
    throw usage_error("--seed needs an integer in [0, 2^64), got '" + text + "'");
  return value;
}

// Returns false when --help was asked for.
bool parse_options(int argc, char** argv, generate_options& o) {
  bool have_model = false;
  for (int i = 1; i < argc; ++i) {
    std::string flag = argv[i], value;
    if (flag == "--help" || flag == "-h") return false;
    if (flag.rfind("--", 0) != 0) throw usage_error("unexpected argument '" + flag + "'");
    const auto eq = flag.find('=');
    if (eq != std::string::npos) {
      value = flag.substr(eq + 1);
      flag.resize(eq);
    } else {
      if (i + 1 >= argc) throw usage_error(flag + " needs a value");
      value = argv[++i];
    }
    if (flag == "--model") {
      o.model = value;
      have_model = true;
    } else if (flag == "--tokenizer") {
      o.tokenizer = value;
    } else if (flag == "--prompt") {
      o.prompt = value;
    } else if (flag == "--max-tokens") {
      o.max_tokens = parse_integer(flag, value, 1, 1L << 30);
    } else if (flag == "--temperature") {
      o.sampling.temperature = parse_float(flag, value, 0.0f, 1e6f, true, ">= 0");
    } else if (flag == "--top-k") {
      o.sampling.top_k = static_cast<int>(parse_integer(flag, value, 0, 1L << 30));
    } else if (flag == "--top-p") {
      o.sampling.top_p = parse_float(flag, value, 0.0f, 1.0f, false, "with 0 < P <= 1");
    } else if (flag == "--seed") {
      o.sampling.seed = parse_seed(value);
    } else if (flag == "--page-size") {
      o.page_size = parse_integer(flag, value, 1, 1 << 16);
    } else if (flag == "--threads") {
      o.threads = parse_integer(flag, value, 0, 1024);
    } else {
      throw usage_error("unknown flag '" + flag + "'");
    }
  }
  if (!have_model || o.model.empty()) throw usage_error("--model is required");
  return true;
}

// llama2.c's safe_printf: skip lone bytes that are control characters.
void print_piece(const std::string& piece) {
  if (piece.size() == 1 && !std::isprint(static_cast<unsigned char>(piece[0])) &&
      !std::isspace(static_cast<unsigned char>(piece[0])))
    return;
  std::fwrite(piece.data(), 1, piece.size(), stdout);
  std::fflush(stdout);
}

int run_generate(const generate_options& o) {
  const kvactor::loaded_model model = kvactor::load_model(o.model, o.tokenizer);
  const kvactor::model_config& config = model.weights->config;
  const auto page_size = static_cast<int>(o.page_size);
  const int pages = (config.max_seq_len + page_size - 1) / page_size;
  auto engine = kvactor::make_cpu_backend(model.weights, {page_size, pages}, static_cast<int>(o.threads));

  // BOS only where the vocabulary asks for it (Llama 2/3 yes, Qwen2 and GPT-2 no).
  std::vector<int32_t> tokens = model.tok->tokenize(o.prompt, true, false);
  if (tokens.empty()) {
    std::fprintf(stderr,
                 "kvactor generate: the prompt has no tokens (this model adds no BOS): give a non-empty --prompt\n");
    return 2;
  }
  if (static_cast<int>(tokens.size()) >= config.max_seq_len) {
    std::fprintf(stderr, "kvactor generate: the prompt is %zu tokens; the model's context is %d\n", tokens.size(),
                 config.max_seq_len);
    return 1;
  }
  kvactor::sequence_step step;
  step.seq_id = 1;
  step.sample = true;
  step.sampling = o.sampling;
  for (int p = 0; p < pages; ++p) step.block_table.push_back(p);  // pages in order: one sequence owns them all
  step.tokens = tokens;                                           // the whole prompt in one prefill step

  const auto start = std::chrono::steady_clock::now();
  double first_token_s = 0;
  long generated = 0;
  while (generated < o.max_tokens) {
    const int32_t next = engine->step({step})[0].token;
    if (generated == 0) first_token_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    ++generated;
    if (next == model.tok->bos_id() || next == model.tok->eos_id()) break;
    print_piece(model.tok->decode_piece(tokens.back(), next));
    tokens.push_back(next);
    if (static_cast<int>(tokens.size()) >= config.max_seq_len) break;
    step.start_pos = static_cast<int32_t>(tokens.size()) - 1;
    step.tokens = {next};
    step.sample_index = static_cast<uint64_t>(generated);
  }
  std::printf("\n");
  const double total_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::fprintf(stderr, "[%ld tokens; first token %.1f ms; %.1f tokens/s after it]\n", generated, first_token_s * 1e3,
               generated > 1 ? static_cast<double>(generated - 1) / (total_s - first_token_s) : 0.0);
  return 0;
}

int generate_main(int argc, char** argv) {
  generate_options options;
  try {
    if (!parse_options(argc, argv, options)) {
      std::fputs(usage_text, stdout);
      return 0;
    }
  } catch (const usage_error& e) {
    std::fprintf(stderr, "kvactor generate: %s\n(see kvactor generate --help)\n", e.what());
    return 2;
  }
  try {
    return run_generate(options);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "kvactor generate: %s\n", e.what());
    return 1;
  }
}

const kvactor::cli::register_command registration("generate",
                                                  {"generate a completion of a prompt (CPU backend)", generate_main});

}  // namespace
