#include "http/inspect_bounds.hpp"

#include <deque>
#include <utility>

#include <nlohmann/json.hpp>

namespace kvactor::http {

std::string bound_cache_tree(const std::string& cache_json, int depth, int max_nodes) {
  using nlohmann::json;
  json doc = json::parse(cache_json, nullptr, false);
  if (!doc.is_object() || !doc.contains("tree") || !doc["tree"].is_object()) return cache_json;

  // Breadth-first so the nodes kept are the ones nearest the root.
  int kept = 1;
  bool truncated = false;
  std::deque<std::pair<json*, int>> queue{{&doc["tree"], 0}};
  while (!queue.empty()) {
    auto [node, level] = queue.front();
    queue.pop_front();
    if (!node->contains("children") || !(*node)["children"].is_array()) continue;
    json& children = (*node)["children"];
    if (level + 1 > depth) {
      if (!children.empty()) truncated = true;
      children = json::array();
      continue;
    }
    std::size_t keep = 0;
    while (keep < children.size() && kept < max_nodes) {
      ++keep;
      ++kept;
    }
    if (keep < children.size()) {
      truncated = true;
      children.erase(children.begin() + static_cast<std::ptrdiff_t>(keep), children.end());
    }
    for (auto& child : children) queue.emplace_back(&child, level + 1);
  }
  if (truncated) doc["tree"]["truncated"] = true;
  return doc.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace kvactor::http
