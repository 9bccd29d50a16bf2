// What `kvactor route` needs to know about its cluster, and the parser for --nodes.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "cluster/routing_policy.hpp"

namespace kvactor::cluster {

struct node_address {
  std::string host;
  uint16_t port = 0;
  std::string text() const { return host + ":" + std::to_string(port); }
};

struct router_settings {
  std::vector<node_address> nodes;
  routing_settings routing;
  std::size_t tree_tokens = 1 << 16;        // per node: the approximate tree forgets past this
  std::size_t routed_prefix_tokens = 2048;  // prompt tokens the trees look at
  std::chrono::milliseconds reconnect_interval{500};
  std::chrono::milliseconds inspect_timeout{2000};
  int max_attempts = 3;  // nodes tried per request when a node is lost before its first token
};

// "host:port,host:port" (IPv4 or names; "[v6]:port" too) -> addresses, or a message naming
// the bad entry. Duplicates are refused: one node counted twice would skew routing.
std::variant<std::vector<node_address>, std::string> parse_node_list(const std::string& text);

}  // namespace kvactor::cluster
