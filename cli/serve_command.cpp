// `kvactor serve`: the HTTP service. Loads configs/default.json (or --config), applies
// flag overrides, starts the engine and the server, and on SIGTERM/SIGINT drains:
// stop accepting, let in-flight requests finish (bounded), return every page, exit 0.
#include <signal.h>
#include <sys/resource.h>

#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "actors/gateway.hpp"
#include "cli/command.hpp"
#include "cli/service_startup.hpp"
#include "http/server.hpp"
#include "http/server_config.hpp"
#ifdef KVACTOR_HAVE_CLUSTER
#include "cluster/cluster_node.hpp"
#endif

namespace {

void print_usage(FILE* out) {
  std::fprintf(out,
               "usage: kvactor serve [--config FILE] [--host H] [--port P] [--KEY VALUE ...]\n"
               "\n"
               "Serves the HTTP API (POST /generate, /v1/completions, /v1/chat/completions, /apply-template,\n"
               "GET /v1/models, /health, /metrics, /v1/inspect/*, /console) until SIGTERM or SIGINT, then\n"
               "drains and exits 0.\n"
               "\n"
               "  --config FILE             JSON configuration (default configs/default.json; a relative\n"
               "                            FILE is looked up in the current directory, then the repository)\n"
               "  --node-port P             also publish this node's actor for `kvactor route` (CAF\n"
               "                            middleman) on port P (0 = ephemeral; the port is logged)\n"
               "  --node-host H             interface for --node-port (default: the HTTP --host)\n"
               "  --help                    this text\n"
               "\n"
               "Every configuration key is also a flag (underscores or dashes), overriding the file.\n"
               "Relative paths in the configuration resolve against the repository (%s).\n"
               "\n%s\n"
               "Exit status: 0 after a clean shutdown, 1 the engine or server could not start,\n"
               "2 bad flags or an invalid configuration (the message names the key).\n",
               kvactor::http::repository_dir().c_str(), kvactor::http::config_keys_help().c_str());
}

// Many idle keep-alive clients need descriptors: take what the hard limit allows, and
// say what was got (max_connections 0 is sized from it).
void raise_descriptor_limit() {
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) != 0) return;
  const auto before = lim.rlim_cur;
  if (lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &lim) != 0) lim.rlim_cur = before;
  }
  auto text = [](rlim_t v) { return v == RLIM_INFINITY ? std::string("unlimited") : std::to_string(v); };
  std::fprintf(stderr, "kvactor serve: file descriptor limit %s (was %s, hard limit %s)\n", text(lim.rlim_cur).c_str(),
               text(before).c_str(), text(lim.rlim_max).c_str());
}

int serve(int argc, char** argv) {
  std::string config_path = "configs/default.json";
  std::vector<std::pair<std::string, std::string>> overrides;
  std::string node_port_text, node_host;  // cluster node mode (docs/cluster.md)
  // The flags before a --help or a malformed argument are applied first, in order, as they
  // were read: an earlier bad value is still the error reported.
  const auto flags = kvactor::cli::parse_key_value_flags(argc, argv);
  for (const auto& [key, value] : flags.pairs) {
    if (key == "config")
      config_path = value;
    else if (key == "node_port")
      node_port_text = value;
    else if (key == "node_host")
      node_host = value;
    else
      overrides.emplace_back(key, value);
  }
  if (flags.help) {
    print_usage(stdout);
    return 0;
  }
  if (!flags.error.empty()) {
    std::fprintf(stderr, "kvactor serve: %s\n", flags.error.c_str());
    return 2;
  }

  int node_port = -1;
  if (!node_port_text.empty()) {
    if (node_port_text.size() > 5 || node_port_text.find_first_not_of("0123456789") != std::string::npos ||
        std::stoi(node_port_text) > 65535) {
      std::fprintf(stderr, "kvactor serve: --node-port must be a port number (0..65535), got '%s'\n",
                   node_port_text.c_str());
      return 2;
    }
    node_port = std::stoi(node_port_text);
  }
#ifndef KVACTOR_HAVE_CLUSTER
  if (node_port >= 0) {
    std::fprintf(stderr, "kvactor serve: --node-port: this build has no cluster support (libcaf_io missing)\n");
    return 2;
  }
#endif

  kvactor::http::server_config cfg;
  try {
    cfg = kvactor::cli::load_service_config(config_path, overrides);
  } catch (const kvactor::http::config_error& e) {
    std::fprintf(stderr, "kvactor serve: invalid configuration: %s\n", e.what());
    return 2;
  }

  // Signals are taken by sigwait below: block them before any thread starts so every
  // engine and io thread inherits the mask and none is interrupted by them.
  const sigset_t stop_signals = kvactor::cli::block_stop_signals();
  raise_descriptor_limit();

  std::fprintf(stderr, "kvactor serve: loading %s\n", cfg.engine.model_path.c_str());
  kvactor::gateway engine(cfg.engine);
  kvactor::http::http_server server(cfg, engine);
  std::fprintf(stderr, "kvactor serve: chat template: %s\n", server.chat_template_origin().c_str());
  std::fprintf(stderr,
               "kvactor serve: max_connections %d%s, per client address %d connections and %d requests in flight\n",
               server.max_connections(), cfg.max_connections == 0 ? " (from the descriptor limit)" : "",
               cfg.max_connections_per_client, cfg.max_requests_per_client);
  std::fprintf(stderr, "kvactor serve: model %s on http://%s:%u (console at /console)\n", cfg.model_name.c_str(),
               cfg.host.c_str(), static_cast<unsigned>(server.port()));
#ifdef KVACTOR_HAVE_CLUSTER
  std::unique_ptr<kvactor::cluster::cluster_node> node;
  if (node_port >= 0) {
    const std::string host = node_host.empty() ? cfg.host : node_host;
    try {
      node = std::make_unique<kvactor::cluster::cluster_node>(engine, host, static_cast<uint16_t>(node_port));
    } catch (const std::exception& e) {
      std::fprintf(stderr, "kvactor serve: %s\n", e.what());
      return 1;
    }
    std::fprintf(stderr, "kvactor serve: cluster node on %s:%u\n", host.c_str(), static_cast<unsigned>(node->port()));
  }
#endif
  std::fflush(stderr);

  const int signal_number = kvactor::cli::wait_for_stop_signal(stop_signals);
  std::fprintf(stderr, "kvactor serve: %s: draining (up to %d ms)\n", strsignal(signal_number), cfg.drain_timeout_ms);
  server.shutdown(std::chrono::milliseconds(cfg.drain_timeout_ms));
#ifdef KVACTOR_HAVE_CLUSTER
  node.reset();  // after the drain: routers' requests here have ended
#endif
  std::fprintf(stderr, "kvactor serve: stopped\n");
  return 0;
}

const kvactor::cli::register_command reg("serve",
                                         {"serve the HTTP API (generate, completions, metrics, inspect)", serve});

}  // namespace
