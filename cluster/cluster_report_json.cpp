#include "cluster/cluster_report_json.hpp"

#include <nlohmann/json.hpp>

#include "actors/actor_snapshot.hpp"

namespace kvactor::cluster {
namespace {

using nlohmann::json;

// A node's answer as JSON; discarded (not an object) when it did not answer or sent no JSON.
json parsed(const node_report& n) {
  if (!n.answered) return json(json::value_t::discarded);
  return json::parse(n.snapshot.json, nullptr, false);
}

bool usable(const json& m) { return m.is_object() && !m.contains("error"); }

// Numbers add up; objects add up key by key; anything else keeps the first value.
void add_into(json& sum, const json& part) {
  if (sum.is_number() && part.is_number()) {
    if (sum.is_number_float() || part.is_number_float())
      sum = sum.get<double>() + part.get<double>();
    else
      sum = sum.get<int64_t>() + part.get<int64_t>();
  } else if (sum.is_object() && part.is_object()) {
    for (auto& [k, v] : part.items()) {
      if (sum.contains(k))
        add_into(sum[k], v);
      else
        sum[k] = v;
    }
  }
}

json cluster_json(const cluster_report& r) {
  json nodes = json::array();
  int64_t hit = 0, queried = 0;
  for (const auto& s : r.nodes) {
    json n = {{"address", s.address},
              {"state", s.state},
              {"in_flight", s.in_flight},
              {"routed", s.routed},
              {"prefix_routed", s.prefix_routed},
              {"moved_away", s.moved_away},
              {"lost", s.lost},
              {"connects", s.connects},
              {"tree_tokens", s.tree_tokens},
              {"last_error", s.last_error}};
    const json m = parsed(s);  // the node's "metrics"
    if (usable(m)) {
      const int64_t h = m.value("cache_hit_tokens", int64_t{0}), q = m.value("cache_queried_tokens", int64_t{0});
      hit += h;
      queried += q;
      n["running"] = m.value("running", 0);
      n["queue_depth"] = m.value("queue_depth", 0);
      n["cache_hit_tokens"] = h;
      n["cache_queried_tokens"] = q;
      n["hit_rate"] = q > 0 ? static_cast<double>(h) / static_cast<double>(q) : 0.0;
      if (m.contains("pages") && m["pages"].is_object()) {
        const auto& p = m["pages"];
        n["pages"] = p;
        n["cached_pages"] = p.value("cached_locked", 0) + p.value("cached_evictable", 0);
      }
    }
    nodes.push_back(std::move(n));
  }
  return {{"policy", r.policy},
          {"balance_margin", r.balance_margin},
          {"nodes", nodes},
          {"requests",
           {{"routed", r.requests.routed},
            {"prefix_routed", r.requests.prefix_routed},
            {"retried", r.requests.retried},
            {"node_lost", r.requests.node_lost},
            {"no_node", r.requests.no_node}}},
          {"cache_hit_tokens", hit},
          {"cache_queried_tokens", queried},
          {"hit_rate", queried > 0 ? static_cast<double>(hit) / static_cast<double>(queried) : 0.0}};
}

}  // namespace

std::string cluster_error_text(const std::string& code, const std::string& message) {
  return json{{"error", {{"code", code}, {"message", message}}}}.dump();
}

std::string cluster_report_text(const cluster_report& r) {
  if (r.what == "cluster") return snapshot_text(cluster_json(r));
  if (r.what == "metrics") {
    json sum = json::object();
    for (const auto& n : r.nodes)
      if (const json m = parsed(n); usable(m)) add_into(sum, m);
    return snapshot_text(sum);
  }
  if (r.what.rfind("request:", 0) == 0) {
    for (const auto& n : r.nodes)
      if (usable(parsed(n))) return n.snapshot.json;  // the node's text as it is
    return cluster_error_text("NOT_FOUND", "no node knows request '" + r.what.substr(8) + "'");
  }
  json nodes = json::array();
  for (const auto& n : r.nodes) {
    if (!n.asked) continue;
    json snapshot = parsed(n);
    if (snapshot.is_discarded()) snapshot = nullptr;
    nodes.push_back({{"address", n.address}, {"snapshot", snapshot}});
  }
  return snapshot_text(json{{"nodes", nodes}});
}

}  // namespace kvactor::cluster
