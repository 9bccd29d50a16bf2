// grammar_bench: the cost of a structured-output token mask per decode step, on real vocabularies.
//
//   grammar_bench [--quick] [--out FILE]
//
// For each vocabulary in ../shared/models/vocab (SentencePiece 32K, GPT-2 50K, Llama 3 128K,
// Qwen2 152K): build the byte trie of the token strings once, then walk a JSON document under
// a grammar (a JSON Schema's, and the generic json_object one). Each step computes the full mask
// (vocabulary_trie::fill_mask), then takes the longest allowed token that continues the document.
// A step's figure is the median of 5 repetitions; the table gives mean / median / p90 / max over
// the steps, the mean number of allowed tokens, and the matcher's accept() cost per token.
// "+ mask_cache": the same walk through a per-request mask_cache, each step timed once (a step
// whose state was seen earlier in the walk is a lookup; the copy of the mask is included).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "grammar/gbnf.hpp"
#include "grammar/json_schema.hpp"
#include "grammar/token_matcher.hpp"
#include "model/gguf_loader.hpp"
#include "model/tokenizer.hpp"

namespace {

using clock_type = std::chrono::steady_clock;
namespace g = kvactor::grammar;

double micros(clock_type::duration d) { return std::chrono::duration<double, std::micro>(d).count(); }

const char* document =
    R"({"name": "Ada Lovelace", "age": 36, "languages": ["English", "French"], "born": "1815-12-10", )"
    R"("notes": "wrote the first published algorithm for a machine", "active": false})";

const char* schema_text = R"({"type": "object", "properties": {
    "name": {"type": "string", "maxLength": 64}, "age": {"type": "integer", "minimum": 0, "maximum": 150},
    "languages": {"type": "array", "items": {"type": "string"}, "maxItems": 8},
    "born": {"type": "string", "format": "date"}, "notes": {"type": "string"}, "active": {"type": "boolean"}},
    "required": ["name", "age", "languages", "born", "notes", "active"]})";

struct walk_result {
  std::vector<double> mask_us;
  double accept_us = 0;
  double allowed_sum = 0;
  bool completed = false;
};

std::vector<std::string> token_bytes(const kvactor::tokenizer& tok) {
  const int32_t prev = tok.encode("x", false, false).back();
  std::vector<std::string> bytes(static_cast<std::size_t>(tok.vocab_size()));
  for (int32_t id = 0; id < tok.vocab_size(); ++id) bytes[static_cast<std::size_t>(id)] = tok.decode_piece(prev, id);
  return bytes;
}

// The longest allowed token continuing `rest` (a scan, outside the timed part).
int64_t pick(const g::token_mask& mask, const std::vector<std::string>& bytes, const std::string& rest) {
  int64_t best = -1;
  for (std::size_t id = 0; id < bytes.size(); ++id) {
    if (!mask.allowed(static_cast<uint32_t>(id)) || bytes[id].empty() ||
        rest.compare(0, bytes[id].size(), bytes[id]) != 0)
      continue;
    if (best < 0 || bytes[id].size() > bytes[static_cast<std::size_t>(best)].size()) best = static_cast<int64_t>(id);
  }
  return best;
}

walk_result walk(const g::vocabulary_trie& trie, const std::vector<std::string>& bytes,
                 const std::shared_ptr<const g::grammar>& grammar, int repeats, bool cached) {
  walk_result r;
  g::grammar_matcher m(grammar);
  g::token_mask mask;
  g::mask_cache cache;
  std::string rest = document;
  while (!rest.empty()) {
    std::vector<double> times;
    for (int i = 0; i < (cached ? 1 : repeats); ++i) {
      const auto t0 = clock_type::now();
      if (cached)
        mask = cache.mask_for(trie, m);
      else
        trie.fill_mask(m, mask);
      times.push_back(micros(clock_type::now() - t0));
    }
    std::sort(times.begin(), times.end());
    r.mask_us.push_back(times[times.size() / 2]);
    r.allowed_sum += static_cast<double>(mask.count());
    const int64_t id = pick(mask, bytes, rest);
    if (id < 0) break;
    const auto t0 = clock_type::now();
    if (!m.accept(bytes[static_cast<std::size_t>(id)])) break;
    r.accept_us += micros(clock_type::now() - t0);
    rest.erase(0, bytes[static_cast<std::size_t>(id)].size());
  }
  r.completed = rest.empty() && m.is_complete();
  return r;
}

std::string row(const std::string& vocab, std::size_t size, std::size_t nodes, double build_ms, const std::string& mode,
                const walk_result& w) {
  std::vector<double> s = w.mask_us;
  std::sort(s.begin(), s.end());
  double mean = 0;
  for (const double v : s) mean += v;
  const std::size_t n = s.size();
  mean /= static_cast<double>(n);
  char buf[512];
  std::snprintf(buf, sizeof buf, "| %s | %zu | %zu | %.1f | %s | %zu%s | %.1f | %.1f | %.1f | %.1f | %.0f | %.2f |",
                vocab.c_str(), size, nodes, build_ms, mode.c_str(), n, w.completed ? "" : " (stuck)", mean, s[n / 2],
                s[std::min(n - 1, n * 9 / 10)], s[n - 1], w.allowed_sum / static_cast<double>(n),
                w.accept_us / static_cast<double>(n));
  return buf;
}

}  // namespace

int main(int argc, char** argv) {
  bool quick = false;
  std::string out_path;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--quick")
      quick = true;
    else if (a == "--out" && i + 1 < argc)
      out_path = argv[++i];
    else {
      std::cerr << "usage: grammar_bench [--quick] [--out FILE]\n";
      return 2;
    }
  }
  const std::string dir = std::string(KVACTOR_MODELS_DIR) + "/vocab/";
  std::vector<std::string> vocabs{"ggml-vocab-llama-spm.gguf", "ggml-vocab-gpt-2.gguf", "ggml-vocab-llama-bpe.gguf",
                                  "ggml-vocab-qwen2.gguf"};
  if (quick) vocabs.resize(1);
  const auto schema_grammar =
      std::make_shared<g::grammar>(g::parse_gbnf(g::json_schema_to_gbnf(nlohmann::ordered_json::parse(schema_text))));
  const auto object_grammar = std::make_shared<g::grammar>(g::parse_gbnf(g::json_object_gbnf()));
  std::ostringstream table;
  table << "| vocabulary | tokens | trie nodes | trie build ms | grammar | steps | mask µs mean | median | p90 | max "
           "| allowed tokens (mean) | accept µs/token |\n|---|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|\n";
  for (const auto& file : vocabs) {
    const auto tok = kvactor::load_gguf_tokenizer(dir + file);
    const auto bytes = token_bytes(tok);
    const auto t0 = clock_type::now();
    const g::vocabulary_trie trie(bytes, {static_cast<uint32_t>(tok.eos_id())});
    const double build_ms = micros(clock_type::now() - t0) / 1000.0;
    for (const auto& [mode, grammar] :
         {std::pair{"json_schema", schema_grammar}, std::pair{"json_object", object_grammar}}) {
      for (const bool cached : {false, true}) {
        const auto w = walk(trie, bytes, grammar, quick ? 1 : 5, cached);
        table << row(file, bytes.size(), trie.node_count(), build_ms,
                     std::string(mode) + (cached ? " + mask_cache" : ""), w)
              << "\n";
      }
    }
  }
  std::cout << table.str();
  if (!out_path.empty()) {
    std::ofstream out(out_path);
    out << table.str();
  }
  return 0;
}
