// The router's inspection replies as the JSON of http/API.md and docs/cluster.md,
// written once, from the router actor's typed cluster_report, where cluster_router
// hands them to the HTTP layer (generation_service::inspect yields text). This is the
// only place in cluster/ that reads the nodes' snapshots (node_snapshot) or writes JSON.
#pragma once

#include <string>

#include "cluster/cluster_messages.hpp"

namespace kvactor::cluster {

// By report.what:
//   "cluster"        the router's view: policy, request counters, every node with its load
//                    and, for a node that answered, its running/queue/cache numbers
//   "metrics"        the answering nodes' metrics summed (numbers add, objects key by key)
//   "request:<rid>"  the first node's snapshot that knows the request, else NOT_FOUND
//   anything else    {"nodes": [{"address", "snapshot"}]} for every node that was asked
std::string cluster_report_text(const cluster_report& report);

// {"error": {"code": code, "message": message}}
std::string cluster_error_text(const std::string& code, const std::string& message);

}  // namespace kvactor::cluster
