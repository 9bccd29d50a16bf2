// Body -> typed call or typed error, without a socket.
#include <doctest/doctest.h>

#include <algorithm>
#include <set>

#include "http/request_parsing.hpp"
#include "http/seed_choice.hpp"
#include "model/tokenizer.hpp"

using namespace kvactor::http;

namespace {

const kvactor::tokenizer& tok512() {
  static const auto t = kvactor::tokenizer::load_llama2c(std::string(KVACTOR_MODELS_DIR) + "/tok512.bin", 512);
  return t;
}

prompt_limits limits() {
  prompt_limits l;
  l.vocab_size = 512;
  l.max_seq_len = 64;
  l.default_max_tokens = 8;
  l.body_limit = 4096;
  l.encode = [](const std::string& s) { return tok512().encode(s, true, false); };
  l.decode = [](const std::vector<int32_t>& ids) { return tok512().decode(ids); };
  return l;
}

template <class T>
api_error error_of(const parse_result<T>& r) {
  REQUIRE(std::holds_alternative<api_error>(r));
  return std::get<api_error>(r);
}

api_error gen_error(const std::string& body) { return error_of(parse_generate(body, limits())); }
api_error cmpl_error(const std::string& body) { return error_of(parse_completion(body, limits())); }

}  // namespace

TEST_CASE("generate: text prompt with sampling params") {
  auto r = parse_generate(
      R"({"text":"Once upon a time","sampling_params":{"max_completion_tokens":5,"temperature":0.5,"top_k":3,"top_p":0.9,"seed":7},"rid":"a","stream":true,"return_input_ids":true})",
      limits());
  REQUIRE(std::holds_alternative<generate_call>(r));
  const auto& c = std::get<generate_call>(r);
  CHECK_FALSE(c.batch);
  REQUIRE(c.prompts.size() == 1);
  CHECK(c.prompts[0].ids == std::vector<int32_t>{1, 403, 407, 261, 378});
  CHECK(c.params[0].max_tokens == 5);
  CHECK(c.params[0].sampling.temperature == doctest::Approx(0.5));
  CHECK(c.params[0].sampling.top_k == 3);
  CHECK(c.params[0].sampling.seed == 7);
  CHECK(c.rids[0] == "a");
  CHECK(c.stream);
  CHECK(c.return_input_ids);
}

TEST_CASE("generate: batches of text and of input_ids") {
  auto r = parse_generate(
      R"({"text":["a","b","c"],"rid":"x","sampling_params":[{"max_completion_tokens":1},{},{"seed":3}]})", limits());
  REQUIRE(std::holds_alternative<generate_call>(r));
  const auto& c = std::get<generate_call>(r);
  CHECK(c.batch);
  CHECK(c.prompts.size() == 3);
  CHECK(c.rids == std::vector<std::string>{"x-0", "x-1", "x-2"});
  CHECK(c.params[0].max_tokens == 1);
  CHECK(c.params[1].max_tokens == 8);  // the default
  CHECK(c.params[2].sampling.seed == 3);

  auto ids = parse_generate(R"({"input_ids":[[1,403],[1,407,261]]})", limits());
  REQUIRE(std::holds_alternative<generate_call>(ids));
  CHECK(std::get<generate_call>(ids).prompts[1].ids == std::vector<int32_t>{1, 407, 261});
  CHECK(std::get<generate_call>(ids).prompts[0].text == "Once");
}

TEST_CASE("generate: every bad input is a typed 4xx") {
  CHECK(gen_error("{not json").code == "INVALID_JSON");
  CHECK(gen_error("[1,2]").code == "INVALID_JSON");
  CHECK(gen_error(R"({"text":"a","input_ids":[1]})").code == "CONFLICTING_FIELDS");
  CHECK(gen_error(R"({"sampling_params":{}})").code == "MISSING_FIELD");
  CHECK(gen_error(R"({"text":5})").code == "INVALID_TYPE");
  CHECK(gen_error(R"({"text":["a",5]})").code == "INVALID_TYPE");
  CHECK(gen_error(R"({"text":[]})").code == "OUT_OF_RANGE");
  CHECK(gen_error(R"({"input_ids":[1,"x"]})").code == "INVALID_TYPE");
  CHECK(gen_error(R"({"input_ids":[1,2.5]})").code == "INVALID_TYPE");
  CHECK(gen_error(R"({"input_ids":[]})").code == "OUT_OF_RANGE");
  CHECK(gen_error(R"({"input_ids":[1,512]})").code == "TOKEN_OUT_OF_VOCABULARY");
  CHECK(gen_error(R"({"input_ids":[-1]})").code == "TOKEN_OUT_OF_VOCABULARY");
  CHECK(gen_error(R"({"input_ids":[[1],[99999999999]]})").code == "TOKEN_OUT_OF_VOCABULARY");
  CHECK(gen_error(R"({"text":"a","sampling_params":{"temperature":"hot"}})").code == "INVALID_TYPE");
  CHECK(gen_error(R"({"text":"a","sampling_params":{"temperature":-1}})").code == "OUT_OF_RANGE");
  CHECK(gen_error(R"({"text":"a","sampling_params":{"top_p":0}})").code == "OUT_OF_RANGE");
  CHECK(gen_error(R"({"text":"a","sampling_params":{"top_p":1.5}})").code == "OUT_OF_RANGE");
  CHECK(gen_error(R"({"text":"a","sampling_params":{"top_k":-2}})").code == "OUT_OF_RANGE");
  CHECK(gen_error(R"({"text":"a","sampling_params":{"max_completion_tokens":0}})").code == "OUT_OF_RANGE");
  CHECK(gen_error(R"({"text":"a","sampling_params":{"max_completion_tokens":1.5}})").code == "INVALID_TYPE");
  CHECK(gen_error(R"({"text":"a","sampling_params":{"seed":-3}})").code == "OUT_OF_RANGE");
  CHECK(gen_error(R"({"text":"a","sampling_params":5})").code == "INVALID_TYPE");
  CHECK(gen_error(R"({"text":["a","b"],"sampling_params":[{}]})").code == "OUT_OF_RANGE");
  CHECK(gen_error(R"({"text":"a","stream":"yes"})").code == "INVALID_TYPE");
  CHECK(gen_error(R"({"text":"a","rid":7})").code == "INVALID_TYPE");
  CHECK(gen_error(R"({"text":["a","b"],"rid":["x"]})").code == "OUT_OF_RANGE");
  // Messages name the field.
  CHECK(gen_error(R"({"text":"a","sampling_params":{"top_p":2}})").message.find("sampling_params.top_p") !=
        std::string::npos);
}

TEST_CASE("generate: prompts must fit the context") {
  std::string ids = "[1";
  for (int i = 0; i < 63; ++i) ids += ",400";
  ids += "]";
  auto e = gen_error(R"({"input_ids":)" + ids + "}");  // 64 tokens, context 64
  CHECK(e.code == "context_length_exceeded");
  CHECK(e.status == 400);
  // Prompt fits but not with the requested completion.
  CHECK(gen_error(R"({"text":"a","sampling_params":{"max_completion_tokens":65}})").code == "OUT_OF_RANGE");
  CHECK(gen_error(R"({"input_ids":[1,400],"sampling_params":{"max_completion_tokens":63}})").code ==
        "context_length_exceeded");
  CHECK(std::holds_alternative<generate_call>(
      parse_generate(R"({"input_ids":[1,400],"sampling_params":{"max_completion_tokens":62}})", limits())));
}

TEST_CASE("body limit and invalid UTF-8") {
  const std::string big = R"({"text":")" + std::string(5000, 'a') + R"("})";
  auto e = gen_error(big);
  CHECK(e.status == 413);
  CHECK(e.code == "BODY_TOO_LARGE");
  CHECK(gen_error("{\"text\":\"caf\xC3\"}").code == "INVALID_UTF8");
  CHECK(cmpl_error("{\"prompt\":\"\xFF\xFE\"}").code == "INVALID_UTF8");
  CHECK(gen_error("{\"text\":\"\xED\xA0\x80\"}").code == "INVALID_UTF8");  // a surrogate
  // Escaped non-ASCII is fine.
  CHECK(std::holds_alternative<generate_call>(parse_generate(R"({"text":"caf\u00e9"})", limits())));
}

TEST_CASE("completions: prompt forms, stop, and OpenAI defaults") {
  auto r = parse_completion(
      R"({"model":"m","prompt":"Once","max_tokens":4,"temperature":0,"seed":1,"stop":["\n","."],"stream":true,"stream_options":{"include_usage":true}})",
      limits());
  REQUIRE(std::holds_alternative<completion_call>(r));
  const auto& c = std::get<completion_call>(r);
  CHECK(c.model == "m");
  CHECK(c.params.max_tokens == 4);
  CHECK(c.params.sampling.greedy());
  CHECK(c.stop == std::vector<std::string>{"\n", "."});
  CHECK(c.stream);
  CHECK(c.stream_usage);

  auto ids = parse_completion(R"({"prompt":[1,403,407]})", limits());
  REQUIRE(std::holds_alternative<completion_call>(ids));
  CHECK(std::get<completion_call>(ids).prompts.size() == 1);
  CHECK(std::get<completion_call>(ids).prompts[0].ids == std::vector<int32_t>{1, 403, 407});
  CHECK(std::get<completion_call>(ids).params.sampling.temperature == doctest::Approx(1.0));  // OpenAI's default

  auto list = parse_completion(R"({"prompt":["a","b",[1,2,3]],"stop":"x"})", limits());
  REQUIRE(std::holds_alternative<completion_call>(list));
  CHECK(std::get<completion_call>(list).prompts.size() == 3);
  CHECK(std::get<completion_call>(list).stop == std::vector<std::string>{"x"});
}

TEST_CASE("completions: bad input") {
  CHECK(cmpl_error(R"({})").code == "MISSING_FIELD");
  CHECK(cmpl_error(R"({"prompt":5})").code == "INVALID_TYPE");
  CHECK(cmpl_error(R"({"prompt":[]})").code == "OUT_OF_RANGE");
  CHECK(cmpl_error(R"({"prompt":[1,600]})").code == "TOKEN_OUT_OF_VOCABULARY");
  CHECK(cmpl_error(R"({"prompt":"a","model":3})").code == "INVALID_TYPE");
  CHECK(cmpl_error(R"({"prompt":"a","max_tokens":0})").code == "OUT_OF_RANGE");
  CHECK(cmpl_error(R"({"prompt":"a","max_tokens":"5"})").code == "INVALID_TYPE");
  CHECK(cmpl_error(R"({"prompt":"a","temperature":3})").code == "OUT_OF_RANGE");
  CHECK(cmpl_error(R"({"prompt":"a","stop":["a","b","c","d","e"]})").code == "OUT_OF_RANGE");
  CHECK(cmpl_error(R"({"prompt":"a","stop":[""]})").code == "OUT_OF_RANGE");
  CHECK(cmpl_error(R"({"prompt":"a","stop":[1]})").code == "INVALID_TYPE");
  CHECK(cmpl_error(R"({"prompt":"a","n":0})").code == "OUT_OF_RANGE");
  CHECK(cmpl_error(R"({"prompt":"a","echo":1})").code == "INVALID_TYPE");
  CHECK(cmpl_error(R"({"prompt":"a","stream_options":1})").code == "INVALID_TYPE");
  // stream_options only with stream: true (as OpenAI), and only include_usage in it.
  const auto no_stream = cmpl_error(R"({"prompt":"a","stream_options":{"include_usage":true}})");
  CHECK(no_stream.code == "INVALID_TYPE");
  CHECK(no_stream.message.find("only allowed when stream is true") != std::string::npos);
  CHECK(cmpl_error(R"({"prompt":"a","stream":true,"stream_options":{"usage":true}})").code == "UNSUPPORTED_FIELD");
  CHECK(std::holds_alternative<completion_call>(
      parse_completion(R"({"prompt":"a","stream":false,"stream_options":null})", limits())));
  CHECK(cmpl_error(R"({"prompt":[1,2,3,4],"max_tokens":61})").code == "context_length_exceeded");
}

TEST_CASE("a text prompt too long for any tokenization is refused before it is encoded") {
  const int max_piece = tok512().max_piece_length();
  REQUIRE(max_piece > 0);
  prompt_limits l = limits();
  l.body_limit = 1 << 20;
  l.max_prompt_tokens = 40;
  l.max_bytes_per_token = static_cast<std::size_t>(std::max(max_piece, 4));
  int encodes = 0;
  l.encode = [&encodes](const std::string& s) {
    ++encodes;
    return tok512().encode(s, true, false);
  };
  const std::size_t per_token = l.max_bytes_per_token;

  // One byte past what 40 tokens can cover: refused as too long, the tokenizer never ran.
  const std::string over(per_token * 41, 'a');
  auto e = error_of(parse_completion(R"({"prompt":")" + over + R"(","max_tokens":1})", l));
  CHECK(e.status == 400);
  CHECK(e.code == "PROMPT_TOO_LONG");
  CHECK(e.message.find("bytes of text") != std::string::npos);
  CHECK(encodes == 0);

  // Past the context (64) but under the prompt limit: the context error, still unencoded.
  l.max_prompt_tokens = 1000;
  const std::string past_context(per_token * 65, 'a');
  e = error_of(parse_completion(R"({"prompt":")" + past_context + R"(","max_tokens":1})", l));
  CHECK(e.code == "context_length_exceeded");
  CHECK(encodes == 0);

  // At the bound the text is encoded and judged by its real token count ("a" * n packs into
  // few long pieces, so it fits): the pre-check never refuses a prompt that would fit.
  l.max_prompt_tokens = 40;
  const std::string short_text(per_token * 4, 'a');
  auto ok = parse_completion(R"({"prompt":")" + short_text + R"(","max_tokens":1})", l);
  CHECK(encodes == 1);
  CHECK(std::holds_alternative<completion_call>(ok));
}

TEST_CASE("seeds: a sampled request without a seed gets a fresh one; given seeds and greedy ones stay") {
  auto r = parse_generate(
      R"({"text":["a","b","c","d"],"sampling_params":[{"temperature":0.7},{"temperature":0.7,"seed":0},{},{"temperature":0.7}]})",
      limits());
  REQUIRE(std::holds_alternative<generate_call>(r));
  auto params = std::get<generate_call>(r).params;
  CHECK_FALSE(params[0].seed_given);
  CHECK(params[1].seed_given);  // 0 given on purpose is kept
  CHECK_FALSE(params[2].seed_given);
  uint64_t next = 41;
  choose_seeds(params, [&next] { return ++next; });
  CHECK(params[0].sampling.seed == 42);
  CHECK(params[0].seed_given);
  CHECK(params[1].sampling.seed == 0);
  CHECK(params[2].sampling.seed == 0);  // greedy: no seed needed
  CHECK_FALSE(params[2].seed_given);
  CHECK(params[3].sampling.seed == 43);  // each request its own

  auto c = parse_completion(R"({"prompt":"a"})", limits());  // OpenAI's default temperature is 1
  REQUIRE(std::holds_alternative<completion_call>(c));
  CHECK_FALSE(std::get<completion_call>(c).params.seed_given);
  auto seeded = parse_completion(R"({"prompt":"a","seed":9})", limits());
  CHECK(std::get<completion_call>(seeded).params.seed_given);
}

TEST_CASE("seeds: fresh_seed does not repeat") {
  std::set<uint64_t> seen;
  for (int i = 0; i < 1000; ++i) seen.insert(fresh_seed());
  CHECK(seen.size() == 1000);
}

namespace {

completion_call cmpl_ok(const std::string& body) {
  auto r = parse_completion(body, limits());
  if (auto* e = std::get_if<api_error>(&r)) FAIL(body << " -> " << e->code << ": " << e->message);
  return std::get<completion_call>(r);
}

}  // namespace

TEST_CASE("completions: sampling fields are read exactly, or refused naming the field") {
  const auto c = cmpl_ok(R"({"prompt":"a","n":3,"echo":true,"presence_penalty":-1.5,"frequency_penalty":2,)"
                         R"("repetition_penalty":1.2,"min_p":0.1,"logit_bias":{"7":-100,"300":55.5},)"
                         R"("stop_token_ids":[2,9],"ignore_eos":true,"cache_prompt":false,"best_of":1,"seed":4})");
  const auto& s = c.params.sampling;
  CHECK(c.params.n == 3);
  CHECK(c.echo);
  CHECK(s.presence_penalty == -1.5f);
  CHECK(s.frequency_penalty == 2.0f);
  CHECK(s.repetition_penalty == 1.2f);
  CHECK(s.min_p == 0.1f);
  CHECK(s.logprobs == -1);
  CHECK(s.bias_ids == std::vector<int32_t>{300, 7});  // JSON object keys in sorted order
  CHECK(s.bias_values == std::vector<float>{55.5f, -100.0f});
  CHECK(c.params.stop_token_ids == std::vector<int32_t>{2, 9});
  CHECK(c.params.ignore_eos);
  CHECK_FALSE(c.params.cache_prompt);
  CHECK(cmpl_ok(R"({"prompt":"a","logprobs":5})").params.sampling.logprobs == 5);
  CHECK(cmpl_ok(R"({"prompt":"a","logprobs":0})").params.sampling.logprobs == 0);
  // Explicit nulls are the defaults.
  const auto d = cmpl_ok(R"({"prompt":"a","n":null,"best_of":null,"logprobs":null,"echo":null,"logit_bias":null,)"
                         R"("presence_penalty":null,"frequency_penalty":null,"min_p":null,"stop_token_ids":null,)"
                         R"("seed":null,"stop":null,"top_p":null,"temperature":null,"cache_prompt":null})");
  CHECK(d.params.n == 1);
  CHECK(d.params.sampling.logprobs == -1);
  CHECK_FALSE(d.params.sampling.adjusts_logits());
  CHECK(d.params.cache_prompt);

  struct refused {
    const char* body;
    const char* code;
    const char* names;
  };
  const refused cases[] = {
      {R"({"prompt":"a","best_of":2})", "UNSUPPORTED_FIELD", "best_of"},
      {R"({"prompt":"a","logprobs":21})", "OUT_OF_RANGE", "logprobs"},
      {R"({"prompt":"a","logprobs":true})", "INVALID_TYPE", "logprobs"},
      {R"({"prompt":"a","presence_penalty":2.5})", "OUT_OF_RANGE", "presence_penalty"},
      {R"({"prompt":"a","frequency_penalty":-3})", "OUT_OF_RANGE", "frequency_penalty"},
      {R"({"prompt":"a","repetition_penalty":0})", "OUT_OF_RANGE", "repetition_penalty"},
      {R"({"prompt":"a","min_p":1.5})", "OUT_OF_RANGE", "min_p"},
      {R"({"prompt":"a","logit_bias":{"512":1}})", "TOKEN_OUT_OF_VOCABULARY", "logit_bias.512"},
      {R"({"prompt":"a","logit_bias":{"abc":1}})", "INVALID_TYPE", "logit_bias"},
      {R"({"prompt":"a","logit_bias":{"5":101}})", "OUT_OF_RANGE", "logit_bias.5"},
      {R"({"prompt":"a","logit_bias":[1]})", "INVALID_TYPE", "logit_bias"},
      {R"({"prompt":"a","stop_token_ids":[600]})", "TOKEN_OUT_OF_VOCABULARY", "stop_token_ids[0]"},
      {R"({"prompt":"a","stop_token_ids":"2"})", "INVALID_TYPE", "stop_token_ids"},
      {R"({"prompt":"a","ignore_eos":1})", "INVALID_TYPE", "ignore_eos"},
      {R"({"prompt":"a","cache_prompt":"no"})", "INVALID_TYPE", "cache_prompt"},
      {R"({"prompt":"a","n":65})", "OUT_OF_RANGE", "n"},
      {R"({"prompt":"a","suffix":"x"})", "UNSUPPORTED_FIELD", "suffix"},
      {R"({"prompt":"a","user":"u"})", "UNSUPPORTED_FIELD", "user"},
      {R"({"input_ids":[1,2],"sampling_params":{"bogus":1}})", "UNSUPPORTED_FIELD", "sampling_params.bogus"},
      {R"({"input_ids":[1,2],"sampling_params":{"min_p":-1}})", "OUT_OF_RANGE", "sampling_params.min_p"},
  };
  for (const auto& c : cases) {
    const std::string body = c.body;
    const api_error e = body.find("input_ids") != std::string::npos ? gen_error(body) : cmpl_error(body);
    INFO(c.body, " -> ", e.code, ": ", e.message);
    CHECK(e.status == 400);
    CHECK(e.code == c.code);
    CHECK(e.message.find(c.names) != std::string::npos);
  }
}

TEST_CASE("generate: sampling_params takes the penalties, min_p, logit_bias and stop token ids") {
  auto r = parse_generate(
      R"({"input_ids":[1,2],"sampling_params":{"presence_penalty":0.5,"repetition_penalty":1.1,)"
      R"("min_p":0.2,"logit_bias":{"3":2},"stop_token_ids":[4],"ignore_eos":true,"cache_prompt":false}})",
      limits());
  REQUIRE(std::holds_alternative<generate_call>(r));
  const auto& p = std::get<generate_call>(r).params.at(0);
  CHECK(p.sampling.presence_penalty == 0.5f);
  CHECK(p.sampling.repetition_penalty == 1.1f);
  CHECK(p.sampling.min_p == 0.2f);
  CHECK(p.sampling.bias_ids == std::vector<int32_t>{3});
  CHECK(p.stop_token_ids == std::vector<int32_t>{4});
  CHECK(p.ignore_eos);
  CHECK_FALSE(p.cache_prompt);
}
