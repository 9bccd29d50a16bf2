// Structured output through the engine (issue 21): a constrained request samples exactly what
// greedy or seeded sampling on the grammar-masked logits gives, alone and among concurrent
// requests; it stops ("stop") when the grammar is complete and nothing can follow, and reports
// "length" when max_tokens cuts a document short. The reference here drives the backend
// directly and decides the allowed tokens by brute force (every token's bytes through a copy
// of the matcher), so neither the vocabulary trie nor the engine's mask is trusted.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>

#include <nlohmann/json.hpp>

#include "actors_test_support.hpp"
#include "device/cpu_backend.hpp"
#include "grammar/json_schema.hpp"
#include "grammar/output_constraint.hpp"

using namespace kvactor;
using namespace kvactor::actors_test;
using namespace std::chrono_literals;

namespace {

std::shared_ptr<const grammar::token_vocabulary> vocabulary() {
  static const auto v = grammar::vocabulary_of(*stories260k().tok);
  return v;
}

struct reference_run {
  std::vector<int32_t> tokens;
  std::string finish;  // "stop" | "length"
};

// The allowed set by definition: end tokens exactly when complete; any other token whose
// (non-empty) bytes the matcher takes.
std::vector<bool> allowed_by_definition(const grammar::grammar_matcher& m, const grammar::token_vocabulary& v,
                                        int vocab) {
  std::vector<bool> ok(static_cast<std::size_t>(vocab), false);
  for (int id = 0; id < vocab && id < static_cast<int>(v.bytes.size()); ++id) {
    const auto& ends = v.trie.end_tokens();
    if (std::find(ends.begin(), ends.end(), static_cast<uint32_t>(id)) != ends.end()) {
      ok[static_cast<std::size_t>(id)] = m.is_complete();
      continue;
    }
    const std::string& bytes = v.bytes[static_cast<std::size_t>(id)];
    if (bytes.empty()) continue;
    grammar::grammar_matcher copy = m;
    ok[static_cast<std::size_t>(id)] = copy.accept(bytes);
  }
  return ok;
}

reference_run constrained_reference(const std::vector<int32_t>& prompt, int max_tokens, const sampling_params& sampling,
                                    const std::shared_ptr<const grammar::output_constraint>& c) {
  const loaded_model& m = stories260k();
  const int ps = 16, max_seq = m.weights->config.max_seq_len, vocab = m.weights->config.vocab_size;
  auto be = make_cpu_backend(m.weights, kv_layout{ps, (max_seq + ps - 1) / ps}, 1);
  std::vector<int32_t> block_table;
  for (int p = 0; p < (max_seq + ps - 1) / ps; ++p) block_table.push_back(p);
  grammar::grammar_matcher matcher(c->rules);
  std::vector<int32_t> tokens = prompt;
  reference_run out;
  int32_t written = 0;
  std::vector<std::pair<float, int32_t>> scratch;
  while (true) {
    if (static_cast<int>(out.tokens.size()) >= max_tokens) return {out.tokens, "length"};
    sequence_step s;
    s.seq_id = 1;
    s.tokens.assign(tokens.begin() + written, tokens.end());
    s.start_pos = written;
    s.block_table = block_table;
    s.return_logits = true;  // unmasked: the mask is applied here
    auto r = be->step({s});
    written = static_cast<int32_t>(tokens.size());
    std::vector<float> logits = r.at(0).logits;
    const auto ok = allowed_by_definition(matcher, *c->vocabulary, vocab);
    for (int id = 0; id < vocab; ++id)
      if (!ok[static_cast<std::size_t>(id)])
        logits[static_cast<std::size_t>(id)] = -std::numeric_limits<float>::infinity();
    const int32_t t = sample_token(logits.data(), vocab, sampling, out.tokens.size(), scratch);
    const auto& ends = c->vocabulary->trie.end_tokens();
    if (std::find(ends.begin(), ends.end(), static_cast<uint32_t>(t)) != ends.end()) return {out.tokens, "stop"};
    REQUIRE(matcher.accept(c->vocabulary->bytes.at(static_cast<std::size_t>(t))));
    tokens.push_back(t);
    out.tokens.push_back(t);
    if (matcher.is_complete() && !matcher.can_continue()) return {out.tokens, "stop"};
  }
}

std::shared_ptr<const grammar::output_constraint> constraint(const std::string& gbnf) {
  return grammar::make_constraint(gbnf, vocabulary());
}

// A bounded schema: at most 8 characters of name (6 bytes each escaped) and 2 digits of age.
const char* person_schema =
    R"({"type":"object","properties":{"name":{"type":"string","maxLength":8},
        "age":{"type":"integer","minimum":0,"maximum":99}},"required":["name","age"]})";

struct ask {
  std::vector<int32_t> prompt;
  int max_tokens;
  sampling_params sampling;
  std::shared_ptr<const grammar::output_constraint> constraint;  // null: unconstrained
};

std::vector<ask> mixed_asks() {
  const auto prompts = test_prompts(8, true);
  const auto words = constraint(R"(root ::= (" " [a-z]+){1,6} ".")");
  const auto person = constraint(grammar::json_schema_to_gbnf(nlohmann::ordered_json::parse(person_schema)));
  const auto object = constraint(grammar::json_object_gbnf());
  // The schema is bounded, so its documents have at most `bound` bytes: with max_tokens = bound
  // (every token adds a byte) each one must close.
  const auto bound = grammar::max_text_bytes(*person->rules);
  REQUIRE(bound.has_value());
  CHECK(*bound <= 128u);
  std::vector<ask> out;
  for (int i = 0; i < 16; ++i) {
    ask a;
    a.prompt = prompts[static_cast<std::size_t>(i % 8)];
    a.max_tokens = i % 4 == 2 ? 10 : i % 4 == 1 ? static_cast<int>(*bound) : 80;
    if (i % 2 == 1) {
      a.sampling.temperature = 0.8f;
      a.sampling.seed = 77 + static_cast<uint64_t>(i);
    }
    a.constraint = i % 4 == 0 ? words : i % 4 == 1 ? person : i % 4 == 2 ? object : nullptr;
    out.push_back(a);
  }
  return out;
}

}  // namespace

TEST_CASE("structured output: constrained requests equal sampling on the masked logits, alone and concurrent") {
  const auto asks = mixed_asks();
  for (const bool concurrent : {false, true}) {
    CAPTURE(concurrent);
    auto engine = stories_engine(small_engine_config(256, 16));
    event_log log;
    std::vector<std::string> rids;
    for (std::size_t i = 0; i < asks.size(); ++i) {
      generation_request req;
      req.prompt = asks[i].prompt;
      req.max_tokens = asks[i].max_tokens;
      req.sampling = asks[i].sampling;
      req.constraint = asks[i].constraint;
      rids.push_back(engine->submit(req, log.callback()));
      if (!concurrent) REQUIRE(log.wait(i + 1, 60s));
    }
    REQUIRE(log.wait(asks.size(), 120s));
    auto out = log.outcomes();
    int constrained_stops = 0;
    for (std::size_t i = 0; i < asks.size(); ++i) {
      CAPTURE(i);
      const auto& o = out.at(rids[i]);
      REQUIRE(o.final_event.type == generation_event::kind::finished);
      if (!asks[i].constraint) {
        CHECK(o.tokens == reference_generate(stories260k(), asks[i].prompt, asks[i].max_tokens, asks[i].sampling));
        continue;
      }
      const reference_run ref =
          constrained_reference(asks[i].prompt, asks[i].max_tokens, asks[i].sampling, asks[i].constraint);
      CHECK(o.tokens == ref.tokens);
      CHECK(o.final_event.finish_reason == ref.finish);
      // The text is a prefix of a document, and exactly one when it stopped.
      grammar::grammar_matcher m(asks[i].constraint->rules);
      const std::string text = stories260k().tok->decode(o.tokens);
      std::string bytes;
      for (const int32_t t : o.tokens) bytes += vocabulary()->bytes.at(static_cast<std::size_t>(t));
      CHECK(m.accept(bytes));
      if (o.final_event.finish_reason == "stop") {
        ++constrained_stops;
        CHECK(m.is_complete());
      }
      if (asks[i].constraint->gbnf.find("name") != std::string::npos) {
        // The bounded schema always closes within its max_tokens: a JSON document with both fields.
        CHECK(o.final_event.finish_reason == "stop");
        const auto doc = nlohmann::json::parse(bytes, nullptr, false);
        REQUIRE(doc.is_object());
        CHECK(doc.at("name").is_string());
        CHECK(doc.at("name").get<std::string>().size() <= 8 * 4);
        CHECK(doc.at("age").is_number_integer());
        CHECK(doc.at("age").get<int>() >= 0);
        CHECK(doc.at("age").get<int>() <= 99);
      }
      if (asks[i].max_tokens == 10) CHECK(o.tokens.size() <= 10u);
    }
    CHECK(constrained_stops >= 4);
    CHECK(engine->wait_until_quiet(10s) == "");
    CHECK(engine->running_actors() == 5);
  }
}

TEST_CASE("structured output: a grammar no token can continue ends the request with a clear error, pages back") {
  // stories260K has byte tokens for every byte, so any text can be spelled: a vocabulary in
  // which only token 300 has text ("a") stands in for one that lacks what the grammar needs.
  std::vector<std::string> bytes(static_cast<std::size_t>(stories260k().tok->vocab_size()));
  bytes[300] = "a";
  auto narrow = std::make_shared<const grammar::token_vocabulary>(bytes, std::vector<uint32_t>{2});
  auto engine = stories_engine(small_engine_config(64, 16));
  event_log log;
  generation_request req;
  req.prompt = test_prompts(1, false)[0];
  req.max_tokens = 8;
  req.constraint = grammar::make_constraint("root ::= \"a\" \"b\"", narrow);
  const std::string rid = engine->submit(req, log.callback());
  REQUIRE(log.wait(1, 30s));
  const auto o = log.outcomes().at(rid);
  CHECK(o.tokens == std::vector<int32_t>{300});  // "a" was possible, "b" is not
  CHECK(o.final_event.type == generation_event::kind::error);
  CHECK(o.final_event.error == engine_errc::bad_request);
  CHECK(o.final_event.error_message.find("grammar cannot go on after 1 generated tokens") != std::string::npos);
  CHECK(engine->wait_until_quiet(10s) == "");
  CHECK(engine->running_actors() == 5);
}
