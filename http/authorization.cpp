#include "http/authorization.hpp"

#include <cstddef>

namespace kvactor::http {
namespace {

bool is_space(char c) { return c == ' ' || c == '\t'; }

char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

// Constant time in the content of both strings: every byte of `expected` is visited
// and mismatches are accumulated, never returned early.
bool same_secret(std::string_view given, std::string_view expected) {
  volatile unsigned char diff = given.size() == expected.size() ? 0 : 1;
  for (std::size_t i = 0; i < expected.size(); ++i) {
    const unsigned char g = i < given.size() ? static_cast<unsigned char>(given[i]) : 0;
    diff = static_cast<unsigned char>(diff | (g ^ static_cast<unsigned char>(expected[i])));
  }
  return diff == 0;
}

}  // namespace

bool needs_api_key(endpoint e) {
  switch (e) {
    case endpoint::generate:
    case endpoint::completions:
    case endpoint::chat_completions:
    case endpoint::apply_template:
    case endpoint::inspect_actors:
    case endpoint::inspect_cache:
    case endpoint::inspect_requests:
    case endpoint::inspect_request:
    case endpoint::inspect_cluster:
    case endpoint::tokenize:
    case endpoint::detokenize: return true;
    case endpoint::models:
    case endpoint::model:
    case endpoint::health:
    case endpoint::metrics:
    case endpoint::console: return false;
  }
  return true;  // an endpoint added later is protected until someone decides otherwise
}

bool bearer_token_matches(std::string_view authorization, std::string_view key) {
  if (key.empty()) return false;
  std::size_t i = 0;
  while (i < authorization.size() && is_space(authorization[i])) ++i;
  constexpr std::string_view scheme = "bearer";
  if (authorization.size() - i < scheme.size() + 1) return false;
  for (std::size_t k = 0; k < scheme.size(); ++k)
    if (lower(authorization[i + k]) != scheme[k]) return false;
  i += scheme.size();
  if (!is_space(authorization[i])) return false;
  while (i < authorization.size() && is_space(authorization[i])) ++i;
  std::size_t end = authorization.size();
  while (end > i && is_space(authorization[end - 1])) --end;
  return same_secret(authorization.substr(i, end - i), key);
}

http_reply unauthorized_reply(bool sent_credentials) {
  http_reply r = error_reply({401,
                              "UNAUTHORIZED",
                              sent_credentials ? "the API key is not valid (send Authorization: Bearer <key>)"
                                               : "this endpoint needs an API key: send Authorization: Bearer <key>",
                              0,
                              {}});
  r.headers.emplace_back("WWW-Authenticate", sent_credentials ? R"(Bearer realm="kvactor", error="invalid_token")"
                                                              : R"(Bearer realm="kvactor")");
  return r;
}

}  // namespace kvactor::http
