#include "cluster/routing_policy.hpp"

#include <algorithm>

namespace kvactor::cluster {

std::optional<routing_policy_kind> parse_routing_policy(const std::string& name) {
  std::string n = name;
  std::replace(n.begin(), n.end(), '_', '-');
  if (n == "prefix") return routing_policy_kind::prefix;
  if (n == "least-loaded") return routing_policy_kind::least_loaded;
  if (n == "random") return routing_policy_kind::random;
  if (n == "round-robin") return routing_policy_kind::round_robin;
  return std::nullopt;
}

const char* routing_policy_name(routing_policy_kind kind) {
  switch (kind) {
    case routing_policy_kind::prefix: return "prefix";
    case routing_policy_kind::least_loaded: return "least-loaded";
    case routing_policy_kind::random: return "random";
    case routing_policy_kind::round_robin: return "round-robin";
  }
  return "?";
}

routing_policy::routing_policy(routing_settings settings) : settings_(settings), rng_(settings.seed) {}

std::optional<std::size_t> routing_policy::least_loaded(const std::vector<node_view>& nodes) {
  std::optional<std::size_t> best;
  const std::size_t n = nodes.size();
  for (std::size_t k = 0; k < n; ++k) {
    const std::size_t i = (turn_ + k) % n;
    if (nodes[i].up && (!best || nodes[i].load < nodes[*best].load)) best = i;
  }
  if (best) turn_ = *best + 1;
  return best;
}

std::optional<routing_choice> routing_policy::choose(const std::vector<node_view>& nodes) {
  if (nodes.empty()) return std::nullopt;
  switch (settings_.kind) {
    case routing_policy_kind::least_loaded: {
      auto i = least_loaded(nodes);
      if (!i) return std::nullopt;
      return routing_choice{*i, false};
    }
    case routing_policy_kind::random: {
      std::vector<std::size_t> up;
      for (std::size_t i = 0; i < nodes.size(); ++i)
        if (nodes[i].up) up.push_back(i);
      if (up.empty()) return std::nullopt;
      std::uniform_int_distribution<std::size_t> pick(0, up.size() - 1);
      return routing_choice{up[pick(rng_)], false};
    }
    case routing_policy_kind::round_robin: {
      for (std::size_t k = 0; k < nodes.size(); ++k) {
        const std::size_t i = (turn_ + k) % nodes.size();
        if (nodes[i].up) {
          turn_ = i + 1;
          return routing_choice{i, false};
        }
      }
      return std::nullopt;
    }
    case routing_policy_kind::prefix: {
      auto lightest = least_loaded(nodes);
      if (!lightest) return std::nullopt;
      // Longest match; among equal matches the lighter node.
      std::optional<std::size_t> best;
      for (std::size_t i = 0; i < nodes.size(); ++i) {
        const auto& v = nodes[i];
        if (!v.up || v.match_tokens < std::max<std::size_t>(settings_.min_match_tokens, 1)) continue;
        if (!best || v.match_tokens > nodes[*best].match_tokens ||
            (v.match_tokens == nodes[*best].match_tokens && v.load < nodes[*best].load))
          best = i;
      }
      if (best && nodes[*best].load - nodes[*lightest].load <= settings_.balance_margin)
        return routing_choice{*best, true};
      return routing_choice{*lightest, false};
    }
  }
  return std::nullopt;
}

}  // namespace kvactor::cluster
