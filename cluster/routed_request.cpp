#include "cluster/routed_request.hpp"

#include "cluster/cluster_messages.hpp"

namespace kvactor::cluster {
namespace {

struct routed_state {
  router_actor router;
  registry_actor registry;
  node_request wire;
  generation_callback cb;
  int max_attempts = 3;
  int attempts = 0;
  int32_t node_index = -1;  // -1: not on a node (routing, or between nodes)
  node_actor node;
  std::string node_address;
  int streamed = 0;  // tokens relayed so far
  bool cancelled = false;
  bool ended = false;
  std::vector<int32_t> excluded;  // nodes already tried
  static inline const char* name = "routed_request";
};

using routed_pointer = routed_request_actor::stateful_pointer<routed_state>;

// The outcome the registry counts (registry_actor in actors/interfaces.hpp).
std::string outcome_of(const generation_event& ev) {
  if (ev.type == generation_event::kind::error) return "failed";
  return ev.finish_reason == "cancelled" ? "cancelled" : "finished";
}

void emit_end(routed_pointer self, generation_event ev) {
  auto& st = self->state;
  if (st.ended) return;
  st.ended = true;
  ev.rid = st.wire.rid;
  if (ev.usage.prompt_tokens == 0) ev.usage.prompt_tokens = static_cast<int>(st.wire.prompt.size());
  if (st.cb) st.cb(ev);
  // After the caller's final event: the router's drain waits for the registry's live set.
  request_snapshot snap;
  snap.rid = st.wire.rid;
  snap.kind = st.wire.kind;
  snap.phase = outcome_of(ev);
  snap.prompt_tokens = ev.usage.prompt_tokens;
  snap.generated_tokens = st.streamed;
  snap.max_tokens = st.wire.max_tokens;
  snap.error = ev.error_message;
  self->send(st.registry, done_atom_v, st.wire.rid, outcome_of(ev), std::move(snap));
  self->quit();
}

void end_with_error(routed_pointer self, engine_errc code, const std::string& message) {
  generation_event ev;
  ev.type = generation_event::kind::error;
  ev.error = code;
  ev.error_message = message;
  ev.usage.completion_tokens = self->state.streamed;
  emit_end(self, std::move(ev));
}

void end_cancelled(routed_pointer self) {
  generation_event ev;
  ev.type = generation_event::kind::finished;
  ev.finish_reason = "cancelled";
  ev.usage.completion_tokens = self->state.streamed;
  emit_end(self, std::move(ev));
}

// Leaves the current node: the router's load count drops (outcome as in router_actor.hpp).
void leave_node(routed_pointer self, int32_t outcome) {
  auto& st = self->state;
  if (st.node_index < 0) return;
  self->send(st.router, release_atom_v, st.node_index, outcome);
  if (st.node) self->demonitor(st.node.address());
  st.node_index = -1;
  st.node = nullptr;
}

void route(routed_pointer self) {
  auto& st = self->state;
  ++st.attempts;
  // Keyed by namespace: the router's trees never match one tenant's prompt to another's.
  auto key = namespaced_key(st.wire.ns, st.wire.prompt, st.wire.prompt.size());
  self->request(st.router, caf::infinite, route_atom_v, std::move(key), st.excluded)
      .then(
          [self](int32_t index, node_actor& node, std::string& address) {
            auto& st = self->state;
            if (index < 0) {
              end_with_error(self, engine_errc::no_node,
                             st.excluded.empty()
                                 ? "no node of the cluster is reachable"
                                 : "no other node of the cluster is reachable after losing " + st.node_address);
              return;
            }
            st.node_index = index;
            st.node = node;
            st.node_address = address;
            if (st.cancelled) {
              leave_node(self, 0);
              end_cancelled(self);
              return;
            }
            self->monitor(node);
            self->send(node, node_submit_atom_v, st.wire);
          },
          [self](caf::error& err) {
            end_with_error(self, engine_errc::internal, "router: " + self->system().render(err));
          });
}

// Before any token was streamed the request can start over on another node.
bool may_retry(routed_pointer self) {
  auto& st = self->state;
  return st.streamed == 0 && !st.cancelled && st.attempts < st.max_attempts;
}

routed_request_actor::behavior_type routed_behavior(routed_pointer self, router_actor router, registry_actor registry,
                                                    generation_request req, generation_callback cb, int max_attempts) {
  auto& st = self->state;
  st.router = std::move(router);
  st.registry = std::move(registry);
  st.wire = to_node_request(req);
  st.cb = std::move(cb);
  st.max_attempts = std::max(1, max_attempts);
  self->set_down_handler([self](caf::down_msg& msg) {
    auto& st = self->state;
    if (st.ended || !st.node || msg.source != st.node.address()) return;
    const std::string lost = st.node_address;
    if (st.cancelled) {
      leave_node(self, 0);
      end_cancelled(self);
    } else if (may_retry(self)) {
      st.excluded.push_back(st.node_index);
      leave_node(self, 1);
      route(self);
    } else {
      leave_node(self, 2);
      end_with_error(self, engine_errc::node_lost,
                     "node " + lost + " was lost after streaming " + std::to_string(st.streamed) +
                         " token(s) of this request; the rest cannot be delivered");
    }
  });
  route(self);
  return {
      [self](node_event_atom, node_event& wire) {
        auto& st = self->state;
        if (st.ended) return;
        generation_event ev = from_node_event(wire);
        ev.rid = st.wire.rid;
        if (ev.type == generation_event::kind::token) {
          ++st.streamed;
          if (st.cb) st.cb(ev);
          return;
        }
        // A node that is full or draining did no work for us: another one may.
        if (ev.type == generation_event::kind::error &&
            (ev.error == engine_errc::queue_full || ev.error == engine_errc::shutting_down) && may_retry(self)) {
          st.excluded.push_back(st.node_index);
          leave_node(self, 1);
          route(self);
          return;
        }
        leave_node(self, 0);
        emit_end(self, std::move(ev));
      },
      // The router is stopping and the node never confirmed a cancel: end here, with an error.
      [self](fail_atom, const caf::error& err) {
        leave_node(self, 0);
        end_with_error(self, engine_code(err), engine_message(err));
      },
      [self](cancel_atom, const std::string&) {
        auto& st = self->state;
        if (st.ended || st.cancelled) return;
        st.cancelled = true;
        // On a node: it ends the request and its finished(cancelled) event ends ours.
        // Still routing: the route answer sees the flag.
        if (st.node) self->send(st.node, cancel_atom_v, st.wire.rid);
      },
  };
}

}  // namespace

routed_request_actor spawn_routed_request(caf::actor_system& sys, router_actor router, registry_actor registry,
                                          generation_request req, generation_callback cb, int max_attempts) {
  return sys.spawn(routed_behavior, std::move(router), std::move(registry), std::move(req), std::move(cb),
                   max_attempts);
}

}  // namespace kvactor::cluster
