// Cross-origin requests (browsers). A browser names the page's origin in `Origin`;
// curl and the SDKs send none, and are never affected. The allow-list is the
// server's `cors_origins` ("" = none allowed; "*" = any). Pure: tested without a socket.
//  - OPTIONS with an Origin is a preflight: 204 with the Access-Control-* headers for
//    an allowed origin, 403 without them otherwise (OPTIONS without Origin is routed,
//    and answered 405 with Allow like any other wrong method);
//  - any other method from an allowed cross origin: answered normally, plus
//    Access-Control-Allow-Origin (and Vary: Origin, exposed headers);
//  - a non-GET/HEAD request from an origin not allowed: 403 ORIGIN_NOT_ALLOWED, so a
//    web page cannot make a local server generate (a "simple" text/plain POST needs no
//    preflight). Same-origin requests (the console) are always allowed.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "http/reply.hpp"

namespace kvactor::http {

struct cors_request {
  std::string_view method;
  std::string_view origin;             // the Origin header ("" = none)
  std::string_view host;               // the Host header (same-origin check)
  std::string_view requested_headers;  // Access-Control-Request-Headers of a preflight
};

struct cors_decision {
  std::optional<http_reply> answer;                          // answered here: a preflight, or a refused origin
  std::vector<std::pair<std::string, std::string>> headers;  // added to the real answer
};

cors_decision check_origin(const std::vector<std::string>& allowed, const cors_request& req);

// "https://a.example, http://localhost:3000" -> its entries; throws std::invalid_argument
// naming a malformed one (an origin is scheme://host[:port], no path, or "*").
std::vector<std::string> parse_cors_origins(const std::string& text);

}  // namespace kvactor::http
