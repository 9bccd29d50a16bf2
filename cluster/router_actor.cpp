#include "cluster/router_actor.hpp"

#include <caf/io/all.hpp>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <memory>

#include "actors/actor_snapshot.hpp"
#include "cluster/approximate_prefix_tree.hpp"
#include "cluster/cluster_messages.hpp"

namespace kvactor::cluster {
namespace {

using nlohmann::json;

struct node_slot {
  node_address address;
  caf::actor handle;  // proxy of the node actor while up
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
using route_reply = caf::result<int32_t, caf::actor, std::string>;

std::string error_json(const std::string& code, const std::string& message) {
  return json{{"error", {{"code", code}, {"message", message}}}}.dump();
}

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
          conn->send(router, node_up_atom_v, idx, caf::actor_cast<caf::actor>(*node));
        else
          conn->send(router, unreachable_atom_v, idx, conn->system().render(node.error()));
        conn->quit();
      },
      caf::actor_cast<router_actor>(self), index, slot.address.host, slot.address.port);
}

// Asks every node that is up for `what`; `done` gets (slot index, snapshot or "") for each.
void ask_nodes(router_pointer self, const std::string& what,
               std::function<void(std::vector<std::pair<std::size_t, std::string>>)> done) {
  auto results = std::make_shared<std::vector<std::pair<std::size_t, std::string>>>();
  auto pending = std::make_shared<std::size_t>(0);
  for (std::size_t i = 0; i < self->state.slots.size(); ++i)
    if (self->state.slots[i].up) ++*pending;
  if (*pending == 0) {
    done({});
    return;
  }
  auto finish_one = [results, pending, done](std::size_t i, std::string s) {
    results->emplace_back(i, std::move(s));
    if (--*pending == 0) done(std::move(*results));
  };
  for (std::size_t i = 0; i < self->state.slots.size(); ++i) {
    auto& slot = self->state.slots[i];
    if (!slot.up) continue;
    self->request(caf::actor_cast<node_actor>(slot.handle), self->state.settings.inspect_timeout, inspect_atom_v, what)
        .then([finish_one, i](std::string& s) { finish_one(i, std::move(s)); },
              [finish_one, i](caf::error&) { finish_one(i, ""); });
  }
}

// Numbers add up; objects add up key by key; anything else keeps the first value.
void add_into(json& sum, const json& part) {
  if (sum.is_number() && part.is_number()) {
    if (sum.is_number_float() || part.is_number_float())
      sum = sum.get<double>() + part.get<double>();
    else
      sum = sum.get<int64_t>() + part.get<int64_t>();
  } else if (sum.is_object() && part.is_object()) {
    for (auto& [k, v] : part.items()) {
      if (sum.contains(k))
        add_into(sum[k], v);
      else
        sum[k] = v;
    }
  }
}

json cluster_snapshot(const router_state& st, const std::vector<std::pair<std::size_t, std::string>>& metrics) {
  json nodes = json::array();
  int64_t hit = 0, queried = 0;
  for (std::size_t i = 0; i < st.slots.size(); ++i) {
    const auto& s = st.slots[i];
    json n = {{"address", s.address.text()},
              {"state", s.up ? "up" : (s.connecting ? "connecting" : "down")},
              {"in_flight", s.load},
              {"routed", s.routed},
              {"prefix_routed", s.prefix_routed},
              {"moved_away", s.moved_away},
              {"lost", s.lost},
              {"connects", s.connects},
              {"tree_tokens", s.tree.size()},
              {"last_error", s.last_error}};
    for (const auto& [idx, text] : metrics) {
      if (idx != i) continue;
      const json m = json::parse(text, nullptr, false);
      if (!m.is_object() || m.contains("error")) continue;
      const int64_t h = m.value("cache_hit_tokens", int64_t{0}), q = m.value("cache_queried_tokens", int64_t{0});
      hit += h;
      queried += q;
      n["running"] = m.value("running", 0);
      n["queue_depth"] = m.value("queue_depth", 0);
      n["cache_hit_tokens"] = h;
      n["cache_queried_tokens"] = q;
      n["hit_rate"] = q > 0 ? static_cast<double>(h) / static_cast<double>(q) : 0.0;
      if (m.contains("pages") && m["pages"].is_object()) {
        const auto& p = m["pages"];
        n["pages"] = p;
        n["cached_pages"] = p.value("cached_locked", 0) + p.value("cached_evictable", 0);
      }
    }
    nodes.push_back(std::move(n));
  }
  return {{"policy", routing_policy_name(st.settings.routing.kind)},
          {"balance_margin", st.settings.routing.balance_margin},
          {"nodes", nodes},
          {"requests",
           {{"routed", st.routed},
            {"prefix_routed", st.prefix_routed},
            {"retried", st.retried},
            {"node_lost", st.node_lost},
            {"no_node", st.no_node}}},
          {"cache_hit_tokens", hit},
          {"cache_queried_tokens", queried},
          {"hit_rate", queried > 0 ? static_cast<double>(hit) / static_cast<double>(queried) : 0.0}};
}

void answer_inspection(router_pointer self, const std::string& what, caf::typed_response_promise<std::string> rp) {
  if (what == "cluster") {
    ask_nodes(self, "metrics", [self, rp](std::vector<std::pair<std::size_t, std::string>> all) mutable {
      rp.deliver(snapshot_text(cluster_snapshot(self->state, all)));
    });
  } else if (what == "metrics") {
    ask_nodes(self, "metrics", [rp](std::vector<std::pair<std::size_t, std::string>> all) mutable {
      json sum = json::object();
      for (auto& [idx, text] : all) {
        const json m = json::parse(text, nullptr, false);
        if (m.is_object() && !m.contains("error")) add_into(sum, m);
      }
      rp.deliver(snapshot_text(sum));
    });
  } else if (what.rfind("request:", 0) == 0) {
    ask_nodes(self, what, [rp, what](std::vector<std::pair<std::size_t, std::string>> all) mutable {
      for (auto& [idx, text] : all) {
        const json m = json::parse(text, nullptr, false);
        if (m.is_object() && !m.contains("error")) {
          rp.deliver(text);
          return;
        }
      }
      rp.deliver(error_json("NOT_FOUND", "no node knows request '" + what.substr(8) + "'"));
    });
  } else {
    ask_nodes(self, what, [self, rp](std::vector<std::pair<std::size_t, std::string>> all) mutable {
      json nodes = json::array();
      for (auto& [idx, text] : all) {
        json snapshot = json::parse(text, nullptr, false);
        if (snapshot.is_discarded()) snapshot = nullptr;
        nodes.push_back({{"address", self->state.slots[idx].address.text()}, {"snapshot", snapshot}});
      }
      rp.deliver(snapshot_text(json{{"nodes", nodes}}));
    });
  }
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
    return route_reply(int32_t{-1}, caf::actor{}, std::string{});
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
      [self](inspect_atom, const std::string& what) -> caf::result<std::string> {
        auto rp = self->make_response_promise<std::string>();
        answer_inspection(self, what, rp);
        return rp;
      },
      [self](connect_atom, int32_t index) {
        if (index >= 0 && static_cast<std::size_t>(index) < self->state.slots.size()) start_connect(self, index);
      },
      [self](node_up_atom, int32_t index, caf::actor node) {
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
        self->request(caf::actor_cast<node_actor>(node), self->state.settings.inspect_timeout, node_prompts_atom_v)
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
