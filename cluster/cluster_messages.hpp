// Everything that crosses a node boundary, and the node actor's interface (CAF 0.17.6).
// Only the value types below (plus strings, token lists and sampling_params from the
// engine's block) travel between router and node; no callback, pointer or handle into
// another process's state does. Both sides register this block (add_cluster_types).
//
//   router request actor ──(node_submit, node_request)──► node actor ──► local gateway
//   router request actor ◄──(node_event_atom, node_event)── gateway callback (token,
//                                                           finished, error)
//   router request actor ──(cancel, rid)──► node actor       (events then end it)
//   router actor ──(inspect, what)──► node actor ──► node_snapshot (the gateway's text)
//   cluster_router ──(inspect, what)──► router actor ──► cluster_report (typed; written
//                                        as JSON once, by cluster_report_json.cpp)
//   router actor ──(node_prompts)──► node actor ──► recent prompts (rebuilds the router's
//                                                   view of that node's cache)
// The node monitors every router request actor that submitted to it: a router that dies
// (or a lost connection) cancels its requests there, so their pages come back.
#pragma once

#include <caf/all.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "actors/generation_service.hpp"
#include "actors/interfaces.hpp"

namespace kvactor::cluster {

// generation_request without the callback; the deadline in milliseconds (0 = none).
struct node_request {
  std::string rid;
  std::vector<int32_t> prompt;
  int32_t max_tokens = 16;
  sampling_params sampling;
  bool stop_at_eos = true;
  std::vector<int32_t> stop_token_ids;
  bool cache_prompt = true;
  int64_t deadline_ms = 0;
  std::string kind;
  std::string request_id;
  uint64_t ns = 0;      // the tenant's cache namespace: the node matches and publishes only there
  uint32_t tenant = 0;  // fair share on the node
  int32_t tenant_weight = 1;
  std::string grammar;  // structured output's GBNF ("" = none); the node masks with its own vocabulary
  bool prompt_logprobs = false;
};

// generation_event flattened; type: 0 token, 1 finished, 2 error.
struct node_event {
  int32_t type = 0;
  std::string rid;
  int32_t token = -1;
  float logprob = 0.0f;
  std::vector<int32_t> top_ids;
  std::vector<float> top_logprobs;
  std::vector<scored_token> prompt_scores;
  std::string finish_reason;
  std::string error_code;
  std::string error_message;
  int32_t prompt_tokens = 0;
  int32_t cached_tokens = 0;
  int32_t completion_tokens = 0;
};

// A node's answer to inspect(what): its gateway's snapshot. generation_service::inspect
// yields JSON text (http/API.md's), so the node relays it unread; the router's JSON edge
// (cluster_report_json.cpp) is the only reader. "" when the gateway gave nothing.
struct node_snapshot {
  std::string json;
};

// One node as the router sees it when it answers an inspection.
struct node_report {
  std::string address;  // host:port
  std::string state;    // up | connecting | down
  int32_t in_flight = 0;
  uint64_t routed = 0;
  uint64_t prefix_routed = 0;
  uint64_t moved_away = 0;
  uint64_t lost = 0;
  uint64_t connects = 0;
  uint64_t tree_tokens = 0;  // tokens in the router's approximate tree of this node
  std::string last_error;
  bool asked = false;     // it was up, so the router relayed the inspection to it
  bool answered = false;  // and it answered in time: `snapshot` holds the answer
  node_snapshot snapshot;
};

// The router's own request counters.
struct router_counts {
  uint64_t routed = 0;
  uint64_t prefix_routed = 0;
  uint64_t retried = 0;
  uint64_t node_lost = 0;
  uint64_t no_node = 0;
};

// The router actor's answer to inspect(what): its view of every node (in --nodes order)
// with each asked node's answer. For "cluster" the nodes were asked for "metrics".
struct cluster_report {
  std::string what;
  std::string policy;
  int32_t balance_margin = 0;
  router_counts requests;
  std::vector<node_report> nodes;
};

// The router's approximate trees are per namespace (tenant, cache_salt): a prompt is keyed
// by its namespace as `namespace_tokens` leading pseudo-tokens, so two namespaces never
// share a branch. Keys are cut to `max_tokens` prompt tokens.
constexpr std::size_t namespace_tokens = 2;
std::vector<int32_t> namespaced_key(uint64_t ns, const std::vector<int32_t>& prompt, std::size_t max_tokens);

node_request to_node_request(const generation_request& req);
generation_request from_node_request(const node_request& req);
node_event to_node_event(const generation_event& ev);
generation_event from_node_event(const node_event& ev);

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, node_request& x) {
  return f(caf::meta::type_name("node_request"), x.rid, x.prompt, x.max_tokens, x.sampling, x.stop_at_eos,
           x.stop_token_ids, x.cache_prompt, x.deadline_ms, x.kind, x.request_id, x.ns, x.tenant, x.tenant_weight,
           x.grammar, x.prompt_logprobs);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, node_event& x) {
  return f(caf::meta::type_name("node_event"), x.type, x.rid, x.token, x.logprob, x.top_ids, x.top_logprobs,
           x.prompt_scores, x.finish_reason, x.error_code, x.error_message, x.prompt_tokens, x.cached_tokens,
           x.completion_tokens);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, node_snapshot& x) {
  return f(caf::meta::type_name("node_snapshot"), x.json);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, node_report& x) {
  return f(caf::meta::type_name("node_report"), x.address, x.state, x.in_flight, x.routed, x.prefix_routed,
           x.moved_away, x.lost, x.connects, x.tree_tokens, x.last_error, x.asked, x.answered, x.snapshot);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, router_counts& x) {
  return f(caf::meta::type_name("router_counts"), x.routed, x.prefix_routed, x.retried, x.node_lost, x.no_node);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, cluster_report& x) {
  return f(caf::meta::type_name("cluster_report"), x.what, x.policy, x.balance_margin, x.requests, x.nodes);
}

}  // namespace kvactor::cluster

// Follows the engine's block (caf::id_block::kvactor), so the two never overlap.
CAF_BEGIN_TYPE_ID_BLOCK(kvactor_cluster, caf::id_block::kvactor::end)
CAF_ADD_TYPE_ID(kvactor_cluster, (kvactor::cluster::node_request))
CAF_ADD_TYPE_ID(kvactor_cluster, (kvactor::cluster::node_event))
CAF_ADD_TYPE_ID(kvactor_cluster, (kvactor::cluster::node_snapshot))
CAF_ADD_TYPE_ID(kvactor_cluster, (kvactor::cluster::node_report))
CAF_ADD_TYPE_ID(kvactor_cluster, (kvactor::cluster::router_counts))
CAF_ADD_TYPE_ID(kvactor_cluster, (kvactor::cluster::cluster_report))

CAF_ADD_ATOM(kvactor_cluster, kvactor::cluster, node_submit_atom, "nsubmit")
CAF_ADD_ATOM(kvactor_cluster, kvactor::cluster, node_event_atom, "nevent")
CAF_ADD_ATOM(kvactor_cluster, kvactor::cluster, node_prompts_atom, "nprompts")
CAF_ADD_ATOM(kvactor_cluster, kvactor::cluster, node_answer_atom, "nanswer")
// Inside the router process only (router actor, its request actors, its connectors).
CAF_ADD_ATOM(kvactor_cluster, kvactor::cluster, route_atom, "route")
CAF_ADD_ATOM(kvactor_cluster, kvactor::cluster, release_atom, "release")
CAF_ADD_ATOM(kvactor_cluster, kvactor::cluster, connect_atom, "connect")
CAF_ADD_ATOM(kvactor_cluster, kvactor::cluster, node_up_atom, "nodeup")
CAF_ADD_ATOM(kvactor_cluster, kvactor::cluster, unreachable_atom, "unreach")
CAF_END_TYPE_ID_BLOCK(kvactor_cluster)

namespace kvactor::cluster {

using token_lists = std::vector<std::vector<int32_t>>;

// The actor a node publishes. Events of a submitted request go to its sender.
using node_actor =
    caf::typed_actor<caf::reacts_to<node_submit_atom, node_request>,
                     caf::reacts_to<cancel_atom, std::string>,                         // rid as the router sent it
                     caf::replies_to<inspect_atom, std::string>::with<node_snapshot>,  // the gateway's inspect(what)
                     caf::replies_to<node_prompts_atom>::with<token_lists>,            // recent prompts, oldest first
                     // From the node's own gateway callbacks (other threads): an inspection answer, a request's end.
                     caf::reacts_to<node_answer_atom, uint64_t, node_snapshot>, caf::reacts_to<done_atom, std::string>>;

// The router actor (router_actor.hpp), inside the router process: which node a request
// goes to, the nodes' load, and the cluster's inspection.
using router_actor = caf::typed_actor<
    // prompt, excluded node indexes -> node index (-1: none up), node handle, "host:port"
    caf::replies_to<route_atom, std::vector<int32_t>, std::vector<int32_t>>::with<int32_t, node_actor, std::string>,
    caf::reacts_to<release_atom, int32_t, int32_t>,                    // node index, outcome
    caf::replies_to<inspect_atom, std::string>::with<cluster_report>,  // what as for the gateway's inspect
    // From the router's own timers and connectors:
    caf::reacts_to<connect_atom, int32_t>, caf::reacts_to<node_up_atom, int32_t, node_actor>,
    caf::reacts_to<unreachable_atom, int32_t, std::string>>;

// One request the router serves (routed_request.hpp), inside the router process.
using routed_request_actor =
    caf::typed_actor<caf::reacts_to<node_event_atom, node_event>,  // from its node (through the middleman)
                     caf::reacts_to<cancel_atom, std::string>,     // reason: end as cancelled
                     // The router is stopping and the node never confirmed a cancel: end with this error.
                     caf::reacts_to<fail_atom, caf::error>>;

// Registers the engine's and the cluster's message types and loads the middleman with
// heartbeats (1 s) and a connection timeout (5 s). Both sides call it.
void add_cluster_types(caf::actor_system_config& cfg);

}  // namespace kvactor::cluster
