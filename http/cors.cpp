#include "http/cors.hpp"

#include <algorithm>
#include <stdexcept>

namespace kvactor::http {
namespace {

bool same_origin(std::string_view origin, std::string_view host) {
  if (host.empty()) return false;
  for (std::string_view scheme : {"http://", "https://"})
    if (origin.size() == scheme.size() + host.size() && origin.substr(0, scheme.size()) == scheme &&
        origin.substr(scheme.size()) == host)
      return true;
  return false;
}

bool listed(const std::vector<std::string>& allowed, std::string_view origin) {
  return std::any_of(allowed.begin(), allowed.end(), [&](const std::string& a) { return a == "*" || a == origin; });
}

http_reply refused(std::string_view origin) {
  api_error e{403,
              "ORIGIN_NOT_ALLOWED",
              "origin " + std::string(origin) + " is not allowed (the server's cors_origins lists the allowed ones)",
              0,
              {}};
  return error_reply(e);
}

std::string trim(std::string_view s) {
  const auto b = s.find_first_not_of(" \t");
  if (b == std::string_view::npos) return {};
  const auto e = s.find_last_not_of(" \t");
  return std::string(s.substr(b, e - b + 1));
}

}  // namespace

cors_decision check_origin(const std::vector<std::string>& allowed, const cors_request& req) {
  cors_decision d;
  if (req.origin.empty()) return d;
  const bool same = same_origin(req.origin, req.host);
  const bool ok = same || listed(allowed, req.origin);
  if (req.method == "OPTIONS") {
    if (!ok) {
      d.answer = refused(req.origin);
      return d;
    }
    http_reply r;
    r.status = 204;
    r.content_type.clear();
    r.headers = {{"Access-Control-Allow-Origin", std::string(req.origin)},
                 {"Access-Control-Allow-Methods", "GET, HEAD, POST, OPTIONS"},
                 {"Access-Control-Allow-Headers", req.requested_headers.empty()
                                                      ? std::string("authorization, content-type, x-request-id")
                                                      : std::string(req.requested_headers)},
                 {"Access-Control-Max-Age", "600"},
                 {"Vary", "Origin"}};
    d.answer = std::move(r);
    return d;
  }
  if (!ok) {
    // Reading is what CORS guards, and the browser withholds a GET's answer anyway;
    // anything else could make the server do work, so it is refused here.
    if (req.method != "GET" && req.method != "HEAD") d.answer = refused(req.origin);
    return d;
  }
  if (!same)
    d.headers = {{"Access-Control-Allow-Origin", std::string(req.origin)},
                 {"Access-Control-Expose-Headers", "x-request-id, retry-after"},
                 {"Vary", "Origin"}};
  return d;
}

std::vector<std::string> parse_cors_origins(const std::string& text) {
  std::vector<std::string> out;
  std::string_view rest = text;
  while (!rest.empty()) {
    const auto comma = rest.find(',');
    const std::string item = trim(rest.substr(0, comma));
    rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
    if (item.empty()) continue;
    if (item != "*") {
      const auto scheme_end = item.find("://");
      const std::string scheme = scheme_end == std::string::npos ? "" : item.substr(0, scheme_end);
      const bool host_only = scheme_end != std::string::npos && item.size() > scheme_end + 3 &&
                             item.find('/', scheme_end + 3) == std::string::npos;
      if ((scheme != "http" && scheme != "https") || !host_only)
        throw std::invalid_argument("\"" + item + "\" is not an origin (scheme://host[:port], no path) or *");
    }
    out.push_back(item);
  }
  return out;
}

}  // namespace kvactor::http
