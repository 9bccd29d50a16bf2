#include "cluster/cluster_node.hpp"

#include <caf/io/all.hpp>

#include <algorithm>
#include <deque>
#include <mutex>
#include <stdexcept>
#include <unordered_map>
#include <vector>

#include "cluster/cluster_messages.hpp"
#include "grammar/output_constraint.hpp"

namespace kvactor::cluster {
namespace {

// Events of one request travel from gateway threads to the router's request actor. The
// relay holds that remote handle so the node can drop it before its actor system stops
// (a callback kept by the engine must never outlive the proxy's system).
struct event_relay {
  std::mutex m;
  routed_request_actor sink;  // the router's request actor (a proxy)
  node_actor node;            // the node actor, told when the request ends
  void deliver(const generation_event& ev) {
    std::lock_guard<std::mutex> guard(m);
    if (sink) caf::anon_send(sink, node_event_atom_v, to_node_event(ev));
    if (ev.type != generation_event::kind::token) {
      if (node) caf::anon_send(node, done_atom_v, ev.rid);
      sink = nullptr;
      node = nullptr;
    }
  }
  void close() {
    std::lock_guard<std::mutex> guard(m);
    sink = nullptr;
    node = nullptr;
  }
};

struct open_relays {
  std::mutex m;
  std::vector<std::weak_ptr<event_relay>> relays;
  void add(const std::shared_ptr<event_relay>& r) {
    std::lock_guard<std::mutex> guard(m);
    relays.erase(std::remove_if(relays.begin(), relays.end(), [](auto& w) { return w.expired(); }), relays.end());
    relays.push_back(r);
  }
  void close_all() {
    std::lock_guard<std::mutex> guard(m);
    for (auto& w : relays)
      if (auto r = w.lock()) r->close();
    relays.clear();
  }
};

constexpr std::size_t kept_prompts = 256;         // recent prompts a (re)connecting router may read
constexpr std::size_t kept_prompt_tokens = 2048;  // per prompt: the router's trees look no deeper

struct node_state {
  generation_service* service = nullptr;
  std::shared_ptr<open_relays> relays;
  // Router request actor -> the rid the local engine gave its request.
  std::unordered_map<caf::actor_addr, std::string> rid_of_sink;
  std::unordered_map<std::string, caf::actor_addr> sink_of_rid;
  std::unordered_map<uint64_t, caf::typed_response_promise<node_snapshot>> answers;
  uint64_t next_answer = 1;
  std::deque<std::vector<int32_t>> recent_prompts;
  std::shared_ptr<const grammar::token_vocabulary> vocabulary;  // structured output's, built on first use
  static inline const char* name = "cluster_node";
};

node_actor::behavior_type node_behavior(node_actor::stateful_pointer<node_state> self, generation_service* service,
                                        std::shared_ptr<open_relays> relays) {
  self->state.service = service;
  self->state.relays = std::move(relays);
  // A router request actor that goes away (its router died, the link broke) leaves no
  // request behind: cancel it so its pages return.
  self->set_down_handler([self](caf::down_msg& msg) {
    auto& st = self->state;
    auto it = st.rid_of_sink.find(msg.source);
    if (it == st.rid_of_sink.end()) return;
    st.service->cancel(it->second);
    st.sink_of_rid.erase(it->second);
    st.rid_of_sink.erase(it);
  });
  return {
      [self](node_submit_atom, node_request& req) {
        auto& st = self->state;
        auto sink = caf::actor_cast<caf::actor>(self->current_sender());
        if (!sink) return;  // nobody to answer: anonymous submits are ignored
        st.recent_prompts.push_back(namespaced_key(req.ns, req.prompt, kept_prompt_tokens));
        if (st.recent_prompts.size() > kept_prompts) st.recent_prompts.pop_front();
        auto relay = std::make_shared<event_relay>();
        relay->sink = caf::actor_cast<routed_request_actor>(sink);
        relay->node = caf::actor_cast<node_actor>(self);
        st.relays->add(relay);
        generation_request local = from_node_request(req);
        if (!req.grammar.empty()) {
          // The router's HTTP edge parsed this grammar already; the mask needs this node's vocabulary.
          try {
            if (!st.vocabulary) st.vocabulary = grammar::vocabulary_of(st.service->tok());
            local.constraint = grammar::make_constraint(req.grammar, st.vocabulary);
          } catch (const std::exception& e) {
            generation_event refused;
            refused.type = generation_event::kind::error;
            refused.rid = req.rid;
            refused.error = engine_errc::bad_request;
            refused.error_message = std::string("grammar: ") + e.what();
            relay->deliver(refused);
            return;
          }
        }
        const std::string rid =
            st.service->submit(std::move(local), [relay](const generation_event& ev) { relay->deliver(ev); });
        // The request may already have ended (its done message is queued behind this one):
        // the map entry is then removed by that message.
        st.rid_of_sink[sink.address()] = rid;
        st.sink_of_rid[rid] = sink.address();
        self->monitor(sink);
      },
      [self](cancel_atom, const std::string&) {
        auto& st = self->state;
        auto it = st.rid_of_sink.find(self->current_sender() ? self->current_sender()->address() : caf::actor_addr{});
        if (it != st.rid_of_sink.end()) st.service->cancel(it->second);
      },
      [self](done_atom, const std::string& rid) {
        auto& st = self->state;
        auto it = st.sink_of_rid.find(rid);
        if (it == st.sink_of_rid.end()) return;
        self->demonitor(it->second);
        st.rid_of_sink.erase(it->second);
        st.sink_of_rid.erase(it);
      },
      [self](inspect_atom, const std::string& what) -> caf::typed_response_promise<node_snapshot> {
        auto& st = self->state;
        auto rp = self->make_response_promise<node_snapshot>();
        const uint64_t id = st.next_answer++;
        st.answers.emplace(id, rp);
        // The snapshot arrives on an engine thread: hand it to this actor, which answers.
        // (A weak handle: the engine may keep the callback past this actor system.) It is
        // the gateway's JSON text, relayed unread (node_snapshot in cluster_messages.hpp).
        auto me = caf::actor_cast<caf::weak_actor_ptr>(self);
        st.service->inspect(what, [me, id](std::string json) {
          if (auto strong = caf::actor_cast<node_actor>(me))
            caf::anon_send(strong, node_answer_atom_v, id, node_snapshot{std::move(json)});
        });
        return rp;
      },
      [self](node_answer_atom, uint64_t id, node_snapshot& snapshot) {
        auto& st = self->state;
        auto it = st.answers.find(id);
        if (it == st.answers.end()) return;
        it->second.deliver(std::move(snapshot));
        st.answers.erase(it);
      },
      [self](node_prompts_atom) {
        auto& recent = self->state.recent_prompts;
        return token_lists(recent.begin(), recent.end());
      },
  };
}

}  // namespace

struct cluster_node::impl {
  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;
  node_actor actor;
  std::shared_ptr<open_relays> relays = std::make_shared<open_relays>();
  uint16_t port = 0;
};

cluster_node::cluster_node(generation_service& service, const std::string& host, uint16_t port)
    : impl_(std::make_unique<impl>()) {
  add_cluster_types(impl_->cfg);
  impl_->sys = std::make_unique<caf::actor_system>(impl_->cfg);
  impl_->actor = impl_->sys->spawn(node_behavior, &service, impl_->relays);
  auto bound = impl_->sys->middleman().publish(impl_->actor, port, host.empty() ? nullptr : host.c_str(), true);
  if (!bound) {
    caf::anon_send_exit(impl_->actor, caf::exit_reason::user_shutdown);
    const std::string why = impl_->sys->render(bound.error());
    impl_->actor = nullptr;
    impl_->sys.reset();
    throw std::runtime_error("cannot publish the node actor on " + (host.empty() ? std::string("*") : host) + ":" +
                             std::to_string(port) + ": " + why);
  }
  impl_->port = *bound;
}

cluster_node::~cluster_node() {
  impl_->relays->close_all();
  impl_->sys->middleman().unpublish(impl_->actor, impl_->port);
  caf::anon_send_exit(impl_->actor, caf::exit_reason::user_shutdown);
  impl_->actor = nullptr;
  impl_->sys.reset();
}

uint16_t cluster_node::port() const { return impl_->port; }

}  // namespace kvactor::cluster
