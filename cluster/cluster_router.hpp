// `kvactor route`'s engine: a generation_service that serves each request on one of
// the cluster's nodes, so the whole HTTP layer (API, errors, SSE, metrics) runs over it
// unchanged. The tokenizer and model shape are loaded locally (the HTTP layer tokenizes
// and validates); generation happens on the nodes.
//
// inspect("cluster") is the router's own view (nodes, load, cache size, hit rate;
// docs/cluster.md); "metrics" sums the nodes' metrics; the other snapshots list each
// node's.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "actors/generation_service.hpp"
#include "cluster/router_settings.hpp"

namespace kvactor::cluster {

class cluster_router final : public generation_service {
 public:
  // Throws std::runtime_error if the model or tokenizer cannot be loaded or no node is
  // given. Nodes need not be up yet: the router connects (and reconnects) in the background.
  cluster_router(const engine_config& cfg, router_settings settings);
  ~cluster_router() override;
  cluster_router(const cluster_router&) = delete;
  cluster_router& operator=(const cluster_router&) = delete;

  const tokenizer& tok() const override;
  const model_config& model() const override;
  const engine_config& config() const override;
  std::string submit(generation_request req, generation_callback cb) override;
  void cancel(const std::string& rid) override;
  void inspect(const std::string& what, std::function<void(std::string json)> cb) override;
  void shutdown(std::chrono::milliseconds drain) override;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace kvactor::cluster
