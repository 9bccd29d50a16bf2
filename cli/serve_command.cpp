// `kvactor serve`: the HTTP service. Loads configs/default.json (or --config), applies
// flag overrides, starts the engine and the server, and on SIGTERM/SIGINT drains:
// stop accepting, let in-flight requests finish (bounded), return every page, exit 0.
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "actors/gateway.hpp"
#include "cli/command.hpp"
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
               "Serves the HTTP API (POST /generate, POST /v1/completions, GET /v1/models, /health,\n"
               "/metrics, /v1/inspect/*, /console) until SIGTERM or SIGINT, then drains and exits 0.\n"
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

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw kvactor::http::config_error("config: cannot read " + path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string find_config(const std::string& given) {
  namespace fs = std::filesystem;
  if (fs::path(given).is_absolute() || fs::exists(given)) return given;
  const auto in_repo = fs::path(kvactor::http::repository_dir()) / given;
  if (fs::exists(in_repo)) return in_repo.string();
  throw kvactor::http::config_error("config: file not found: " + given);
}

// Many idle keep-alive clients need descriptors: take what the hard limit allows.
void raise_descriptor_limit() {
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    setrlimit(RLIMIT_NOFILE, &lim);
  }
}

int serve(int argc, char** argv) {
  std::string config_path = "configs/default.json";
  std::vector<std::pair<std::string, std::string>> overrides;
  std::string node_port_text, node_host;  // cluster node mode (docs/cluster.md)
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      print_usage(stdout);
      return 0;
    }
    if (arg.rfind("--", 0) != 0) {
      std::fprintf(stderr, "kvactor serve: unexpected argument '%s' (see --help)\n", arg.c_str());
      return 2;
    }
    std::string key = arg.substr(2), value;
    const auto eq = key.find('=');
    if (eq != std::string::npos) {
      value = key.substr(eq + 1);
      key.resize(eq);
    } else if (i + 1 < argc) {
      value = argv[++i];
    } else {
      std::fprintf(stderr, "kvactor serve: %s needs a value\n", arg.c_str());
      return 2;
    }
    for (auto& c : key)
      if (c == '-') c = '_';
    if (key == "config")
      config_path = value;
    else if (key == "node_port")
      node_port_text = value;
    else if (key == "node_host")
      node_host = value;
    else
      overrides.emplace_back(key, value);
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
    const std::string path = find_config(config_path);
    cfg = kvactor::http::load_server_config(read_file(path), overrides, kvactor::http::repository_dir());
    kvactor::http::check_model_files(cfg);
  } catch (const kvactor::http::config_error& e) {
    std::fprintf(stderr, "kvactor serve: invalid configuration: %s\n", e.what());
    return 2;
  }

  // Signals are taken by sigwait below: block them before any thread starts so every
  // engine and io thread inherits the mask and none is interrupted by them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);
  raise_descriptor_limit();

  std::fprintf(stderr, "kvactor serve: loading %s\n", cfg.engine.model_path.c_str());
  kvactor::gateway engine(cfg.engine);
  kvactor::http::http_server server(cfg, engine);
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

  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  std::fprintf(stderr, "kvactor serve: %s: draining (up to %d ms)\n", strsignal(signal_number), cfg.drain_timeout_ms);
  server.shutdown(std::chrono::milliseconds(cfg.drain_timeout_ms));
#ifdef KVACTOR_HAVE_CLUSTER
  node.reset();  // after the drain: routers' requests here have ended
#endif
  std::fprintf(stderr, "kvactor serve: stopped\n");
  return 0;
}

const kvactor::cli::register_command reg("serve", {"serve the HTTP API (generate, completions, metrics, inspect)", serve});

}  // namespace
