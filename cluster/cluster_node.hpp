// A node of a cluster: publishes an actor through CAF's middleman that drives this
// process's local generation_service (normally the gateway of `kvactor serve`) for
// routers elsewhere. Requests and their token streams cross the network as the value
// types of cluster/cluster_messages.hpp.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "actors/generation_service.hpp"

namespace kvactor::cluster {

class cluster_node {
 public:
  // Publishes on host:port (port 0 = ephemeral; host "" = every interface).
  // Throws std::runtime_error naming the address if it cannot. `service` must outlive
  // this object and stay usable until its destructor returns.
  cluster_node(generation_service& service, const std::string& host, uint16_t port);
  // Cancels the requests routers still have here, unpublishes, stops the node's actor system.
  ~cluster_node();
  cluster_node(const cluster_node&) = delete;
  cluster_node& operator=(const cluster_node&) = delete;

  uint16_t port() const;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace kvactor::cluster
