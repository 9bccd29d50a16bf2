#include "http/tenant_view.hpp"

#include <nlohmann/json.hpp>

namespace kvactor::http {
namespace {

using nlohmann::json;

bool owned(const json& item, const viewer& v) {
  return item.is_object() && item.value("tenant", uint32_t{0}) == v.tenant;
}

std::string tenant_name(const tenant_table& tenants, uint32_t id) {
  const tenant* t = tenants.by_id(id);
  return t != nullptr ? t->name : id == 0 ? "default" : "tenant-" + std::to_string(id);
}

// Cached pages per tenant from the tree's namespace list.
json tenants_accounting(const json& tree, const viewer& v, const tenant_table& tenants) {
  std::map<uint32_t, long long> pages;
  if (tree.contains("namespaces") && tree["namespaces"].is_array())
    for (const auto& n : tree["namespaces"])
      pages[tenant_of_namespace(n.value("ns", uint64_t{0}))] += n.value("cached_pages", 0LL);
  json out = json::array();
  for (const auto& [id, count] : pages)
    if (v.admin || id == v.tenant) out.push_back({{"tenant", tenant_name(tenants, id)}, {"cached_pages", count}});
  return out;
}

void keep_own_tree(json& tree, const viewer& v) {
  if (tree.contains("children") && tree["children"].is_array()) {
    json kept = json::array();
    long long below = 0;
    for (auto& c : tree["children"])
      if (tenant_of_namespace(c.value("ns", uint64_t{0})) == v.tenant) {
        below += 1 + c.value("pages_below", 0LL);
        kept.push_back(std::move(c));
      }
    tree["children"] = std::move(kept);
    tree["pages_below"] = below;
  }
  if (tree.contains("namespaces") && tree["namespaces"].is_array()) {
    json kept = json::array();
    for (auto& n : tree["namespaces"])
      if (tenant_of_namespace(n.value("ns", uint64_t{0})) == v.tenant) kept.push_back(std::move(n));
    tree["namespaces"] = std::move(kept);
  }
}

}  // namespace

std::string requests_for(const std::string& snapshot, const viewer& v) {
  if (v.admin) return snapshot;
  json doc = json::parse(snapshot, nullptr, false);
  if (!doc.is_object() || !doc.contains("requests") || !doc["requests"].is_array()) return snapshot;
  json kept = json::array();
  for (auto& r : doc["requests"])
    if (owned(r, v)) kept.push_back(std::move(r));
  doc["requests"] = std::move(kept);
  return doc.dump(-1, ' ', false, json::error_handler_t::replace);
}

bool request_visible(const std::string& snapshot, const viewer& v) {
  if (v.admin) return true;
  const json doc = json::parse(snapshot, nullptr, false);
  return owned(doc, v);
}

std::string cache_for(const std::string& snapshot, const viewer& v, const tenant_table& tenants) {
  json doc = json::parse(snapshot, nullptr, false);
  if (!doc.is_object() || !doc.contains("tree") || !doc["tree"].is_object()) return snapshot;
  doc["tenants"] = tenants_accounting(doc["tree"], v, tenants);
  if (!v.admin) {
    keep_own_tree(doc["tree"], v);
    json own_pages = 0;
    if (!doc["tenants"].empty()) own_pages = doc["tenants"][0]["cached_pages"];
    const json page_size = doc.value("page_size", json());
    json tree = std::move(doc["tree"]);
    json tenants_json = std::move(doc["tenants"]);
    doc = json{{"page_size", page_size},
               {"trie", {{"cached_pages", own_pages}}},
               {"tenants", std::move(tenants_json)},
               {"tree", std::move(tree)}};
  }
  return doc.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::shared_ptr<void> tenant_gate::enter(uint32_t tenant, int limit) {
  {
    std::lock_guard<std::mutex> guard(mutex_);
    int& n = counts_[tenant];
    if (limit > 0 && n >= limit) return nullptr;
    ++n;
  }
  // Any non-null pointer: the slot owns nothing, its deleter only counts down.
  return std::shared_ptr<void>(static_cast<void*>(this), [this, tenant](void*) {
    std::lock_guard<std::mutex> guard(mutex_);
    if (--counts_[tenant] == 0) counts_.erase(tenant);
  });
}

int tenant_gate::in_flight(uint32_t tenant) const {
  std::lock_guard<std::mutex> guard(mutex_);
  auto it = counts_.find(tenant);
  return it == counts_.end() ? 0 : it->second;
}

}  // namespace kvactor::http
