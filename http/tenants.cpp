#include "http/tenants.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "http/authorization.hpp"
#include "http/server_config.hpp"

namespace kvactor::http {
namespace {

using nlohmann::json;

[[noreturn]] void bad_line(std::size_t line, const std::string& what) {
  throw config_error("api_keys_file: line " + std::to_string(line) + ": " + what);
}

bool valid_name(const std::string& name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
          c == '-'))
      return false;
  return true;
}

// Appends t (named on `line`) after the duplicate and format checks.
void add_tenant(tenant_table& table, tenant t, std::size_t line) {
  if (!valid_name(t.name)) bad_line(line, "a tenant name is 1 to 64 of A-Z a-z 0-9 _ . -");
  try {
    t.key = checked_api_key(t.key, "key");
  } catch (const config_error& e) {
    bad_line(line, std::string("tenant '") + t.name + "': " + e.what());
  }
  for (const auto& other : table.tenants) {
    if (other.name == t.name) bad_line(line, "tenant '" + t.name + "' is listed twice");
    if (other.key == t.key) bad_line(line, "tenant '" + t.name + "' has the same key as '" + other.name + "'");
  }
  t.id = static_cast<uint32_t>(table.tenants.size() + 1);
  table.tenants.push_back(std::move(t));
}

int32_t parse_weight(const std::string& text, std::size_t line) {
  std::size_t used = 0;
  long long w = 0;
  try {
    w = std::stoll(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != text.size() || w < 1 || w > 1000) bad_line(line, "weight must be an integer in [1, 1000]");
  return static_cast<int32_t>(w);
}

tenant_table parse_lines(const std::string& text) {
  tenant_table table;
  std::istringstream in(text);
  std::string raw;
  for (std::size_t line = 1; std::getline(in, raw); ++line) {
    const auto hash = raw.find('#');
    std::istringstream words(raw.substr(0, hash));
    std::vector<std::string> w;
    for (std::string word; words >> word;) w.push_back(word);
    if (w.empty()) continue;
    if (w.size() < 2) bad_line(line, "expected 'tenant-name key [admin] [weight=N]'");
    tenant t;
    t.name = w[0];
    t.key = w[1];
    for (std::size_t i = 2; i < w.size(); ++i) {
      if (w[i] == "admin")
        t.admin = true;
      else if (w[i].rfind("weight=", 0) == 0)
        t.weight = parse_weight(w[i].substr(7), line);
      else
        bad_line(line, "unknown option (expected 'admin' or 'weight=N')");
    }
    add_tenant(table, std::move(t), line);
  }
  return table;
}

// Line of the first occurrence of "name" as a JSON key at or after byte `from`.
std::size_t line_of_name(const std::string& text, const std::string& name, std::size_t& from) {
  const auto at = text.find("\"" + name + "\"", from);
  if (at == std::string::npos) return 0;
  from = at + name.size() + 2;
  return 1 + static_cast<std::size_t>(std::count(text.begin(), text.begin() + static_cast<std::ptrdiff_t>(at), '\n'));
}

tenant tenant_from_json(const std::string& name, const json& v, std::size_t line) {
  tenant t;
  t.name = name;
  if (v.is_string()) {
    t.key = v.get<std::string>();
    return t;
  }
  if (!v.is_object()) bad_line(line, "tenant '" + name + "': expected a key string or {\"key\": ...}");
  for (const auto& [field, value] : v.items()) {
    if (field == "key" && value.is_string())
      t.key = value.get<std::string>();
    else if (field == "admin" && value.is_boolean())
      t.admin = value.get<bool>();
    else if (field == "weight" && value.is_number_integer())
      t.weight = parse_weight(std::to_string(value.get<long long>()), line);
    else
      bad_line(line, "tenant '" + name + "': unknown field or wrong type: " + field);
  }
  if (t.key.empty()) bad_line(line, "tenant '" + name + "': no key");
  return t;
}

tenant_table parse_json(const std::string& text) {
  std::vector<std::string> names;  // in file order, duplicates included (json keeps the last)
  json doc;
  try {
    doc = json::parse(text, [&](int d, json::parse_event_t event, json& parsed) {
      if (event == json::parse_event_t::key && d == 1) names.push_back(parsed.get<std::string>());
      return true;
    });
  } catch (const json::parse_error& e) {
    throw config_error(std::string("api_keys_file: not valid JSON: ") + e.what());
  }
  if (!doc.is_object()) bad_line(1, "expected a JSON object {\"tenant-name\": \"key\", ...}");
  tenant_table table;
  std::size_t from = 0;
  std::set<std::string> seen;
  for (const auto& name : names) {
    const std::size_t line = line_of_name(text, name, from);
    if (!seen.insert(name).second) bad_line(line, "tenant '" + name + "' is listed twice");
    add_tenant(table, tenant_from_json(name, doc.at(name), line), line);
  }
  return table;
}

}  // namespace

const tenant* tenant_table::authenticate(std::string_view authorization) const {
  const tenant* found = nullptr;
  for (const auto& t : tenants)
    if (bearer_token_matches(authorization, t.key) && found == nullptr) found = &t;
  return found;
}

const tenant* tenant_table::by_id(uint32_t id) const {
  for (const auto& t : tenants)
    if (t.id == id) return &t;
  return nullptr;
}

tenant_table single_key_table(std::string key) {
  tenant_table table;
  if (key.empty()) return table;
  tenant t;
  t.name = "default";
  t.key = std::move(key);
  t.admin = true;
  table.tenants.push_back(std::move(t));
  return table;
}

tenant_table parse_keys_file(const std::string& text) {
  const auto first = text.find_first_not_of(" \t\r\n");
  tenant_table table = first != std::string::npos && text[first] == '{' ? parse_json(text) : parse_lines(text);
  if (table.empty()) throw config_error("api_keys_file: no tenant in the file");
  return table;
}

tenant_table load_keys_file(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec))
    throw config_error("api_keys_file: cannot read " + path +
                       (std::filesystem::exists(path, ec) ? " (not a regular file)" : " (no such file)"));
  std::ifstream in(path, std::ios::binary);
  if (!in) throw config_error("api_keys_file: cannot read " + path);
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) throw config_error("api_keys_file: cannot read " + path);
  return parse_keys_file(text.str());
}

uint64_t cache_namespace(uint32_t tenant_id, std::string_view cache_salt) {
  uint32_t low = 0;
  if (!cache_salt.empty()) {
    uint64_t h = 1469598103934665603ull;  // FNV-1a
    for (unsigned char c : cache_salt) h = (h ^ c) * 1099511628211ull;
    low = static_cast<uint32_t>(h ^ (h >> 32));
    if (low == 0) low = 1;  // 0 is the unsalted namespace
  }
  return (static_cast<uint64_t>(tenant_id) << 32) | low;
}

}  // namespace kvactor::http
