// What a tenant may see under /v1/inspect/* (issue 20): its own requests and cache nodes
// only; an admin tenant (or a server without keys) sees everything. Also the per-tenant
// in-flight limit. Plain functions over the engine's JSON snapshots (http/API.md, "Tenants").
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "http/tenants.hpp"

namespace kvactor::http {

struct viewer {
  uint32_t tenant = 0;
  bool admin = true;
};

// {"requests":[...]}: only the viewer's requests.
std::string requests_for(const std::string& snapshot, const viewer& v);
// One request's snapshot: false if it belongs to another tenant (answered as not found).
bool request_visible(const std::string& snapshot, const viewer& v);
// The cache snapshot with "tenants": [{"tenant", "cached_pages"}] (pages per tenant, from
// the namespace roots). A non-admin sees only its own tree and accounting; the pool-wide
// counters and page states (which move with other tenants' traffic) are left out.
std::string cache_for(const std::string& snapshot, const viewer& v, const tenant_table& tenants);

// Requests in flight per tenant. enter() returns a slot held until the request is done
// (released when the last copy goes), or nullptr when the tenant is at `limit` (0 = none).
class tenant_gate {
 public:
  std::shared_ptr<void> enter(uint32_t tenant, int limit);
  int in_flight(uint32_t tenant) const;

 private:
  mutable std::mutex mutex_;
  std::map<uint32_t, int> counts_;
};

}  // namespace kvactor::http
