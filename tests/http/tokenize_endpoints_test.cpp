// POST /tokenize and /detokenize: parsing as pure functions, answers with real
// vocabularies, and once end to end over a socket (with the API key rules).
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "http/authorization.hpp"
#include "http/text_stream.hpp"
#include "http/tokenize_endpoints.hpp"
#include "model/gguf_loader.hpp"
#include "tests/http/http_client.hpp"
#include "tests/http/served.hpp"

using namespace kvactor;
using nlohmann::json;

namespace {

const tokenizer& llama3() {
  static const tokenizer t = load_gguf_tokenizer(std::string(KVACTOR_MODELS_DIR) + "/vocab/ggml-vocab-llama-bpe.gguf");
  return t;
}

http::api_error tokenize_error(const std::string& body) {
  auto parsed = http::parse_tokenize(body, 4096);
  REQUIRE(std::holds_alternative<http::api_error>(parsed));
  return std::get<http::api_error>(parsed);
}

http::api_error detokenize_error(const std::string& body) {
  auto parsed = http::parse_detokenize(body, 4096, 128256);
  REQUIRE(std::holds_alternative<http::api_error>(parsed));
  return std::get<http::api_error>(parsed);
}

}  // namespace

TEST_CASE("tokenize requests: defaults, flags, and errors naming the field") {
  auto ok = http::parse_tokenize(R"({"content":"Hello"})", 4096);
  REQUIRE(std::holds_alternative<http::tokenize_call>(ok));
  const auto& call = std::get<http::tokenize_call>(ok);
  CHECK(call.content == "Hello");
  CHECK_FALSE(call.add_special);
  CHECK_FALSE(call.parse_special);
  CHECK_FALSE(call.with_pieces);
  auto all = std::get<http::tokenize_call>(
      http::parse_tokenize(R"({"content":"x","add_special":true,"parse_special":true,"with_pieces":true})", 4096));
  CHECK((all.add_special && all.parse_special && all.with_pieces));

  auto e = tokenize_error(R"({"content":5})");
  CHECK(e.code == "INVALID_TYPE");
  CHECK(e.message == "content: expected a string, got number");
  e = tokenize_error(R"({"content":"x","add_special":"yes"})");
  CHECK(e.message == "add_special: expected a boolean, got string");
  e = tokenize_error(R"({"content":"x","parse_special":1})");
  CHECK(e.message.rfind("parse_special:", 0) == 0);
  e = tokenize_error(R"({"content":"x","with_pieces":[]})");
  CHECK(e.message.rfind("with_pieces:", 0) == 0);
  CHECK(tokenize_error(R"({})").message == "content: required");
  CHECK(tokenize_error(R"({"content":"x","stream":true})").message == "stream: unknown field");
  CHECK(tokenize_error("[1]").code == "INVALID_JSON");
  CHECK(tokenize_error("{").code == "INVALID_JSON");
  CHECK(tokenize_error(std::string(5000, ' ')).status == 413);
}

TEST_CASE("detokenize requests: ids in the vocabulary, errors naming the field and the id") {
  auto ok = http::parse_detokenize(R"({"tokens":[9906, 0, 128255]})", 4096, 128256);
  REQUIRE(std::holds_alternative<http::detokenize_call>(ok));
  CHECK(std::get<http::detokenize_call>(ok).tokens == std::vector<int32_t>{9906, 0, 128255});
  auto e = detokenize_error(R"({"tokens":[1, 128256]})");
  CHECK(e.code == "TOKEN_OUT_OF_VOCABULARY");
  CHECK(e.message == "tokens[1]: token id 128256 is outside the vocabulary [0, 128256)");
  CHECK(detokenize_error(R"({"tokens":[-1]})").message.find("token id -1") != std::string::npos);
  CHECK(detokenize_error(R"({"tokens":[1.5]})").message == "tokens[0]: expected a token id (integer), got number");
  CHECK(detokenize_error(R"({"tokens":"abc"})").message == "tokens: expected a list of token ids, got string");
  CHECK(detokenize_error(R"({})").message == "tokens: required");
  CHECK(detokenize_error(R"({"tokens":[],"content":"x"})").message == "content: unknown field");
}

TEST_CASE("tokenize and detokenize answers with Llama 3's vocabulary") {
  const tokenizer& tok = llama3();
  http::tokenize_call call;
  call.content = "Hello world";
  CHECK(json::parse(http::tokenize_body(tok, call)) == json::parse(R"({"tokens":[9906,1917]})"));
  call.add_special = true;
  CHECK(json::parse(http::tokenize_body(tok, call)) == json::parse(R"({"tokens":[128000,9906,1917]})"));

  call = {};
  call.content = "<|eot_id|>";
  CHECK(json::parse(http::tokenize_body(tok, call))["tokens"].size() > 1);  // plain text by default
  call.parse_special = true;
  CHECK(json::parse(http::tokenize_body(tok, call)) == json::parse(R"({"tokens":[128009]})"));

  // Pieces: strings when valid UTF-8, bytes otherwise (" 🦙" is split inside the emoji).
  call = {};
  call.content = " \xF0\x9F\xA6\x99<|eot_id|>";
  call.parse_special = true;
  call.with_pieces = true;
  const json pieces = json::parse(http::tokenize_body(tok, call))["tokens"];
  REQUIRE(pieces.size() == 4);
  CHECK(pieces[0] == json{{"id", 11410}, {"piece", json::array({32, 240, 159})}});
  CHECK(pieces[1] == json{{"id", 99}, {"piece", json::array({166})}});
  CHECK(pieces[2] == json{{"id", 247}, {"piece", json::array({153})}});
  CHECK(pieces[3] == json{{"id", 128009}, {"piece", "<|eot_id|>"}});

  http::detokenize_call back;
  back.tokens = {128000, 9906, 1917, 11410, 99, 247, 128009};
  CHECK(json::parse(http::detokenize_body(tok, back))["content"] ==
        "<|begin_of_text|>Hello world \xF0\x9F\xA6\x99<|eot_id|>");
  back.tokens = {11410};  // half a character: replaced, never invalid JSON
  CHECK(json::parse(http::detokenize_body(tok, back))["content"] == " \xEF\xBF\xBD");
}

TEST_CASE("POST /tokenize and /detokenize end to end, behind the API key like generation") {
  CHECK(http::needs_api_key(http::endpoint::tokenize));
  CHECK(http::needs_api_key(http::endpoint::detokenize));
  auto cfg = test::test_config();
  cfg.api_key = "tokenize-test-key-0123456789";
  test::served s({}, cfg);
  const test::header_list key = {{"Authorization", "Bearer tokenize-test-key-0123456789"}};
  CHECK(test::http_call(s.port(), "POST", "/tokenize", R"({"content":"Once upon a time"})").status == 401);
  CHECK(test::http_call(s.port(), "GET", "/tokenize", "", key).status == 405);

  const auto tokens = test::http_call(s.port(), "POST", "/tokenize", R"({"content":"Once upon a time"})", key);
  REQUIRE(tokens.status == 200);
  CHECK(tokens.header("content-type") == "application/json");
  const json ids = json::parse(tokens.body)["tokens"];
  CHECK(ids == json::array({403, 407, 261, 378}));  // tok512, no BOS unless add_special
  const auto with_bos =
      test::http_call(s.port(), "POST", "/tokenize", R"({"content":"Once upon a time","add_special":true})", key);
  CHECK(json::parse(with_bos.body)["tokens"] == json::array({1, 403, 407, 261, 378}));

  const auto text = test::http_call(s.port(), "POST", "/detokenize", R"({"tokens":[1,403,407,261,378]})", key);
  REQUIRE(text.status == 200);
  CHECK(json::parse(text.body)["content"] == "\n<s>\nOnce upon a time");
  const auto bad = test::http_call(s.port(), "POST", "/detokenize", R"({"tokens":[403,512]})", key);
  CHECK(bad.status == 400);
  CHECK(json::parse(bad.body)["error"]["code"] == "TOKEN_OUT_OF_VOCABULARY");
  CHECK(json::parse(bad.body)["error"]["message"].get<std::string>().find("token id 512") != std::string::npos);
  CHECK(s.service->submitted() == 0);  // no engine work
}

TEST_CASE("streamed text holds a character split across byte-level tokens until it is whole") {
  const tokenizer& tok = llama3();
  http::text_stream stream([&tok](int32_t prev, int32_t t) { return tok.decode_piece(prev, t); }, 128000,
                           {tok.bos_id(), tok.eos_id()}, {});
  CHECK(stream.push(11410) == " ");  // " \xF0\x9F": the emoji's first two bytes wait
  CHECK(stream.push(99) == "");
  CHECK(stream.push(247) == "\xF0\x9F\xA6\x99");
  CHECK(stream.push(128009) == "");  // <|eot_id|> is not text
  CHECK(stream.finish() == "");
}
