// The optional API key: which endpoints it protects and how a request's
// Authorization header is checked. Pure functions, tested without a socket.
#pragma once

#include <string>
#include <string_view>

#include "http/reply.hpp"
#include "http/router.hpp"

namespace kvactor::http {

// Generation and inspection need the key; /health, /v1/models, /metrics (aggregate
// counters only) and the console's static files stay open (http/API.md says why).
bool needs_api_key(endpoint e);

// True when `authorization` is "Bearer <key>" (scheme case-insensitive, spaces
// around the token ignored) and the token equals `key`. The comparison takes the
// same time wherever the first difference is, so a caller cannot find the key
// byte by byte from response times.
bool bearer_token_matches(std::string_view authorization, std::string_view key);

// 401 UNAUTHORIZED with a WWW-Authenticate challenge (RFC 6750); `sent_credentials`
// adds error="invalid_token". The message never repeats what the client sent.
http_reply unauthorized_reply(bool sent_credentials);

}  // namespace kvactor::http
