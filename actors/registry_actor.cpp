#include "actors/registry_actor.hpp"

#include <deque>
#include <map>
#include <set>

namespace kvactor {
namespace {

struct registry_state {
  static inline const char* name = "registry";
  // Rids claimed and not yet forgotten: from submit until the caller hears the end.
  std::set<std::string> claimed;
  uint64_t rid_counter = 0;  // req-<n> and the <rid>-<n> suffixes
  std::map<std::string, caf::actor> live;
  std::map<caf::actor_addr, std::string> rid_of;
  // Requests that ended before their registration arrived (the gateway registers
  // after spawning, so a request rejected at once can be first): not live.
  std::set<caf::actor_addr> ended_unregistered;
  std::deque<request_snapshot> history;  // newest first
  uint64_t finished = 0, cancelled = 0, failed = 0, rejected = 0;
  uint64_t prompt_tokens = 0, generated_tokens = 0, cache_hit_tokens = 0;
  uint64_t handled = 0;
  std::size_t history_limit = 64;
};

using registry_pointer = registry_actor::stateful_pointer<registry_state>;

// `who` ended. Its rid may already run a newer request (forgotten, claimed and
// registered again before this end arrived): only who's own entry leaves the live set.
void record(registry_pointer self, const caf::actor_addr& who, const std::string& outcome, request_snapshot snap) {
  auto& st = self->state;
  if (auto mine = st.rid_of.find(who); mine != st.rid_of.end()) {
    auto it = st.live.find(mine->second);
    if (it != st.live.end() && it->second.address() == who) {
      self->demonitor(it->second);
      st.live.erase(it);
    }
    st.rid_of.erase(mine);
  }
  if (outcome == "finished")
    ++st.finished;
  else if (outcome == "cancelled")
    ++st.cancelled;
  else if (outcome == "rejected")
    ++st.rejected;
  else
    ++st.failed;
  st.prompt_tokens += static_cast<uint64_t>(snap.prompt_tokens);
  st.generated_tokens += static_cast<uint64_t>(snap.generated_tokens);
  st.cache_hit_tokens += static_cast<uint64_t>(snap.cached_tokens);
  st.history.push_front(std::move(snap));
  if (st.history.size() > st.history_limit) st.history.pop_back();
}

// The rid a request runs under: the caller's, "req-<n>" for none, "<rid>-<n>" while the
// caller's is taken. One counter names and suffixes.
std::string claim(registry_state& st, std::string rid) {
  if (rid.empty()) rid = "req-" + std::to_string(++st.rid_counter);
  if (st.claimed.count(rid) != 0) {
    const auto base = rid;
    do rid = base + "-" + std::to_string(++st.rid_counter);
    while (st.claimed.count(rid) != 0);
  }
  st.claimed.insert(rid);
  return rid;
}

registry_actor::behavior_type registry_behavior(registry_pointer self, int32_t history_limit) {
  self->state.history_limit = static_cast<std::size_t>(history_limit);
  self->set_down_handler([self](caf::down_msg& msg) {
    auto it = self->state.rid_of.find(msg.source);
    if (it == self->state.rid_of.end()) return;
    auto rid = it->second;
    request_snapshot snap;
    snap.rid = rid;
    snap.actor_id = msg.source.id();
    snap.phase = "failed";
    snap.error = "request actor exited: " + to_string(msg.reason);
    record(self, msg.source, "failed", std::move(snap));
  });
  return {
      [self](claim_atom, std::string& rid) -> std::string {
        ++self->state.handled;
        return claim(self->state, std::move(rid));
      },
      [self](forget_atom, std::string& rid) {
        ++self->state.handled;
        self->state.claimed.erase(rid);
      },
      [self](register_atom, std::string& rid, caf::actor& req) {
        auto& st = self->state;
        ++st.handled;
        if (st.ended_unregistered.erase(req.address()) > 0) return;
        st.rid_of[req.address()] = rid;
        self->monitor(req);
        st.live[rid] = std::move(req);
      },
      [self](done_atom, std::string&, std::string& outcome, request_snapshot& snap) {  // rid: the sender knows
        auto& st = self->state;
        ++st.handled;
        auto sender = caf::actor_cast<caf::actor_addr>(self->current_sender());
        if (st.rid_of.count(sender) == 0) st.ended_unregistered.insert(sender);
        record(self, sender, outcome, std::move(snap));
      },
      [self](cancel_atom, std::string& rid) {
        auto& st = self->state;
        ++st.handled;
        auto it = st.live.find(rid);
        if (it != st.live.end())
          self->send(caf::actor_cast<request_actor>(it->second), cancel_atom_v, std::string("cancelled"));
      },
      [self](list_atom) -> std::vector<caf::actor> {
        ++self->state.handled;
        std::vector<caf::actor> out;
        for (auto& [rid, a] : self->state.live) out.push_back(a);
        return out;
      },
      [self](history_atom) -> std::vector<request_snapshot> {
        ++self->state.handled;
        return {self->state.history.begin(), self->state.history.end()};
      },
      [self](metrics_atom) -> registry_metrics {
        auto& st = self->state;
        ++st.handled;
        return registry_metrics{
            st.finished,      st.cancelled,        st.failed,           st.rejected,
            st.prompt_tokens, st.generated_tokens, st.cache_hit_tokens, static_cast<int32_t>(st.live.size())};
      },
      [self](counts_atom) -> int32_t {
        ++self->state.handled;
        return static_cast<int32_t>(self->state.live.size());
      },
      [self](inspect_atom) -> registry_report {
        auto& st = self->state;
        ++st.handled;
        return registry_report{{"gateway", "gateway", "running", st.handled, self->mailbox().size()},
                               static_cast<int32_t>(st.live.size()),
                               static_cast<int32_t>(st.history.size())};
      },
  };
}

}  // namespace

registry_actor spawn_registry(caf::actor_system& sys, int32_t history_limit) {
  return sys.spawn(registry_behavior, history_limit);
}

}  // namespace kvactor
