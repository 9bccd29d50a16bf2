#include "http/server_metrics.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <sstream>

#include <nlohmann/json.hpp>

namespace kvactor::http {

void latency_histogram::observe(double seconds) {
  std::size_t i = 0;
  while (i < bounds.size() && seconds > bounds[i]) ++i;
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  const double ns = seconds > 0 ? seconds * 1e9 : 0.0;
  sum_ns_.fetch_add(ns < 1.8e19 ? static_cast<uint64_t>(ns + 0.5) : uint64_t{0}, std::memory_order_relaxed);
}

latency_histogram::snapshot latency_histogram::read() const {
  snapshot s;
  uint64_t running = 0;
  for (std::size_t i = 0; i < bounds.size(); ++i)
    s.cumulative[i] = running += buckets_[i].load(std::memory_order_relaxed);
  s.count = running + buckets_[bounds.size()].load(std::memory_order_relaxed);
  s.sum = static_cast<double>(sum_ns_.load(std::memory_order_relaxed)) / 1e9;
  return s;
}

void server_metrics::count_response(int status) {
  std::lock_guard<std::mutex> lock(mutex_);
  ++responses_[status];
}

std::map<int, uint64_t> server_metrics::responses() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return responses_;
}

void server_metrics::count_tenant(const std::string& tenant, int prompt_tokens, int cached_tokens) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto& c = tenants_[tenant];
  ++c.requests;
  c.prompt_tokens += static_cast<uint64_t>(std::max(prompt_tokens, 0));
  c.cache_hit_tokens += static_cast<uint64_t>(std::max(cached_tokens, 0));
}

std::map<std::string, server_metrics::tenant_counts> server_metrics::tenants() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return tenants_;
}

namespace {

using nlohmann::json;

// Tenant names are [A-Za-z0-9_.-] (http/tenants.hpp): safe inside a label value as they are.
void tenant_series(std::ostringstream& out, const std::map<std::string, server_metrics::tenant_counts>& tenants) {
  if (tenants.empty()) return;
  out << "# HELP kvactor_tenant_requests_total Finished prompts per tenant.\n"
         "# TYPE kvactor_tenant_requests_total counter\n";
  for (const auto& [name, c] : tenants)
    out << "kvactor_tenant_requests_total{tenant=\"" << name << "\"} " << c.requests << '\n';
  out << "# HELP kvactor_tenant_prompt_tokens_total Prompt tokens of finished prompts per tenant.\n"
         "# TYPE kvactor_tenant_prompt_tokens_total counter\n";
  for (const auto& [name, c] : tenants)
    out << "kvactor_tenant_prompt_tokens_total{tenant=\"" << name << "\"} " << c.prompt_tokens << '\n';
  out << "# HELP kvactor_tenant_cache_hit_tokens_total Prompt tokens served from the tenant's prefix cache.\n"
         "# TYPE kvactor_tenant_cache_hit_tokens_total counter\n";
  for (const auto& [name, c] : tenants)
    out << "kvactor_tenant_cache_hit_tokens_total{tenant=\"" << name << "\"} " << c.cache_hit_tokens << '\n';
}

// Shortest text that reads back as the same double ("0.005", not "0.0050000000000000001").
std::string number(double v) {
  char buf[64];
  if (v == static_cast<double>(static_cast<long long>(v)) && v > -1e15 && v < 1e15) {
    std::snprintf(buf, sizeof buf, "%lld", static_cast<long long>(v));
    return buf;
  }
  for (int precision = 1; precision <= 17; ++precision) {
    std::snprintf(buf, sizeof buf, "%.*g", precision, v);
    if (std::strtod(buf, nullptr) == v) break;
  }
  return buf;
}

// Writes one metric family from a JSON number, if present.
void family(std::ostringstream& out, const json& j, const char* key, const char* name, const char* type,
            const char* help) {
  if (!j.contains(key) || !j.at(key).is_number()) return;
  out << "# HELP " << name << ' ' << help << "\n# TYPE " << name << ' ' << type << '\n'
      << name << ' ' << number(j.at(key).get<double>()) << '\n';
}

// One family with a label per key of a JSON object: name{label="key"} value.
void labelled(std::ostringstream& out, const json& j, const char* key, const char* name, const char* label,
              const char* type, const char* help) {
  if (!j.contains(key) || !j.at(key).is_object()) return;
  out << "# HELP " << name << ' ' << help << "\n# TYPE " << name << ' ' << type << '\n';
  for (const auto& [k, v] : j.at(key).items())
    if (v.is_number()) out << name << '{' << label << "=\"" << k << "\"} " << number(v.get<double>()) << '\n';
}

void histogram(std::ostringstream& out, const latency_histogram& h, const char* name, const char* help) {
  const auto s = h.read();
  out << "# HELP " << name << ' ' << help << "\n# TYPE " << name << " histogram\n";
  for (std::size_t i = 0; i < latency_histogram::bounds.size(); ++i)
    out << name << "_bucket{le=\"" << number(latency_histogram::bounds[i]) << "\"} " << s.cumulative[i] << '\n';
  out << name << "_bucket{le=\"+Inf\"} " << s.count << '\n'
      << name << "_sum " << number(s.sum) << '\n'
      << name << "_count " << s.count << '\n';
}

}  // namespace

std::string render_prometheus(const std::string& gateway_json, const server_metrics& m) {
  std::ostringstream out;
  const json g = json::parse(gateway_json, nullptr, false);
  if (g.is_object()) {
    labelled(out, g, "requests", "kvactor_requests_total", "outcome", "counter", "Engine requests by outcome.");
    family(out, g, "queue_depth", "kvactor_queue_depth", "gauge", "Requests waiting for admission.");
    family(out, g, "running", "kvactor_running_requests", "gauge", "Requests admitted and generating.");
    family(out, g, "prompt_tokens", "kvactor_prompt_tokens_total", "counter", "Prompt tokens received.");
    family(out, g, "generated_tokens", "kvactor_generated_tokens_total", "counter", "Tokens generated.");
    family(out, g, "cache_queried_tokens", "kvactor_prefix_cache_queried_tokens_total", "counter",
           "Prompt tokens looked up in the prefix cache.");
    family(out, g, "cache_hit_tokens", "kvactor_prefix_cache_hit_tokens_total", "counter",
           "Prompt tokens found in the prefix cache.");
    labelled(out, g, "pages", "kvactor_pages", "state", "gauge",
             "KV pages by state (total is the pool size; the others sum to it).");
    family(out, g, "evictions", "kvactor_evictions_total", "counter", "Cached pages evicted.");
    family(out, g, "preemptions", "kvactor_preemptions_total", "counter", "Requests preempted for pages.");
  }
  histogram(out, m.time_to_first_token, "kvactor_time_to_first_token_seconds",
            "Time from receiving a request to its first token, as the HTTP layer sees it.");
  histogram(out, m.inter_token_latency, "kvactor_inter_token_latency_seconds",
            "Time between consecutive tokens of one request.");
  histogram(out, m.end_to_end_latency, "kvactor_e2e_request_latency_seconds",
            "Time from receiving a request to its last token.");
  out << "# HELP kvactor_http_responses_total HTTP responses by status code.\n"
         "# TYPE kvactor_http_responses_total counter\n";
  for (const auto& [code, n] : m.responses())
    out << "kvactor_http_responses_total{code=\"" << code << "\"} " << n << '\n';
  tenant_series(out, m.tenants());
  out << "# HELP kvactor_http_open_connections Open HTTP connections.\n# TYPE kvactor_http_open_connections gauge\n"
      << "kvactor_http_open_connections " << m.open_connections.load() << '\n';
  out << "# HELP kvactor_http_active_generations HTTP requests with engine work in flight.\n"
         "# TYPE kvactor_http_active_generations gauge\n"
      << "kvactor_http_active_generations " << m.active_generations.load() << '\n';
  out << "# HELP kvactor_http_refused_connections_total Connections refused over max_connections.\n"
         "# TYPE kvactor_http_refused_connections_total counter\n"
      << "kvactor_http_refused_connections_total " << m.refused_connections.load() << '\n';
  out << "# HELP kvactor_http_shed_connections_total Connections closed to make room for new ones, by what they "
         "were doing.\n# TYPE kvactor_http_shed_connections_total counter\n"
      << "kvactor_http_shed_connections_total{state=\"idle\"} " << m.shed_idle_connections.load() << '\n'
      << "kvactor_http_shed_connections_total{state=\"reading\"} " << m.shed_reading_connections.load() << '\n';
  out << "# HELP kvactor_http_client_limit_refusals_total Answers 429 for a client address over its limit.\n"
         "# TYPE kvactor_http_client_limit_refusals_total counter\n"
      << "kvactor_http_client_limit_refusals_total{limit=\"connections\"} " << m.client_refused_connections.load()
      << '\n'
      << "kvactor_http_client_limit_refusals_total{limit=\"requests\"} " << m.client_refused_requests.load() << '\n';
  out << "# HELP kvactor_http_deadline_closes_total Connections closed because a client was too slow.\n"
         "# TYPE kvactor_http_deadline_closes_total counter\n"
      << "kvactor_http_deadline_closes_total{phase=\"head\"} " << m.head_deadline_closes.load() << '\n'
      << "kvactor_http_deadline_closes_total{phase=\"body\"} " << m.body_deadline_closes.load() << '\n'
      << "kvactor_http_deadline_closes_total{phase=\"write\"} " << m.write_timeout_closes.load() << '\n';
  return out.str();
}

}  // namespace kvactor::http
