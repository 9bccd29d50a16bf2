// Service configuration: engine settings plus the HTTP front end's own. Loaded from
// a JSON file (configs/default.json), then overridden by `--key value` flags. Every
// key is checked (known, right type, in range); an error names the key.
#pragma once

#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "actors/engine_config.hpp"
#include "http/tenants.hpp"

namespace kvactor::http {

struct server_config {
  engine_config engine;  // model, tokenizer, cache geometry, batching, queue
  std::string host = "127.0.0.1";
  int port = 8000;                         // 0 = an ephemeral port (tests)
  int io_threads = 2;                      // threads running the Beast io_context
  std::size_t body_limit_bytes = 1 << 20;  // larger bodies get 413
  int idle_timeout_ms = 60000;             // keep-alive: time to wait for the first byte of the next request
  int header_timeout_ms = 10000;           // whole request head, from its first byte (a drip cannot extend it)
  int read_timeout_ms = 10000;             // body: this long plus its size at body_min_bytes_per_s
  int body_min_bytes_per_s = 8192;         // slowest body rate the body deadline allows for
  int write_timeout_ms = 30000;            // time a client may take to accept one write
  int request_timeout_ms = 0;              // generation deadline handed to the engine; 0 = none
  int drain_timeout_ms = 10000;            // shutdown: how long in-flight requests may finish
  int default_max_tokens = 16;             // when a request names no limit
  std::string model_name;                  // served by /v1/models; default: model file stem
  std::string console_dir = "console";     // static files for /console
  std::string chat_template;               // Jinja file overriding the model's chat template ("" = the model's)
  // Browser origins allowed to call the API cross-origin, comma-separated ("" = none,
  // "*" = any); http/cors.hpp. cors_allowed is the parsed list.
  std::string cors_origins;
  std::vector<std::string> cors_allowed;

  // Limits on what one client may ask for (http/API.md, "Limits and authentication").
  int max_prompt_tokens = 8192;             // longer prompts get 400 PROMPT_TOO_LONG
  int max_new_tokens = 4096;                // max_tokens / max_completion_tokens above it get 400 OUT_OF_RANGE
  int max_prompts_per_request = 64;         // a batch with more prompts gets 400 OUT_OF_RANGE
  int max_connections = 0;                  // open connections (0 = from the descriptor limit); when full the
                                            // oldest idle / slowest is shed, else 503 TOO_MANY_CONNECTIONS
  int max_connections_per_client = 1024;    // per client address; past it 429 TOO_MANY_CONNECTIONS
  int max_requests_per_client = 512;        // requests in flight per client address; past it 429 TOO_MANY_REQUESTS
  int max_requests_per_connection = 10000;  // keep-alive: the answer to the last one closes it
  int pipeline_buffer_bytes = 64 * 1024;    // bytes read ahead (pipelined) while one answer is produced

  // Optional API key (never a flag, so it never shows in `ps`): read from the file named by
  // api_key_file, else from the environment variable KVACTOR_API_KEY. Empty = no key.
  std::string api_key_file;
  std::string api_key;  // the key itself: never logged, never printed
  // Tenants (issue 20, http/API.md "Tenants"): api_keys_file maps keys to tenants; with it
  // unset the single key above (if any) is the one tenant "default". Keys never logged.
  std::string api_keys_file;
  tenant_table tenants;             // loaded from api_keys_file, or the single key
  int max_requests_per_tenant = 0;  // in flight (queued or running) per tenant; 0 = no limit
};

// Thrown for any invalid configuration; what() starts with the key it concerns.
struct config_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Builds a config from JSON text (an object), applies `overrides` (key, value as
// text: "--page-size 32" arrives as {"page_size","32"}), resolves relative paths
// against `base_dir`, and validates. Then loads the API key: from api_key_file when
// set, else from $KVACTOR_API_KEY. Throws config_error naming the key (a message
// never contains the API key itself).
server_config load_server_config(const std::string& json_text,
                                 const std::vector<std::pair<std::string, std::string>>& overrides,
                                 const std::string& base_dir);

// The single key's rules (16-4096 visible ASCII characters), trailing newline dropped;
// throws config_error starting with `source`, never quoting the key.
std::string checked_api_key(std::string key, const std::string& source);

// Name of the environment variable that may carry the API key.
inline constexpr const char* api_key_env = "KVACTOR_API_KEY";

// Same, but also checks that the model (and tokenizer, when set) files exist.
void check_model_files(const server_config& cfg);

// The repository root (compiled in): relative paths in configs resolve against it.
std::string repository_dir();

// The max_connections that `max_connections 0` means under a descriptor limit of
// `fd_limit`: half of what is left after 64 for files and the engine, so even twice the
// limit (where new connections are closed unanswered) stays within the descriptors.
int default_max_connections(long long fd_limit);
// max_connections, with 0 resolved from this process's current RLIMIT_NOFILE.
int effective_max_connections(const server_config& cfg);

// One line per key: "  --page-size N   tokens per KV page (default 16)".
std::string config_keys_help();

}  // namespace kvactor::http
