#include "http/tokenize_endpoints.hpp"

#include <nlohmann/json.hpp>

#include "http/utf8.hpp"
#include "model/tokenizer.hpp"

namespace kvactor::http {
namespace {

using nlohmann::json;

[[noreturn]] void reject(const std::string& code, const std::string& message) {
  api_error e{400, code, message, 0, {}};
  e.param = field_of(message);
  throw e;
}

json object_body(std::string_view body, std::size_t body_limit) {
  if (body.size() > body_limit)
    throw api_error{
        413,
        "BODY_TOO_LARGE",
        "request body of " + std::to_string(body.size()) + " bytes exceeds the limit of " + std::to_string(body_limit),
        0,
        {}};
  const std::size_t bad = first_invalid_utf8(body);
  if (bad != body.size()) reject("INVALID_UTF8", "request body is not valid UTF-8 (byte " + std::to_string(bad) + ")");
  json doc = json::parse(body.begin(), body.end(), nullptr, false);
  if (doc.is_discarded()) reject("INVALID_JSON", "request body is not valid JSON");
  if (!doc.is_object()) reject("INVALID_JSON", "request body must be a JSON object");
  return doc;
}

// Every field is honoured or refused: an unknown one is named.
void only_fields(const json& doc, std::initializer_list<const char*> known) {
  for (const auto& item : doc.items()) {
    bool ok = false;
    for (const char* k : known) ok = ok || item.key() == k;
    if (!ok) reject("UNSUPPORTED", item.key() + ": unknown field");
  }
}

bool flag(const json& doc, const char* key) {
  if (!doc.contains(key) || doc.at(key).is_null()) return false;
  const json& v = doc.at(key);
  if (!v.is_boolean()) reject("INVALID_TYPE", std::string(key) + ": expected a boolean, got " + v.type_name());
  return v.get<bool>();
}

template <class T, class F>
std::variant<T, api_error> guarded(F build) {
  try {
    return build();
  } catch (const api_error& e) {
    return e;
  } catch (const json::exception& e) {
    return api_error{400, "INVALID_TYPE", e.what(), 0, {}};
  }
}

// A token's own text, as llama.cpp's common_token_to_piece (special tokens as their text).
std::string own_piece(const tokenizer& tok, int32_t id) {
  const token_kind k = tok.kind(id);
  if (k == token_kind::control || k == token_kind::unknown) return tok.token_text(id);
  return tok.decode_piece(-1, id);
}

}  // namespace

std::variant<tokenize_call, api_error> parse_tokenize(std::string_view body, std::size_t body_limit) {
  return guarded<tokenize_call>([&] {
    const json doc = object_body(body, body_limit);
    only_fields(doc, {"content", "add_special", "parse_special", "with_pieces"});
    tokenize_call call;
    if (!doc.contains("content") || doc.at("content").is_null()) reject("MISSING_FIELD", "content: required");
    const json& content = doc.at("content");
    if (!content.is_string())
      reject("INVALID_TYPE", std::string("content: expected a string, got ") + content.type_name());
    call.content = content.get<std::string>();
    call.add_special = flag(doc, "add_special");
    call.parse_special = flag(doc, "parse_special");
    call.with_pieces = flag(doc, "with_pieces");
    return call;
  });
}

std::variant<detokenize_call, api_error> parse_detokenize(std::string_view body, std::size_t body_limit,
                                                          int32_t vocab_size) {
  return guarded<detokenize_call>([&] {
    const json doc = object_body(body, body_limit);
    only_fields(doc, {"tokens"});
    if (!doc.contains("tokens") || doc.at("tokens").is_null()) reject("MISSING_FIELD", "tokens: required");
    const json& tokens = doc.at("tokens");
    if (!tokens.is_array())
      reject("INVALID_TYPE", std::string("tokens: expected a list of token ids, got ") + tokens.type_name());
    detokenize_call call;
    call.tokens.reserve(tokens.size());
    for (std::size_t i = 0; i < tokens.size(); ++i) {
      const json& t = tokens[i];
      const std::string field = "tokens[" + std::to_string(i) + "]";
      if (!t.is_number_integer())
        reject("INVALID_TYPE", field + ": expected a token id (integer), got " + t.type_name());
      const bool in_vocab = t.is_number_unsigned()
                                ? t.get<unsigned long long>() < static_cast<unsigned long long>(vocab_size)
                                : t.get<long long>() >= 0 && t.get<long long>() < vocab_size;
      if (!in_vocab)
        reject("TOKEN_OUT_OF_VOCABULARY",
               field + ": token id " + t.dump() + " is outside the vocabulary [0, " + std::to_string(vocab_size) + ")");
      call.tokens.push_back(static_cast<int32_t>(t.get<long long>()));
    }
    return call;
  });
}

std::string tokenize_body(const tokenizer& tok, const tokenize_call& call) {
  const std::vector<int32_t> ids = tok.tokenize(call.content, call.add_special, call.parse_special);
  json tokens = json::array();
  for (int32_t id : ids) {
    if (!call.with_pieces) {
      tokens.push_back(id);
      continue;
    }
    const std::string piece = own_piece(tok, id);
    json piece_json;
    if (is_valid_utf8(piece)) {
      piece_json = piece;
    } else {
      piece_json = json::array();
      for (char c : piece) piece_json.push_back(static_cast<int>(static_cast<unsigned char>(c)));
    }
    tokens.push_back({{"id", id}, {"piece", std::move(piece_json)}});
  }
  return json{{"tokens", std::move(tokens)}}.dump();
}

std::string detokenize_body(const tokenizer& tok, const detokenize_call& call) {
  // Special tokens come back as their text, so detokenize(tokenize(x, parse_special)) == x.
  // Token boundaries may split a UTF-8 character; such bytes are replaced (U+FFFD) in JSON.
  const std::string text = tok.decode(call.tokens, true);
  return json{{"content", text}}.dump(-1, ' ', false, json::error_handler_t::replace);
}

http_reply answer_tokenize(std::string_view body, std::size_t body_limit, const tokenizer& tok) {
  auto parsed = parse_tokenize(body, body_limit);
  if (auto* err = std::get_if<api_error>(&parsed)) return error_reply(*err);
  return json_reply(200, tokenize_body(tok, std::get<tokenize_call>(parsed)));
}

http_reply answer_detokenize(std::string_view body, std::size_t body_limit, const tokenizer& tok) {
  auto parsed = parse_detokenize(body, body_limit, tok.vocab_size());
  if (auto* err = std::get_if<api_error>(&parsed)) return error_reply(*err);
  return json_reply(200, detokenize_body(tok, std::get<detokenize_call>(parsed)));
}

}  // namespace kvactor::http
