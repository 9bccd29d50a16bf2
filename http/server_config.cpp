#include "http/server_config.hpp"
#include "http/tenants.hpp"

#include <sys/resource.h>

#include <algorithm>
#include <climits>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>

#include <nlohmann/json.hpp>

#include "http/cors.hpp"

namespace kvactor::http {
namespace {

using nlohmann::json;

// One configuration key: how to read it, its bounds and where it goes. A table keeps
// file keys, flags and --help in step.
struct config_key {
  const char* name;
  enum { integer, text } type;
  long long min, max;
  std::function<void(server_config&, const json&)> set;
  std::function<json(const server_config&)> get;
  const char* help;
};

template <class T>
config_key int_key(const char* name, T server_config::*field, long long min, long long max, const char* help) {
  return {name,
          config_key::integer,
          min,
          max,
          [field](server_config& c, const json& v) { c.*field = static_cast<T>(v.get<long long>()); },
          [field](const server_config& c) { return json(static_cast<long long>(c.*field)); },
          help};
}
config_key engine_int_key(const char* name, int engine_config::*field, long long min, long long max, const char* help) {
  return {name,
          config_key::integer,
          min,
          max,
          [field](server_config& c, const json& v) { c.engine.*field = static_cast<int>(v.get<long long>()); },
          [field](const server_config& c) { return json(c.engine.*field); },
          help};
}
config_key text_key(const char* name, std::string server_config::*field, const char* help) {
  return {name,
          config_key::text,
          0,
          0,
          [field](server_config& c, const json& v) { c.*field = v.get<std::string>(); },
          [field](const server_config& c) { return json(c.*field); },
          help};
}
config_key engine_text_key(const char* name, std::string engine_config::*field, const char* help) {
  return {name,
          config_key::text,
          0,
          0,
          [field](server_config& c, const json& v) { c.engine.*field = v.get<std::string>(); },
          [field](const server_config& c) { return json(c.engine.*field); },
          help};
}

const std::vector<config_key>& keys() {
  static const std::vector<config_key> table = {
      engine_text_key("model", &engine_config::model_path, "model file (.bin llama2.c or .gguf)"),
      engine_text_key("tokenizer", &engine_config::tokenizer_path, "llama2.c tokenizer.bin (empty for GGUF)"),
      engine_text_key("device", &engine_config::device, "cpu | hip"),
      engine_int_key("page_size", &engine_config::page_size, 1, 4096, "tokens per KV page"),
      engine_int_key("num_pages", &engine_config::num_pages, 1, 1 << 24, "physical KV pages"),
      engine_int_key("max_batch", &engine_config::max_batch, 1, 4096, "sequences per device step"),
      engine_int_key("max_tokens_per_step", &engine_config::max_tokens_per_step, 1, 1 << 20,
                     "token budget per device step"),
      engine_int_key("prefill_chunk", &engine_config::prefill_chunk, 1, 1 << 20, "longest prefill chunk"),
      engine_int_key("queue_limit", &engine_config::queue_limit, 0, 1 << 20, "waiting requests before 503 QUEUE_FULL"),
      engine_int_key("max_wait_steps", &engine_config::max_wait_steps, 1, 1 << 20,
                     "bound on how long cache-aware ordering may pass a request over"),
      engine_int_key("device_threads", &engine_config::device_threads, 0, 1024,
                     "CPU backend worker threads (0: 1 for models under 4M parameters, else one per usable CPU)"),
      engine_text_key("eviction_policy", &engine_config::eviction_policy, "lru | lfu"),
      engine_text_key("q8_0_activations", &engine_config::q8_0_activations,
                      "auto | int8 | f32: how Q8_0, Q4_K, Q5_K and Q6_K weights are multiplied (int8: the input "
                      "quantized to Q8_0 / Q8_K blocks as llama.cpp does, integer products, CPU only; f32: exact "
                      "dequantized weights times F32 input, slower on the CPU; auto, the default: int8 on the CPU, "
                      "f32 on the GPU)"),
      engine_text_key("actor_scheduler", &engine_config::actor_scheduler,
                      "auto | sharing | stealing: how CAF's workers wait for messages (auto, the default: sharing "
                      "when the CPU backend runs more than one thread, where it is faster, bench/results/peer.md; "
                      "else stealing)"),
      engine_int_key("prefix_cache", &engine_config::prefix_cache, 0, 1,
                     "1 = reuse cached prompt prefixes, 0 = never (uncached baseline for benchmarks)"),
      text_key("host", &server_config::host, "address to listen on"),
      int_key("port", &server_config::port, 0, 65535, "TCP port (0 = ephemeral)"),
      int_key("io_threads", &server_config::io_threads, 1, 256, "HTTP io threads"),
      int_key("body_limit_bytes", &server_config::body_limit_bytes, 64, 1LL << 30, "largest request body (413 above)"),
      int_key("idle_timeout_ms", &server_config::idle_timeout_ms, 10, INT_MAX,
              "keep-alive wait for the first byte of the next request"),
      int_key("header_timeout_ms", &server_config::header_timeout_ms, 10, INT_MAX,
              "time to receive a whole request head, from its first byte"),
      int_key("read_timeout_ms", &server_config::read_timeout_ms, 10, INT_MAX,
              "time to receive a request body, plus its size at body_min_bytes_per_s"),
      int_key("body_min_bytes_per_s", &server_config::body_min_bytes_per_s, 1, INT_MAX,
              "slowest request-body rate the body deadline allows for"),
      int_key("write_timeout_ms", &server_config::write_timeout_ms, 10, INT_MAX, "time a client may take per write"),
      int_key("request_timeout_ms", &server_config::request_timeout_ms, 0, INT_MAX, "generation deadline (0 = none)"),
      int_key("drain_timeout_ms", &server_config::drain_timeout_ms, 0, INT_MAX,
              "shutdown: time in-flight requests may finish"),
      int_key("default_max_tokens", &server_config::default_max_tokens, 1, 1 << 20,
              "generated tokens when a request names no limit"),
      text_key("model_name", &server_config::model_name, "name served by /v1/models (default: model file stem)"),
      text_key("console_dir", &server_config::console_dir, "directory served at /console"),
      text_key("chat_template", &server_config::chat_template,
               "Jinja chat template file for chat requests (default: the model's, else ChatML)"),
      int_key("max_prompt_tokens", &server_config::max_prompt_tokens, 1, 1 << 24,
              "longest prompt in tokens (400 PROMPT_TOO_LONG above)"),
      int_key("max_new_tokens", &server_config::max_new_tokens, 1, 1 << 24,
              "largest max_tokens / max_completion_tokens a request may ask for"),
      int_key("max_prompts_per_request", &server_config::max_prompts_per_request, 1, 1 << 16,
              "prompts in one batch request"),
      int_key("max_connections", &server_config::max_connections, 0, 1 << 22,
              "open connections (0 = from the descriptor limit); when full the oldest idle or slowest is shed"),
      int_key("max_connections_per_client", &server_config::max_connections_per_client, 1, 1 << 22,
              "open connections from one client address (429 TOO_MANY_CONNECTIONS above)"),
      int_key("max_requests_per_client", &server_config::max_requests_per_client, 1, 1 << 22,
              "requests in flight from one client address (429 TOO_MANY_REQUESTS above)"),
      int_key("max_requests_per_connection", &server_config::max_requests_per_connection, 1, INT_MAX,
              "requests on one keep-alive connection before it is closed"),
      int_key("pipeline_buffer_bytes", &server_config::pipeline_buffer_bytes, 1024, 1 << 26,
              "pipelined bytes read ahead while an answer is produced"),
      text_key("cors_origins", &server_config::cors_origins,
               "browser origins allowed cross-origin, comma-separated (\"\" = none, * = any)"),
      text_key("api_key_file", &server_config::api_key_file,
               "file holding the API key (else $KVACTOR_API_KEY; none = no authentication)"),
      text_key("api_keys_file", &server_config::api_keys_file,
               "file of tenants: 'name key [admin] [weight=N]' lines or a JSON object (http/API.md, Tenants)"),
      int_key("max_requests_per_tenant", &server_config::max_requests_per_tenant, 0, 1 << 22,
              "requests in flight (queued or running) per tenant; 0 = no limit (429 TOO_MANY_REQUESTS above)"),
  };
  return table;
}

const config_key* find_key(const std::string& name) {
  for (const auto& k : keys())
    if (name == k.name) return &k;
  return nullptr;
}

void apply(server_config& cfg, const config_key& key, const json& value) {
  const std::string name = key.name;
  if (key.type == config_key::text) {
    if (!value.is_string()) throw config_error(name + ": expected a string, got " + value.dump());
  } else {
    if (!value.is_number_integer()) throw config_error(name + ": expected an integer, got " + value.dump());
    const bool negative = value.is_number_unsigned() ? false : value.get<long long>() < 0;
    const long long v =
        value.is_number_unsigned() && value.get<unsigned long long>() > LLONG_MAX ? LLONG_MAX : value.get<long long>();
    if ((negative && key.min >= 0) || v < key.min || v > key.max)
      throw config_error(name + ": " + value.dump() + " is out of range [" + std::to_string(key.min) + ", " +
                         std::to_string(key.max) + "]");
  }
  key.set(cfg, value);
}

json parse_flag_value(const config_key& key, const std::string& text) {
  const std::string name = key.name;
  if (key.type == config_key::text) return json(text);
  std::size_t used = 0;
  long long v = 0;
  try {
    v = std::stoll(text, &used);
  } catch (const std::exception&) {
    throw config_error(name + ": expected an integer, got '" + text + "'");
  }
  if (used != text.size()) throw config_error(name + ": expected an integer, got '" + text + "'");
  return json(v);
}

// A key is one token68-like word: visible ASCII, no spaces, long enough not to be guessed
// quickly. Errors describe the key, never quote it.
std::string checked_key(std::string key, const std::string& source) {
  while (!key.empty() && (key.back() == '\n' || key.back() == '\r' || key.back() == ' ' || key.back() == '\t'))
    key.pop_back();
  if (key.size() < 16 || key.size() > 4096)
    throw config_error(source + ": the API key must be 16 to 4096 characters (got " + std::to_string(key.size()) + ")");
  for (char c : key)
    if (c < 0x21 || c > 0x7e)
      throw config_error(source + ": the API key may hold only visible ASCII characters (no spaces)");
  return key;
}

}  // namespace

std::string checked_api_key(std::string key, const std::string& source) { return checked_key(std::move(key), source); }

namespace {

std::string load_api_key(const std::string& file, const char* env_value) {
  if (!file.empty()) {
    std::ifstream in(file, std::ios::binary);
    if (!in) throw config_error("api_key_file: cannot read " + file);
    std::ostringstream text;
    text << in.rdbuf();
    return checked_key(text.str(), "api_key_file");
  }
  if (env_value != nullptr && *env_value != '\0') return checked_key(env_value, api_key_env);
  return {};
}

std::string resolve(const std::string& path, const std::string& base_dir) {
  if (path.empty() || std::filesystem::path(path).is_absolute()) return path;
  return (std::filesystem::path(base_dir) / path).lexically_normal().string();
}

}  // namespace

server_config load_server_config(const std::string& json_text,
                                 const std::vector<std::pair<std::string, std::string>>& overrides,
                                 const std::string& base_dir) {
  json doc;
  try {
    doc = json::parse(json_text);
  } catch (const json::parse_error& e) {
    throw config_error(std::string("config: not valid JSON: ") + e.what());
  }
  if (!doc.is_object()) throw config_error("config: expected a JSON object at the top level");

  server_config cfg;
  for (const auto& [name, value] : doc.items()) {
    const config_key* key = find_key(name);
    if (!key) throw config_error(name + ": unknown configuration key");
    apply(cfg, *key, value);
  }
  for (const auto& [name, text] : overrides) {
    const config_key* key = find_key(name);
    if (!key) throw config_error(name + ": unknown configuration key");
    apply(cfg, *key, parse_flag_value(*key, text));
  }

  if (cfg.engine.model_path.empty()) throw config_error("model: required (path of a .bin or .gguf file)");
  if (const std::string error = engine_choice_error(cfg.engine); !error.empty()) throw config_error(error);
  if (cfg.host.empty()) throw config_error("host: must not be empty");
  if (cfg.engine.prefill_chunk > cfg.engine.max_tokens_per_step)
    throw config_error("prefill_chunk: must not exceed max_tokens_per_step (" +
                       std::to_string(cfg.engine.max_tokens_per_step) + ")");

  try {
    cfg.cors_allowed = parse_cors_origins(cfg.cors_origins);
  } catch (const std::invalid_argument& e) {
    throw config_error(std::string("cors_origins: ") + e.what());
  }

  cfg.engine.model_path = resolve(cfg.engine.model_path, base_dir);
  cfg.engine.tokenizer_path = resolve(cfg.engine.tokenizer_path, base_dir);
  cfg.console_dir = resolve(cfg.console_dir, base_dir);
  cfg.chat_template = resolve(cfg.chat_template, base_dir);
  cfg.api_key = load_api_key(cfg.api_key_file, std::getenv(api_key_env));
  if (!cfg.api_keys_file.empty()) {
    if (!cfg.api_key.empty())
      throw config_error(
          "api_keys_file: cannot be combined with api_key_file or $KVACTOR_API_KEY (one tenant: one line)");
    cfg.tenants = load_keys_file(resolve(cfg.api_keys_file, base_dir));
  } else {
    cfg.tenants = single_key_table(cfg.api_key);
  }
  if (cfg.model_name.empty()) cfg.model_name = std::filesystem::path(cfg.engine.model_path).stem().string();
  return cfg;
}

void check_model_files(const server_config& cfg) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_regular_file(cfg.engine.model_path, ec))
    throw config_error("model: file not found: " + cfg.engine.model_path);
  if (!cfg.engine.tokenizer_path.empty() && !fs::is_regular_file(cfg.engine.tokenizer_path, ec))
    throw config_error("tokenizer: file not found: " + cfg.engine.tokenizer_path);
  if (!cfg.chat_template.empty() && !fs::is_regular_file(cfg.chat_template, ec))
    throw config_error("chat_template: file not found: " + cfg.chat_template);
}

int default_max_connections(long long fd_limit) {
  const long long usable = (fd_limit - 64) / 2;
  return static_cast<int>(std::clamp<long long>(usable, 16, 1 << 22));
}

int effective_max_connections(const server_config& cfg) {
  if (cfg.max_connections > 0) return cfg.max_connections;
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) != 0) return default_max_connections(1024);
  const long long soft = lim.rlim_cur == RLIM_INFINITY ? (1LL << 23) : static_cast<long long>(lim.rlim_cur);
  return default_max_connections(soft);
}

std::string repository_dir() { return KVACTOR_REPOSITORY_DIR; }

std::string config_keys_help() {
  const server_config defaults;
  std::ostringstream out;
  for (const auto& k : keys()) {
    std::string flag = std::string("--") + k.name;
    for (auto& ch : flag)
      if (ch == '_') ch = '-';
    flag += k.type == config_key::integer ? " N" : " S";
    out << "  " << flag;
    for (std::size_t pad = flag.size(); pad < 26; ++pad) out << ' ';
    out << k.help;
    const json d = k.get(defaults);
    if (!(d.is_string() && d.get<std::string>().empty())) out << " (default " << d.dump() << ")";
    out << '\n';
  }
  return out.str();
}

}  // namespace kvactor::http
