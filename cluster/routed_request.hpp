// One actor per request the router serves. It asks the router actor for a node, submits
// there, relays the node's events to the caller's callback, and handles the node's loss:
// a request that has not streamed a token yet is routed again (at most max_attempts
// nodes in all); one that has fails with NODE_LOST, since its tokens cannot be resumed
// elsewhere without the caller seeing a restart. Local messages:
//   (nevent, node_event)   from the node (through the middleman)
//   (cancel, reason)       from the registry (cluster_router::cancel) and cluster_router::shutdown
//   (fail, error)          from cluster_router::shutdown when a node did not confirm a cancel
// (routed_request_actor in cluster_messages.hpp.)
#pragma once

#include <caf/all.hpp>

#include "actors/generation_service.hpp"
#include "cluster/cluster_messages.hpp"

namespace kvactor::cluster {

// `cb` gets every event; exactly one finished-or-error event ends the request. After
// that event the request tells `registry` its end (done_atom, as an engine's request
// actors do), so the registry's live set is the router's requests in flight.
routed_request_actor spawn_routed_request(caf::actor_system& sys, router_actor router, registry_actor registry,
                                          generation_request req, generation_callback cb, int max_attempts);

}  // namespace kvactor::cluster
