#include "http/router.hpp"

namespace kvactor::http {
namespace {

api_error not_found(std::string_view path) {
  return {404, "NOT_FOUND", "no such endpoint: " + std::string(path), 0, {}};
}
api_error wrong_method(std::string_view method, std::string_view path, const char* allow) {
  return {405, "METHOD_NOT_ALLOWED",
          std::string(method) + " is not allowed on " + std::string(path) + " (allowed: " + allow + ")", 0, allow};
}

bool parse_query(std::string_view q, std::map<std::string, std::string>& out) {
  while (!q.empty()) {
    const auto amp = q.find('&');
    const std::string_view pair = q.substr(0, amp);
    q = amp == std::string_view::npos ? std::string_view{} : q.substr(amp + 1);
    if (pair.empty()) continue;
    const auto eq = pair.find('=');
    std::string key, value;
    if (!percent_decode(pair.substr(0, eq), key)) return false;
    if (eq != std::string_view::npos && !percent_decode(pair.substr(eq + 1), value)) return false;
    out[key] = value;
  }
  return true;
}

}  // namespace

bool percent_decode(std::string_view in, std::string& out) {
  out.clear();
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '%') {
      if (i + 2 >= in.size()) return false;
      auto hex = [](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        return -1;
      };
      const int hi = hex(in[i + 1]), lo = hex(in[i + 2]);
      if (hi < 0 || lo < 0) return false;
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else if (in[i] == '+') {
      out.push_back(' ');
    } else {
      out.push_back(in[i]);
    }
  }
  return true;
}

std::variant<route, api_error> route_request(std::string_view method, std::string_view target) {
  const auto qpos = target.find('?');
  const std::string_view path = target.substr(0, qpos);
  route r{endpoint::health, {}, {}};
  if (qpos != std::string_view::npos && !parse_query(target.substr(qpos + 1), r.query))
    return api_error{400, "INVALID_QUERY", "malformed query string", 0, {}};

  const bool get = method == "GET" || method == "HEAD", post = method == "POST";
  auto get_only = [&](endpoint e) -> std::variant<route, api_error> {
    if (!get) return wrong_method(method, path, "GET, HEAD");
    r.target = e;
    return r;
  };
  auto post_only = [&](endpoint e) -> std::variant<route, api_error> {
    if (!post) return wrong_method(method, path, "POST");
    r.target = e;
    return r;
  };

  if (path == "/generate") return post_only(endpoint::generate);
  if (path == "/v1/completions") return post_only(endpoint::completions);
  if (path == "/v1/chat/completions") return post_only(endpoint::chat_completions);
  if (path == "/apply-template") return post_only(endpoint::apply_template);
  if (path == "/v1/models") return get_only(endpoint::models);
  if (path == "/tokenize") return post_only(endpoint::tokenize);
  if (path == "/detokenize") return post_only(endpoint::detokenize);
  if (path == "/health") return get_only(endpoint::health);
  if (path == "/metrics") return get_only(endpoint::metrics);
  if (path == "/v1/inspect/actors") return get_only(endpoint::inspect_actors);
  if (path == "/v1/inspect/cache") return get_only(endpoint::inspect_cache);
  if (path == "/v1/inspect/cluster") return get_only(endpoint::inspect_cluster);
  if (path == "/v1/inspect/requests" || path == "/v1/inspect/requests/") return get_only(endpoint::inspect_requests);
  constexpr std::string_view model_prefix = "/v1/models/";
  if (path.substr(0, model_prefix.size()) == model_prefix) {
    if (!percent_decode(path.substr(model_prefix.size()), r.argument))
      return api_error{400, "INVALID_QUERY", "malformed model id in path", 0, {}};
    return get_only(endpoint::model);
  }
  constexpr std::string_view request_prefix = "/v1/inspect/requests/";
  if (path.substr(0, request_prefix.size()) == request_prefix) {
    if (!percent_decode(path.substr(request_prefix.size()), r.argument))
      return api_error{400, "INVALID_QUERY", "malformed request id in path", 0, {}};
    return get_only(endpoint::inspect_request);
  }
  if (path == "/console" || path == "/console/") return get_only(endpoint::console);
  constexpr std::string_view console_prefix = "/console/";
  if (path.substr(0, console_prefix.size()) == console_prefix) {
    if (!percent_decode(path.substr(console_prefix.size()), r.argument)) return not_found(path);
    return get_only(endpoint::console);
  }
  return not_found(path);
}

}  // namespace kvactor::http
