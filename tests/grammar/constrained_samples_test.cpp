// Property: every document generated under a JSON grammar is valid JSON (and valid under its schema).
// Generation here is a random model's: random logits over stories260K's real 512-token vocabulary,
// masked by the grammar (vocabulary_trie), then a sample; structural tokens get a bias so documents
// close. Every corpus schema with examples, plus json_object mode, gets samples; Python's json module
// (and jsonschema, when installed) is the oracle (validate_samples.py).
#include <doctest/doctest.h>

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "grammar/gbnf.hpp"
#include "grammar/json_schema.hpp"
#include "grammar/token_matcher.hpp"
#include "model/tokenizer.hpp"

using namespace kvactor::grammar;
using ordered_json = nlohmann::ordered_json;

namespace {

struct sampler {
  std::vector<std::string> bytes;
  std::vector<float> bias;
  uint32_t eos = 0;
};

sampler stories_vocabulary() {
  const auto tok = kvactor::tokenizer::load_llama2c(std::string(KVACTOR_MODELS_DIR) + "/tok512.bin", 512);
  sampler s;
  const int32_t prev = tok.encode("x", false, false).back();
  for (int32_t id = 0; id < tok.vocab_size(); ++id) {
    s.bytes.push_back(tok.decode_piece(prev, id));
    const bool structural = s.bytes.back().find_first_of("\"}],") != std::string::npos;
    s.bias.push_back(structural ? 4.0f : 0.0f);
  }
  s.eos = static_cast<uint32_t>(tok.eos_id());
  return s;
}

// One document: argmax of (random logit + bias) over the allowed tokens, up to max_tokens.
std::pair<std::string, bool> generate(const sampler& s, const vocabulary_trie& trie,
                                      const std::shared_ptr<const grammar>& g, std::mt19937& rng, int max_tokens) {
  grammar_matcher m(g);
  mask_cache cache;
  std::normal_distribution<float> noise(0.0f, 1.0f);
  std::string out;
  for (int step = 0; step < max_tokens; ++step) {
    const token_mask& mask = cache.mask_for(trie, m);
    int64_t best = -1;
    float best_logit = -INFINITY;
    for (uint32_t id = 0; id < s.bytes.size(); ++id) {
      const float logit = noise(rng) + s.bias[id] + (id == s.eos ? 2.0f : 0.0f);
      if (mask.allowed(id) && logit > best_logit) best = id, best_logit = logit;
    }
    REQUIRE(best >= 0);  // a live grammar state always allows a token or EOS
    if (static_cast<uint32_t>(best) == s.eos) return {out, true};
    REQUIRE(m.accept(s.bytes[static_cast<std::size_t>(best)]));
    out += s.bytes[static_cast<std::size_t>(best)];
    if (!m.can_continue()) return {out, true};  // complete and nothing may follow: stop
  }
  return {out, false};
}

}  // namespace

TEST_CASE("every constrained sample parses, and satisfies its schema (Python's json and jsonschema as oracle)") {
  const sampler s = stories_vocabulary();
  const vocabulary_trie trie(s.bytes, {s.eos});
  std::ifstream in(KVACTOR_SCHEMA_CORPUS);
  REQUIRE(in.good());
  const auto corpus = ordered_json::parse(in);
  std::vector<std::pair<ordered_json, std::string>> cases{{nullptr, json_object_gbnf()}};
  for (const auto& entry : corpus)
    if (!entry.contains("error")) cases.emplace_back(entry["schema"], json_schema_to_gbnf(entry["schema"]));
  // Written outside the source tree (a run from the checkout must not leave a file in it).
  const std::string path = (std::filesystem::temp_directory_path() /
                            ("kvactor-constrained-samples-" + std::to_string(::getpid()) + ".jsonl"))
                               .string();
  std::ofstream out(path);
  std::mt19937 rng(2026);
  int complete = 0, total = 0;
  for (const auto& [schema, text] : cases) {
    const auto g = std::make_shared<grammar>(parse_gbnf(text));
    const auto bound = longest_match_bytes(*g);
    for (int i = 0; i < 12; ++i) {
      const auto [doc, done] = generate(s, trie, g, rng, 256);
      if (bound) CHECK(doc.size() <= *bound);
      // A complete document must be whole UTF-8 (strict dump throws otherwise); a cut one may end mid-character.
      const auto handler = done ? ordered_json::error_handler_t::strict : ordered_json::error_handler_t::replace;
      out << ordered_json{{"schema", schema}, {"document", doc}, {"complete", done}}.dump(-1, ' ', false, handler)
          << "\n";
      complete += done;
      ++total;
    }
  }
  out.close();
  MESSAGE(complete << " of " << total << " samples completed within 256 tokens");
  CHECK(complete * 10 >= total * 8);
  const std::string command = std::string(KVACTOR_PYTHON) + " " + KVACTOR_SAMPLE_ORACLE + " " + path;
  FILE* pipe = popen(command.c_str(), "r");
  REQUIRE(pipe != nullptr);
  std::string report;
  char buf[512];
  while (std::fgets(buf, sizeof buf, pipe)) report += buf;
  const int rc = pclose(pipe);
  CAPTURE(report);
  CHECK(rc == 0);
  CHECK(report.find("checked " + std::to_string(complete) + " documents") != std::string::npos);
  std::filesystem::remove(path);
  MESSAGE(report);
}
