// What the HTTP layer measures itself (latencies as the client sees them, responses
// by status, open connections) and the Prometheus text of /metrics, which merges
// these with the gateway's "metrics" snapshot (http/API.md).
#pragma once

#include <array>
#include <atomic>
#include <map>
#include <mutex>
#include <string>

namespace kvactor::http {

// A Prometheus histogram with fixed buckets (seconds). Thread-safe and lock-free: it is
// observed once per streamed token, from every connection's thread (issue 18).
class latency_histogram {
 public:
  static constexpr std::array<double, 15> bounds = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                                    0.5,   1.0,    2.5,   5.0,  10.0,  30.0, 60.0};
  void observe(double seconds);
  struct snapshot {
    std::array<uint64_t, bounds.size()> cumulative{};  // observations <= bounds[i]
    uint64_t count = 0;
    double sum = 0;
  };
  snapshot read() const;  // each field exact; fields read while observations land may disagree by those

 private:
  std::array<std::atomic<uint64_t>, bounds.size() + 1> buckets_{};  // per bucket, not cumulative; last: +Inf
  std::atomic<uint64_t> sum_ns_{0};                                 // sum of observations, nanoseconds
};

struct server_metrics {
  latency_histogram time_to_first_token;
  latency_histogram inter_token_latency;
  latency_histogram end_to_end_latency;
  std::atomic<int64_t> open_connections{0};
  std::atomic<int64_t> active_generations{0};   // HTTP requests with engine work in flight
  std::atomic<int64_t> refused_connections{0};  // over max_connections (answered 503 or closed)
  // Fair use (issue 22, docs/reliability.md "Slow and abusive clients").
  std::atomic<int64_t> shed_idle_connections{0};       // closed while idle to make room
  std::atomic<int64_t> shed_reading_connections{0};    // closed mid-request (the slowest) to make room
  std::atomic<int64_t> client_refused_connections{0};  // 429: over max_connections_per_client
  std::atomic<int64_t> client_refused_requests{0};     // 429: over max_requests_per_client
  std::atomic<int64_t> head_deadline_closes{0};        // request head not complete within header_timeout_ms
  std::atomic<int64_t> body_deadline_closes{0};        // request body not complete within its deadline
  std::atomic<int64_t> write_timeout_closes{0};        // a client did not take a write within write_timeout_ms

  void count_response(int status);
  std::map<int, uint64_t> responses() const;

  // Per tenant (issue 20): finished prompts, their prompt tokens and prefix-cache hit tokens.
  struct tenant_counts {
    uint64_t requests = 0, prompt_tokens = 0, cache_hit_tokens = 0;
  };
  void count_tenant(const std::string& tenant, int prompt_tokens, int cached_tokens);
  std::map<std::string, tenant_counts> tenants() const;

 private:
  mutable std::mutex mutex_;
  std::map<int, uint64_t> responses_;
  std::map<std::string, tenant_counts> tenants_;
};

// Prometheus text exposition format (version 0.0.4). `gateway_json` is the engine's
// "metrics" snapshot; fields it lacks are left out rather than reported as zero.
std::string render_prometheus(const std::string& gateway_json, const server_metrics& m);

}  // namespace kvactor::http
