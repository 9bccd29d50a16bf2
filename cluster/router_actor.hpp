// The router actor: owns the view of every node (connection, load, approximate prefix
// tree, counters) and answers which node a request goes to. Request actors
// (routed_request.hpp) ask it and tell it when they leave a node. Its typed interface
// is router_actor in cluster_messages.hpp; the messages (local to the router process):
//
//   (route, prompt, excluded node indexes) -> (index, node handle, "host:port"); index -1 = none up
//   (release, index, outcome)               outcome: 0 ended, 1 moved to another node before its first
//                                           token (node lost, full or draining), 2 failed NODE_LOST
//   (inspect, what) -> cluster_report       every node as the router sees it, with the answers of those
//                                           up to `what` ("metrics" for "cluster"); written as JSON
//                                           by cluster_report_json.hpp
//   (connect, index)                        (re)connect timer; connectors answer nodeup / unreach
//
// Nodes are reached with the middleman's remote_actor in a detached connector (it
// blocks); each node actor is monitored, and a down message (the connection broke, the
// process died) marks it down, forgets its tree (a restarted node's cache is empty) and
// starts reconnecting. On connect the router reads the node's recent prompts into the
// tree, so a restarted router routes to the caches the nodes still hold.
#pragma once

#include <caf/all.hpp>

#include "cluster/cluster_messages.hpp"
#include "cluster/router_settings.hpp"

namespace kvactor::cluster {

router_actor spawn_router_actor(caf::actor_system& sys, const router_settings& settings);

}  // namespace kvactor::cluster
