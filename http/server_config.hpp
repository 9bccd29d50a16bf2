// Service configuration: engine settings plus the HTTP front end's own. Loaded from
// a JSON file (configs/default.json), then overridden by `--key value` flags. Every
// key is checked (known, right type, in range); an error names the key.
#pragma once

#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "actors/engine_config.hpp"

namespace kvactor::http {

struct server_config {
  engine_config engine;             // model, tokenizer, cache geometry, batching, queue
  std::string host = "127.0.0.1";
  int port = 8000;                  // 0 = an ephemeral port (tests)
  int io_threads = 2;               // threads running the Beast io_context
  std::size_t body_limit_bytes = 1 << 20;  // larger bodies get 413
  int idle_timeout_ms = 60000;      // keep-alive: time to wait for the next request's header
  int read_timeout_ms = 30000;      // time to receive a request's body once its header is in
  int write_timeout_ms = 30000;     // time a client may take to accept one write
  int request_timeout_ms = 0;       // generation deadline handed to the engine; 0 = none
  int drain_timeout_ms = 10000;     // shutdown: how long in-flight requests may finish
  int default_max_tokens = 16;      // when a request names no limit
  std::string model_name;           // served by /v1/models; default: model file stem
  std::string console_dir = "console";  // static files for /console
};

// Thrown for any invalid configuration; what() starts with the key it concerns.
struct config_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Builds a config from JSON text (an object), applies `overrides` (key, value as
// text: "--page-size 32" arrives as {"page_size","32"}), resolves relative paths
// against `base_dir`, and validates. Throws config_error naming the key.
server_config load_server_config(const std::string& json_text,
                                 const std::vector<std::pair<std::string, std::string>>& overrides,
                                 const std::string& base_dir);

// Same, but also checks that the model (and tokenizer, when set) files exist.
void check_model_files(const server_config& cfg);

// The repository root (compiled in): relative paths in configs resolve against it.
std::string repository_dir();

// One line per key: "  --page-size N   tokens per KV page (default 16)".
std::string config_keys_help();

}  // namespace kvactor::http
