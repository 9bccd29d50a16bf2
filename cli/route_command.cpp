// `kvactor route`: serves the HTTP API of `kvactor serve` in front of several nodes
// (`kvactor serve --node-port P`), routing each request by cached prefix (docs/cluster.md).
// The HTTP layer is the same; only the generation_service behind it differs.
// Compiled empty where the cluster library is not built (no libcaf_io).
#ifdef KVACTOR_HAVE_CLUSTER
#include <signal.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "cli/command.hpp"
#include "cli/service_startup.hpp"
#include "cluster/cluster_router.hpp"
#include "cluster/router_settings.hpp"
#include "http/server.hpp"
#include "http/server_config.hpp"

namespace {

using kvactor::cluster::router_settings;

void print_usage(FILE* out) {
  std::fprintf(out,
               "usage: kvactor route --nodes HOST:PORT[,HOST:PORT...] [--policy P] [--config FILE] [--KEY VALUE ...]\n"
               "\n"
               "Serves the HTTP API of `kvactor serve` and runs every generation on one of the nodes\n"
               "(each started with `kvactor serve --node-port PORT`), until SIGTERM or SIGINT.\n"
               "The router loads the tokenizer and model header only to tokenize and validate.\n"
               "\n"
               "  --nodes LIST              the nodes' --node-port addresses, comma-separated\n"
               "  --policy P                prefix (default) | least-loaded | random | round-robin\n"
               "  --balance-margin N        prefix: the best-matching node may carry at most N more\n"
               "                            requests than the least-loaded one (default 4)\n"
               "  --min-match-tokens N      prefix: shorter cached matches count as none (default: the\n"
               "                            page size; a node reuses whole pages only, so less is no hit)\n"
               "  --tree-tokens N           tokens remembered per node (approximate prefix tree; default 65536)\n"
               "  --max-attempts N          nodes tried for a request whose node is lost before its first\n"
               "                            token (default 3)\n"
               "  --reconnect-ms N          delay between reconnection attempts (default 500)\n"
               "  --seed N                  random policy seed (default 1)\n"
               "  --config FILE             JSON configuration, as for serve (host, port, model, tokenizer, ...)\n"
               "  --help                    this text\n"
               "\n"
               "Other flags are serve's configuration keys (see kvactor serve --help); engine keys\n"
               "(num_pages, max_batch, ...) configure the nodes, not the router, and are ignored here.\n"
               "GET /v1/inspect/cluster shows the nodes, their load, cache size and hit rate.\n"
               "\n"
               "Exit status: 0 after a clean shutdown, 1 the router could not start, 2 bad flags.\n");
}

// Plain non-negative decimal within [lo, hi]; false otherwise.
bool parse_count(const std::string& text, long lo, long hi, long& out) {
  if (text.empty() || text.size() > 12 || text.find_first_not_of("0123456789") != std::string::npos) return false;
  out = std::stol(text);
  return out >= lo && out <= hi;
}

// Applies one router flag; "" when done, else the complaint.
std::string apply_router_flag(router_settings& s, const std::string& key, const std::string& value) {
  long n = 0;
  if (key == "nodes") {
    auto parsed = kvactor::cluster::parse_node_list(value);
    if (auto* err = std::get_if<std::string>(&parsed)) return "--nodes: " + *err;
    s.nodes = std::get<std::vector<kvactor::cluster::node_address>>(parsed);
  } else if (key == "policy") {
    auto kind = kvactor::cluster::parse_routing_policy(value);
    if (!kind) return "--policy must be prefix, least-loaded, random or round-robin (got '" + value + "')";
    s.routing.kind = *kind;
  } else if (key == "balance_margin") {
    if (!parse_count(value, 0, 1000000, n)) return "--balance-margin must be a number in 0..1000000";
    s.routing.balance_margin = static_cast<int>(n);
  } else if (key == "min_match_tokens") {
    if (!parse_count(value, 1, 1000000, n)) return "--min-match-tokens must be a number in 1..1000000";
    s.routing.min_match_tokens = static_cast<std::size_t>(n);
  } else if (key == "tree_tokens") {
    if (!parse_count(value, 1, 100000000, n)) return "--tree-tokens must be a number in 1..100000000";
    s.tree_tokens = static_cast<std::size_t>(n);
  } else if (key == "max_attempts") {
    if (!parse_count(value, 1, 100, n)) return "--max-attempts must be a number in 1..100";
    s.max_attempts = static_cast<int>(n);
  } else if (key == "reconnect_ms") {
    if (!parse_count(value, 10, 3600000, n)) return "--reconnect-ms must be a number in 10..3600000";
    s.reconnect_interval = std::chrono::milliseconds(n);
  } else if (key == "seed") {
    if (!parse_count(value, 0, 999999999999L, n)) return "--seed must be plain digits";
    s.routing.seed = static_cast<uint64_t>(n);
  } else {
    return "?";  // not a router flag
  }
  return "";
}

int route(int argc, char** argv) {
  std::string config_path = "configs/default.json";
  std::vector<std::pair<std::string, std::string>> overrides;
  router_settings settings;
  bool min_match_given = false;
  // The flags before a --help or a malformed argument are applied first, in order, as they
  // were read: an earlier bad value is still the error reported.
  const auto flags = kvactor::cli::parse_key_value_flags(argc, argv);
  for (const auto& [key, value] : flags.pairs) {
    if (key == "config") {
      config_path = value;
      continue;
    }
    if (key == "min_match_tokens") min_match_given = true;
    const std::string complaint = apply_router_flag(settings, key, value);
    if (complaint == "?")
      overrides.emplace_back(key, value);
    else if (!complaint.empty()) {
      std::fprintf(stderr, "kvactor route: %s\n", complaint.c_str());
      return 2;
    }
  }
  if (flags.help) {
    print_usage(stdout);
    return 0;
  }
  if (!flags.error.empty()) {
    std::fprintf(stderr, "kvactor route: %s\n", flags.error.c_str());
    return 2;
  }
  if (settings.nodes.empty()) {
    std::fprintf(stderr, "kvactor route: --nodes HOST:PORT[,HOST:PORT...] is required (see --help)\n");
    return 2;
  }

  kvactor::http::server_config cfg;
  try {
    cfg = kvactor::cli::load_service_config(config_path, overrides);
  } catch (const kvactor::http::config_error& e) {
    std::fprintf(stderr, "kvactor route: invalid configuration: %s\n", e.what());
    return 2;
  }

  if (!min_match_given) settings.routing.min_match_tokens = static_cast<std::size_t>(cfg.engine.page_size);

  const sigset_t stop_signals = kvactor::cli::block_stop_signals();

  std::unique_ptr<kvactor::cluster::cluster_router> router;
  std::unique_ptr<kvactor::http::http_server> server;
  try {
    router = std::make_unique<kvactor::cluster::cluster_router>(cfg.engine, settings);
    server = std::make_unique<kvactor::http::http_server>(cfg, *router);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "kvactor route: %s\n", e.what());
    return 1;
  }
  std::fprintf(stderr, "kvactor route: %zu node(s), policy %s, on http://%s:%u\n", settings.nodes.size(),
               kvactor::cluster::routing_policy_name(settings.routing.kind), cfg.host.c_str(),
               static_cast<unsigned>(server->port()));
  std::fflush(stderr);

  const int signal_number = kvactor::cli::wait_for_stop_signal(stop_signals);
  std::fprintf(stderr, "kvactor route: %s: draining (up to %d ms)\n", strsignal(signal_number), cfg.drain_timeout_ms);
  server->shutdown(std::chrono::milliseconds(cfg.drain_timeout_ms));
  server.reset();
  router.reset();
  std::fprintf(stderr, "kvactor route: stopped\n");
  return 0;
}

const kvactor::cli::register_command reg("route",
                                         {"serve the HTTP API in front of several `serve --node-port` nodes", route});

}  // namespace
#endif  // KVACTOR_HAVE_CLUSTER
