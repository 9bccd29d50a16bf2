// Which node gets a request. Pure code (no CAF, no clock): the router actor feeds it a
// view of the nodes and it answers an index, so every policy is unit-tested directly.
//
//   prefix        the node whose approximate tree holds the longest prefix of the prompt,
//                 unless its load exceeds the least-loaded node's by more than
//                 `balance_margin` requests; otherwise (or with no match) the least loaded
//   least_loaded  fewest requests in flight
//   random        uniformly among the nodes that are up (seeded: runs are repeatable)
//   round_robin   the next node that is up
// Ties between equally loaded nodes rotate, so an idle cluster spreads cold prompts.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <vector>

namespace kvactor::cluster {

enum class routing_policy_kind { prefix, least_loaded, random, round_robin };

// "prefix" | "least-loaded" | "random" | "round-robin" (underscores accepted); nullopt otherwise.
std::optional<routing_policy_kind> parse_routing_policy(const std::string& name);
const char* routing_policy_name(routing_policy_kind kind);

struct routing_settings {
  routing_policy_kind kind = routing_policy_kind::prefix;
  int balance_margin = 4;  // prefix: tolerated extra load on the best-matching node
  // prefix: shorter matches count as no match. `kvactor route` sets the engine's page size:
  // a node reuses whole pages only, and prompts that share just BOS and a word or two
  // would otherwise all pile onto the first node that saw one.
  std::size_t min_match_tokens = 1;
  uint64_t seed = 1;  // random
};

struct node_view {
  bool up = false;
  int load = 0;                  // requests in flight on that node (as the router counts them)
  std::size_t match_tokens = 0;  // longest prefix of the prompt in that node's tree
};

struct routing_choice {
  std::size_t node = 0;
  bool by_prefix = false;  // chosen for its cached prefix (else for load, chance or turn)
};

class routing_policy {
 public:
  explicit routing_policy(routing_settings settings);
  // nullopt when no node is up.
  std::optional<routing_choice> choose(const std::vector<node_view>& nodes);
  const routing_settings& settings() const { return settings_; }

 private:
  std::optional<std::size_t> least_loaded(const std::vector<node_view>& nodes);

  routing_settings settings_;
  std::mt19937_64 rng_;
  std::size_t turn_ = 0;  // rotation for round-robin and for breaking load ties
};

}  // namespace kvactor::cluster
