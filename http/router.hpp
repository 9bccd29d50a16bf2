// Method + target to endpoint. Pure: unknown paths are 404, known paths with the
// wrong method 405 (with Allow), query strings parsed into key/value pairs. HEAD
// routes wherever GET does (the session sends the headers only).
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <variant>

#include "http/api_error.hpp"

namespace kvactor::http {

enum class endpoint {
  generate,          // POST /generate
  completions,       // POST /v1/completions
  chat_completions,  // POST /v1/chat/completions
  apply_template,    // POST /apply-template
  models,            // GET /v1/models
  model,             // GET /v1/models/{id}
  health,            // GET /health
  metrics,           // GET /metrics
  inspect_actors,    // GET /v1/inspect/actors
  inspect_cache,     // GET /v1/inspect/cache?depth=D&max_nodes=N
  inspect_requests,  // GET /v1/inspect/requests
  inspect_request,   // GET /v1/inspect/requests/{rid}
  inspect_cluster,   // GET /v1/inspect/cluster (served by `kvactor route`; 404 on a single node)
  console,           // GET /console, /console/{file}
  tokenize,          // POST /tokenize (http/tokenize_endpoints.hpp)
  detokenize,        // POST /detokenize
};

struct route {
  endpoint target;
  std::string argument;                      // rid, model id, or the console file path ("" = index)
  std::map<std::string, std::string> query;  // decoded query parameters
};

std::variant<route, api_error> route_request(std::string_view method, std::string_view target);

// %XX and '+' decoding; nullopt-like empty result with ok=false on a bad escape.
bool percent_decode(std::string_view in, std::string& out);

}  // namespace kvactor::http
