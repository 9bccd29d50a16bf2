#include "cluster/router_actor.hpp"

#include <caf/io/all.hpp>

#include <cstdio>
#include <memory>

#include "cluster/approximate_prefix_tree.hpp"
#include "cluster/cluster_messages.hpp"

namespace kvactor::cluster {
namespace {

struct node_slot {
  node_address address;
  node_actor handle;  // proxy of the node actor while up
  bool up = false;
  bool connecting = false;
  int load = 0;
  approximate_prefix_tree tree;
  uint64_t routed = 0, prefix_routed = 0, moved_away = 0, lost = 0, connects = 0;
  std::string last_error;
  explicit node_slot(node_address a, std::size_t tree_tokens) : address(std::move(a)), tree(tree_tokens) {}
};

struct router_state {
  router_settings settings;
  std::unique_ptr<routing_policy> policy;
  std::vector<node_slot> slots;
  uint64_t routed = 0, prefix_routed = 0, retried = 0, node_lost = 0, no_node = 0;
  static inline const char* name = "cluster_router";
};

using router_pointer = router_actor::stateful_pointer<router_state>;
using route_reply = caf::result<int32_t, node_actor, std::string>;

void log_line(const std::string& text) {
  std::fprintf(stderr, "kvactor route: %s\n", text.c_str());
  std::fflush(stderr);
}

// remote_actor blocks until the handshake ends: it runs in its own detached actor.
void start_connect(router_pointer self, int32_t index) {
  auto& slot = self->state.slots[static_cast<std::size_t>(index)];
  if (slot.up || slot.connecting) return;
  slot.connecting = true;
  self->spawn<caf::detached>(
      [](caf::event_based_actor* conn, router_actor router, int32_t idx, std::string host, uint16_t port) {
        auto node = conn->system().middleman().remote_actor<node_actor>(host, port);
        if (node)
          conn->send(router, node_up_atom_v, idx, *node);
        else
          conn->send(router, unreachable_atom_v, idx, conn->system().render(node.error()));
        conn->quit();
      },
      caf::actor_cast<router_actor>(self), index, slot.address.host, slot.address.port);
}

// One slot's part of an inspection.
struct slot_answer {
  bool asked = false;  // the node was up
  bool answered = false;
  node_snapshot snapshot;
};

// Asks every node that is up for `what`; `done` gets one answer per slot, in slot order.
void ask_nodes(router_pointer self, const std::string& what, std::function<void(std::vector<slot_answer>)> done) {
  auto& slots = self->state.slots;
  auto answers = std::make_shared<std::vector<slot_answer>>(slots.size());
  auto pending = std::make_shared<std::size_t>(0);
  for (std::size_t i = 0; i < slots.size(); ++i)
    if (slots[i].up) {
      (*answers)[i].asked = true;
      ++*pending;
    }
  if (*pending == 0) {
    done(std::move(*answers));
    return;
  }
  auto finish_one = [answers, pending, done] {
    if (--*pending == 0) done(std::move(*answers));
  };
  for (std::size_t i = 0; i < slots.size(); ++i) {
    if (!(*answers)[i].asked) continue;
    self->request(slots[i].handle, self->state.settings.inspect_timeout, inspect_atom_v, what)
        .then(
            [answers, finish_one, i](node_snapshot& s) {
              (*answers)[i].answered = true;
              (*answers)[i].snapshot = std::move(s);
              finish_one();
            },
            [finish_one](caf::error&) { finish_one(); });
  }
}

// The router's view now, with the nodes' answers (cluster_report_json.cpp writes it).
cluster_report report_of(const router_state& st, const std::string& what, std::vector<slot_answer> answers) {
  cluster_report r;
  r.what = what;
  r.policy = routing_policy_name(st.settings.routing.kind);
  r.balance_margin = st.settings.routing.balance_margin;
  r.requests = router_counts{st.routed, st.prefix_routed, st.retried, st.node_lost, st.no_node};
  for (std::size_t i = 0; i < st.slots.size(); ++i) {
    const auto& s = st.slots[i];
    node_report n;
    n.address = s.address.text();
    n.state = s.up ? "up" : (s.connecting ? "connecting" : "down");
    n.in_flight = s.load;
    n.routed = s.routed;
    n.prefix_routed = s.prefix_routed;
    n.moved_away = s.moved_away;
    n.lost = s.lost;
    n.connects = s.connects;
    n.tree_tokens = s.tree.size();
    n.last_error = s.last_error;
    if (i < answers.size()) {
      n.asked = answers[i].asked;
      n.answered = answers[i].answered;
      n.snapshot = std::move(answers[i].snapshot);
    }
    r.nodes.push_back(std::move(n));
  }
  return r;
}

// "cluster" is the router's view with each node's load and cache, from the nodes' metrics;
// anything else is relayed to every node that is up.
void answer_inspection(router_pointer self, const std::string& what, caf::typed_response_promise<cluster_report> rp) {
  ask_nodes(self, what == "cluster" ? "metrics" : what, [self, rp, what](std::vector<slot_answer> answers) mutable {
    rp.deliver(report_of(self->state, what, std::move(answers)));
  });
}

void node_lost(router_pointer self, node_slot& slot, int32_t index, const std::string& why) {
  slot.up = false;
  slot.handle = nullptr;
  slot.tree.clear();  // a node that comes back has lost its cache
  slot.last_error = why;
  log_line("node " + slot.address.text() + " down (" + why + "); reconnecting");
  self->delayed_send(self, self->state.settings.reconnect_interval, connect_atom_v, index);
}

// Picks the node for `prompt` (none of `excluded`) and counts it there.
route_reply route(router_pointer self, const std::vector<int32_t>& prompt, const std::vector<int32_t>& excluded) {
  auto& st = self->state;
  // prompt: namespaced_key (cluster_messages.hpp), its namespace first.
  const std::vector<int32_t> key(
      prompt.begin(), prompt.begin() + std::min(prompt.size(), st.settings.routed_prefix_tokens + namespace_tokens));
  std::vector<node_view> views(st.slots.size());
  for (std::size_t i = 0; i < st.slots.size(); ++i) {
    auto& s = st.slots[i];
    const bool skipped = std::find(excluded.begin(), excluded.end(), static_cast<int32_t>(i)) != excluded.end();
    // The namespace pseudo-tokens (cluster_messages.hpp) are no cached prompt tokens.
    const std::size_t matched = s.up ? s.tree.match(key) : 0;
    views[i] = node_view{s.up && !skipped, s.load, matched > namespace_tokens ? matched - namespace_tokens : 0};
  }
  auto choice = st.policy->choose(views);
  if (!choice) {
    ++st.no_node;
    return route_reply(int32_t{-1}, node_actor{}, std::string{});
  }
  auto& s = st.slots[choice->node];
  s.tree.insert(key);
  ++s.load;
  ++s.routed;
  ++st.routed;
  if (choice->by_prefix) {
    ++s.prefix_routed;
    ++st.prefix_routed;
  }
  return route_reply(static_cast<int32_t>(choice->node), s.handle, s.address.text());
}

// A request left node `index` (outcome as in router_actor.hpp).
void release(router_pointer self, int32_t index, int32_t outcome) {
  auto& st = self->state;
  if (index < 0 || static_cast<std::size_t>(index) >= st.slots.size()) return;
  auto& s = st.slots[static_cast<std::size_t>(index)];
  if (s.load > 0) --s.load;
  if (outcome == 1) {
    ++s.moved_away;
    ++st.retried;
  } else if (outcome == 2) {
    ++s.lost;
    ++st.node_lost;
  }
}

router_actor::behavior_type router_behavior(router_pointer self, router_settings settings) {
  auto& st = self->state;
  st.settings = settings;
  st.policy = std::make_unique<routing_policy>(settings.routing);
  for (const auto& a : settings.nodes) st.slots.emplace_back(a, settings.tree_tokens);
  for (std::size_t i = 0; i < st.slots.size(); ++i) start_connect(self, static_cast<int32_t>(i));

  self->set_down_handler([self](caf::down_msg& msg) {
    auto& slots = self->state.slots;
    for (std::size_t i = 0; i < slots.size(); ++i)
      if (slots[i].up && slots[i].handle.address() == msg.source)
        node_lost(self, slots[i], static_cast<int32_t>(i), self->system().render(msg.reason));
  });

  return {
      [self](route_atom, const std::vector<int32_t>& prompt, const std::vector<int32_t>& excluded) {
        return route(self, prompt, excluded);
      },
      [self](release_atom, int32_t index, int32_t outcome) { release(self, index, outcome); },
      [self](inspect_atom, const std::string& what) -> caf::result<cluster_report> {
        auto rp = self->make_response_promise<cluster_report>();
        answer_inspection(self, what, rp);
        return rp;
      },
      [self](connect_atom, int32_t index) {
        if (index >= 0 && static_cast<std::size_t>(index) < self->state.slots.size()) start_connect(self, index);
      },
      [self](node_up_atom, int32_t index, node_actor node) {
        auto& s = self->state.slots[static_cast<std::size_t>(index)];
        s.connecting = false;
        s.up = true;
        s.handle = node;
        s.last_error.clear();
        ++s.connects;
        s.tree.clear();
        self->monitor(node);
        log_line("node " + s.address.text() + " up");
        // The node's recent prompts are what its cache most likely still holds.
        self->request(node, self->state.settings.inspect_timeout, node_prompts_atom_v)
            .then(
                [self, index, node](token_lists& prompts) {
                  auto& slot = self->state.slots[static_cast<std::size_t>(index)];
                  if (slot.handle != node) return;
                  for (auto& p : prompts) {
                    if (p.size() > self->state.settings.routed_prefix_tokens)
                      p.resize(self->state.settings.routed_prefix_tokens);
                    slot.tree.insert(p);
                  }
                },
                [](caf::error&) {});
      },
      [self](unreachable_atom, int32_t index, const std::string& why) {
        auto& s = self->state.slots[static_cast<std::size_t>(index)];
        s.connecting = false;
        if (s.last_error != why) log_line("node " + s.address.text() + " unreachable (" + why + "); retrying");
        s.last_error = why;
        self->delayed_send(self, self->state.settings.reconnect_interval, connect_atom_v, index);
      },
  };
}

}  // namespace

router_actor spawn_router_actor(caf::actor_system& sys, const router_settings& settings) {
  return sys.spawn(router_behavior, settings);
}

}  // namespace kvactor::cluster
