// Tenants (issue 20): who a request's API key belongs to, and the prefix-cache namespace
// its prompts may share. Pure functions, tested without a socket (http/API.md, "Tenants").
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace kvactor::http {

struct tenant {
  std::string name;
  std::string key;     // never logged, never printed
  bool admin = false;  // sees every tenant under /v1/inspect/*
  int32_t weight = 1;  // fair-share weight in admission, >= 1
  uint32_t id = 0;     // 0: the single key (or none); keys-file tenants count from 1 in file order
};

// The tenants a server knows: empty means no authentication (everyone is tenant 0, admin).
struct tenant_table {
  std::vector<tenant> tenants;

  bool empty() const { return tenants.empty(); }
  // The tenant whose key is the Bearer token of `authorization`, else nullptr. Every key
  // is compared, each in constant time, so the answer's timing depends only on how many
  // keys there are.
  const tenant* authenticate(std::string_view authorization) const;
  const tenant* by_id(uint32_t id) const;
};

// The one tenant of a single-key server (api_key_file / $KVACTOR_API_KEY): "default", admin.
tenant_table single_key_table(std::string key);

// Parses a keys file: either lines "name key [admin] [weight=N]" ('#' starts a comment,
// blank lines skipped) or a JSON object {"name": "key"} / {"name": {"key": "...",
// "admin": true, "weight": 2}}. Names are 1-64 of [A-Za-z0-9_.-]; keys follow the
// single key's rules. Throws config_error ("api_keys_file: line N: ...") for a bad
// format, a duplicate name or key, or no tenant; messages never contain a key.
tenant_table parse_keys_file(const std::string& text);
// Reads and parses the file; an unreadable or missing file is a config_error too.
tenant_table load_keys_file(const std::string& path);

// The trie namespace of (tenant, cache_salt): the tenant id in the upper 32 bits, so no
// salt reaches another tenant's namespace; a salt picks a namespace of its own inside
// the tenant. Tenant 0 without a salt is namespace 0, as before tenants existed.
uint64_t cache_namespace(uint32_t tenant_id, std::string_view cache_salt);
inline uint32_t tenant_of_namespace(uint64_t ns) { return static_cast<uint32_t>(ns >> 32); }

}  // namespace kvactor::http
