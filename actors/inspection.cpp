#include "actors/inspection.hpp"

#include <algorithm>
#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>

#include "actors/actor_snapshot.hpp"

namespace kvactor {
namespace {

using json = nlohmann::json;
constexpr auto part_timeout = std::chrono::seconds(2);

json error_json(const std::string& code, const std::string& message) {
  return {{"error", {{"code", code}, {"message", message}}}};
}

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// ---- The JSON of http/API.md, written once from the actors' typed answers ----

json actor_json(const actor_head& h, json details) {
  return {{"kind", h.kind},
          {"id", h.id},
          {"state", h.state},
          {"messages_handled", h.messages_handled},
          {"mailbox_depth", h.mailbox_depth},
          {"details", std::move(details)}};
}

json request_json(const request_snapshot& r) {
  json out = {{"rid", r.rid},
              {"kind", r.kind},
              {"request_id", r.request_id},
              {"tenant", r.tenant},
              {"phase", r.phase},
              {"prompt_tokens", r.prompt_tokens},
              {"generated_tokens", r.generated_tokens},
              {"max_tokens", r.max_tokens},
              {"cached_tokens", r.cached_tokens},
              {"pages_held", r.pages_held},
              {"locked_pages", r.locked_pages},
              {"ttft_ms", r.ttft_ms < 0 ? json(nullptr) : json(r.ttft_ms)},
              {"age_ms", r.age_ms},
              {"preemptions", r.preemptions}};
  if (!r.error.empty()) out["error"] = r.error;
  return out;
}

json pool_json(const pool_report& p) {
  auto& c = p.counts;
  return actor_json(p.head, {{"total", c.total},
                             {"free", c.free},
                             {"allocated", c.total - c.free},
                             {"private", c.private_pages},
                             {"publishing", c.publishing},
                             {"cached", c.cached},
                             {"owners", c.owners},
                             {"waiting_allocs", c.waiting_allocs},
                             {"evicted_pages", p.evicted_pages}});
}

json trie_json(const trie_report& t) {
  auto& c = t.counts;
  return actor_json(t.head, {{"nodes", c.cached},
                             {"cached_pages", c.cached},
                             {"locked_nodes", c.locked},
                             {"live_handles", c.handles},
                             {"owners", c.owners},
                             {"policy", t.policy}});
}

json registry_json(const registry_report& r) {
  return actor_json(r.head, {{"live_requests", r.live_requests}, {"finished_kept", r.finished_kept}});
}

json device_json(const device_report& d) {
  return actor_json(d.head, {{"backend", d.backend},
                             {"steps", d.steps},
                             {"tokens", d.tokens},
                             {"last_step_ms", d.last_step_ms},
                             {"restarts", d.restarts}});
}

json scheduler_json(const scheduler_report& s) {
  auto batch = json::array();
  for (auto& b : s.batch)
    batch.push_back({{"rid", b.rid}, {"tokens", b.tokens}, {"phase", b.decoding ? "decode" : "prefill"}});
  auto running = json::array();
  for (auto& r : s.running_requests) running.push_back({{"rid", r.rid}, {"status", r.status}});
  return actor_json(s.head, {{"queued", s.queued},
                             {"running", s.running},
                             {"batch", batch},
                             {"running_requests", running},
                             {"steps", s.steps},
                             {"preemptions", s.preemptions},
                             {"admission_blocked", s.admission_blocked},
                             {"starving", s.starving}});
}

// The parts of "metrics" that answered (a part that did not is left out).
struct metrics_parts {
  std::optional<registry_metrics> registry;
  std::optional<scheduler_counts> scheduler;
  std::optional<trie_counts> trie;
  std::optional<pool_counts> pool;
};

json metrics_json(const metrics_parts& m) {
  json o = json::object();
  if (auto& r = m.registry) {
    o["requests"] = {
        {"finished", r->finished}, {"cancelled", r->cancelled}, {"failed", r->failed}, {"rejected", r->rejected}};
    o["prompt_tokens"] = r->prompt_tokens;
    o["generated_tokens"] = r->generated_tokens;
    o["cache_queried_tokens"] = r->prompt_tokens;
    o["cache_hit_tokens"] = r->cache_hit_tokens;
    o["live"] = r->live;
  }
  if (auto& s = m.scheduler) {
    o["queue_depth"] = s->queued;
    o["running"] = s->running;
    o["preemptions"] = s->preemptions;
    o["steps"] = s->steps;
    o["device_restarts"] = s->device_restarts;
    o["batched_tokens"] = s->batched_tokens;
  }
  if (m.trie) o["evictions"] = m.trie->evicted_pages;
  if (auto& p = m.pool) {
    const int32_t locked = m.trie ? m.trie->locked : 0;
    o["pages"] = {{"total", p->total},
                  {"free", p->free},
                  {"private", p->private_pages},
                  {"cached_locked", locked},
                  {"cached_evictable", p->cached - locked}};
  }
  return o;
}

// Counts outstanding replies; runs `done` when the last one arrives (or fails).
struct countdown {
  int pending = 0;
  std::function<void()> done;
  void finish_one() {
    if (--pending == 0 && done) done();
  }
};

using request_reports = std::vector<request_report>;

// Asks every live request (from the registry) for its snapshot; calls next(list).
void with_live_requests(caf::event_based_actor* self, const engine_actors& a,
                        std::function<void(request_reports)> next) {
  self->request(a.registry, part_timeout, list_atom_v)
      .then(
          [self, next](std::vector<caf::actor>& live) {
            auto out = std::make_shared<request_reports>();
            if (live.empty()) {
              next(*out);
              return;
            }
            auto cd = std::make_shared<countdown>();
            cd->pending = static_cast<int>(live.size());
            cd->done = [out, next] { next(*out); };
            for (auto& r : live)
              self->request(caf::actor_cast<request_actor>(r), part_timeout, inspect_atom_v)
                  .then(
                      [out, cd](request_report& rep) {
                        out->push_back(std::move(rep));
                        cd->finish_one();
                      },
                      [cd](caf::error&) { cd->finish_one(); });  // it finished meanwhile
          },
          [next](caf::error&) { next({}); });
}

// The engine's own actors' snapshots (those that answered).
struct actor_parts {
  std::optional<registry_report> registry;
  std::optional<pool_report> pool;
  std::optional<trie_report> trie;
  std::optional<scheduler_report> scheduler;
};

json actors_json(const actor_parts& p, const request_reports& requests) {
  auto out = json::array();
  if (p.registry) out.push_back(registry_json(*p.registry));
  if (p.pool) out.push_back(pool_json(*p.pool));
  if (p.trie) out.push_back(trie_json(*p.trie));
  if (p.scheduler) {
    out.push_back(scheduler_json(*p.scheduler));
    out.push_back(device_json(p.scheduler->device));
  }
  for (auto& r : requests) out.push_back(actor_json(r.head, request_json(r.details)));
  return {{"time_ms", now_ms()}, {"actors", out}};
}

// Asks `to` for its inspect snapshot and stores it in `slot` (left empty on error).
template <class Handle, class Report>
void ask_part(caf::event_based_actor* self, const Handle& to, std::shared_ptr<actor_parts> parts,
              std::optional<Report> actor_parts::*slot, std::shared_ptr<countdown> cd) {
  self->request(to, part_timeout, inspect_atom_v)
      .then(
          [parts, slot, cd](Report& r) {
            (*parts).*slot = std::move(r);
            cd->finish_one();
          },
          [cd](caf::error&) { cd->finish_one(); });
}

void inspect_actors(caf::event_based_actor* self, const engine_actors& a, std::function<void(json)> reply) {
  with_live_requests(self, a, [self, a, reply](request_reports requests) {
    auto parts = std::make_shared<actor_parts>();
    auto cd = std::make_shared<countdown>();
    cd->pending = 4;
    cd->done = [parts, requests, reply] { reply(actors_json(*parts, requests)); };
    ask_part(self, a.registry, parts, &actor_parts::registry, cd);
    ask_part(self, a.pool, parts, &actor_parts::pool, cd);
    ask_part(self, a.trie, parts, &actor_parts::trie, cd);
    ask_part(self, a.scheduler, parts, &actor_parts::scheduler, cd);
  });
}

// All the rows, or the one named `rid` (the live one first).
json requests_json(const std::vector<request_snapshot>& rows, const std::string& rid) {
  if (!rid.empty()) {
    for (auto& r : rows)
      if (r.rid == rid) return request_json(r);
    return error_json("NOT_FOUND", "no live or recently finished request with rid '" + rid + "'");
  }
  auto out = json::array();
  for (auto& r : rows) out.push_back(request_json(r));
  return {{"requests", out}};
}

void inspect_requests(caf::event_based_actor* self, const engine_actors& a, std::string rid,
                      std::function<void(json)> reply) {
  with_live_requests(self, a, [self, a, rid, reply](request_reports live) {
    self->request(a.registry, part_timeout, history_atom_v)
        .then(
            [live, rid, reply](std::vector<request_snapshot>& history) {
              reply(requests_json(request_rows(live, std::move(history)), rid));
            },
            [reply](caf::error& e) { reply(error_json("INTERNAL", caf::to_string(e))); });
  });
}

// Asks `to` for `atom` and stores the answer in `slot` (left empty on error).
template <class Handle, class Atom, class Value>
void ask_metric(caf::event_based_actor* self, const Handle& to, Atom atom, std::shared_ptr<metrics_parts> parts,
                std::optional<Value> metrics_parts::*slot, std::shared_ptr<countdown> cd) {
  self->request(to, part_timeout, atom)
      .then(
          [parts, slot, cd](Value& v) {
            (*parts).*slot = std::move(v);
            cd->finish_one();
          },
          [cd](caf::error&) { cd->finish_one(); });
}

void inspect_metrics(caf::event_based_actor* self, const engine_actors& a, std::function<void(json)> reply) {
  auto parts = std::make_shared<metrics_parts>();
  auto cd = std::make_shared<countdown>();
  cd->pending = 4;
  cd->done = [parts, reply] { reply(metrics_json(*parts)); };
  ask_metric(self, a.registry, metrics_atom_v, parts, &metrics_parts::registry, cd);
  ask_metric(self, a.scheduler, counts_atom_v, parts, &metrics_parts::scheduler, cd);
  ask_metric(self, a.trie, counts_atom_v, parts, &metrics_parts::trie, cd);
  ask_metric(self, a.pool, counts_atom_v, parts, &metrics_parts::pool, cd);
}

struct cache_query {
  int32_t depth = cache_tree_limits::default_depth;
  int32_t max_nodes = cache_tree_limits::default_nodes;
  bool full_check = false;
};

// "cache?depth=8&max_nodes=256&check=full" -> {8, 256, true}. Values outside
// cache_tree_limits are brought inside (http/ refuses them before they get here).
cache_query cache_bounds(const std::string& what) {
  cache_query out;
  auto q = what.find('?');
  if (q == std::string::npos) return out;
  auto rest = what.substr(q + 1);
  std::size_t pos = 0;
  while (pos < rest.size()) {
    auto amp = rest.find('&', pos);
    auto item = rest.substr(pos, amp == std::string::npos ? std::string::npos : amp - pos);
    auto eq = item.find('=');
    if (eq != std::string::npos) {
      auto key = item.substr(0, eq);
      if (key == "check") out.full_check = item.substr(eq + 1) == "full";
      int32_t value = 0;
      try {
        value = std::stoi(item.substr(eq + 1));
      } catch (...) {
        value = -1;
      }
      if (key == "depth" && value >= 0) out.depth = std::min(value, cache_tree_limits::max_depth);
      if (key == "max_nodes" && value >= 0) out.max_nodes = std::min(value, cache_tree_limits::max_nodes);
    }
    if (amp == std::string::npos) break;
    pos = amp + 1;
  }
  return out;
}

// The trie's node list (parents first, namespace roots at page -1) as one tree
// under a synthetic root holding every namespace's first pages.
json tree_json(const trie_view& t) {
  std::vector<json> nodes(t.nodes.size());
  for (std::size_t i = 0; i < t.nodes.size(); ++i) {
    auto& n = t.nodes[i];
    nodes[i] = {{"page", n.page},
                {"tokens", n.tokens},
                {"first_tokens", n.first_tokens},
                {"lock_count", n.lock_count},
                {"hit_count", n.hit_count},
                {"age_ms", n.age_ms},
                {"pages_below", n.pages_below},
                {"children", json::array()}};
  }
  for (std::size_t i = t.nodes.size(); i-- > 0;) {
    auto parent = t.nodes[i].parent;
    if (parent >= 0) {
      auto& children = nodes[static_cast<std::size_t>(parent)]["children"];
      children.insert(children.begin(), std::move(nodes[i]));
    }
  }
  json root = {{"page", -1},
               {"tokens", 0},
               {"lock_count", 0},
               {"hit_count", 0},
               {"age_ms", 0},
               {"pages_below", t.cached_pages},
               {"children", json::array()},
               {"truncated", t.truncated}};
  // Each namespace's first pages carry its ns (a tenant sees only its own: http/tenants.hpp),
  // and the namespace roots give the cached pages per namespace.
  json namespaces = json::array();
  for (std::size_t i = 0; i < t.nodes.size(); ++i)
    if (t.nodes[i].parent < 0) {
      namespaces.push_back({{"ns", t.nodes[i].ns}, {"cached_pages", t.nodes[i].pages_below}});
      for (auto& c : nodes[i]["children"]) {
        c["ns"] = t.nodes[i].ns;
        root["children"].push_back(std::move(c));
      }
    }
  root["namespaces"] = std::move(namespaces);
  return root;
}

// http/API.md "cache".
json cache_json(const cache_view& v) {
  auto& t = v.trie;
  json out;
  out["page_size"] = t.page_size;
  out["pages"] = {{"total", v.total},
                  {"free", v.free},
                  {"private", v.private_pages},
                  {"cached_locked", v.cached_locked},
                  {"cached_evictable", v.cached_evictable}};
  out["page_states"] = v.page_states;
  out["trie"] = {{"nodes", t.cached_pages},
                 {"cached_pages", t.cached_pages},
                 {"locked_nodes", t.locked_pages},
                 {"max_depth", t.max_depth},
                 {"hits", t.hits},
                 {"evictions", t.evictions},
                 {"policy", t.policy},
                 {"live_handles", t.live_handles}};
  out["invariants_ok"] = v.invariants_ok;
  out["invariants_checked"] = v.full_check ? "full" : "counters";
  if (!v.invariants_ok) out["invariants_problem"] = v.problem;
  out["tree"] = t.with_tree ? tree_json(t) : json::object();
  return out;
}

}  // namespace

std::vector<request_snapshot> request_rows(std::vector<request_report> live, std::vector<request_snapshot> history) {
  std::sort(live.begin(), live.end(),
            [](const request_report& x, const request_report& y) { return x.details.age_ms < y.details.age_ms; });
  std::set<uint64_t> finished;
  for (auto& h : history)
    if (h.actor_id != 0) finished.insert(h.actor_id);
  std::vector<request_snapshot> rows;
  rows.reserve(live.size() + history.size());
  for (auto& r : live)
    if (r.details.actor_id == 0 || finished.count(r.details.actor_id) == 0) rows.push_back(std::move(r.details));
  for (auto& h : history) rows.push_back(std::move(h));
  return rows;
}

void spawn_inspection(caf::actor_system& sys, const engine_actors& actors, const std::string& what,
                      std::function<void(std::string json)> cb) {
  // Arguments rather than captures: CAF 0.17's zero-argument spawn path trips UBSan.
  sys.spawn(
      [](caf::event_based_actor* self, engine_actors actors, std::string what,
         std::function<void(std::string json)> cb) {
        auto reply = [self, cb](json j) {
          if (cb) cb(snapshot_text(j));
          self->quit();
        };
        if (what == "actors") {
          inspect_actors(self, actors, reply);
        } else if (what == "requests") {
          inspect_requests(self, actors, "", reply);
        } else if (what.rfind("request:", 0) == 0) {
          inspect_requests(self, actors, what.substr(8), reply);
        } else if (what == "metrics") {
          inspect_metrics(self, actors, reply);
        } else if (what == "cache" || what.rfind("cache?", 0) == 0) {
          auto q = cache_bounds(what);
          self->request(actors.pool, part_timeout, cache_atom_v, q.depth, q.max_nodes, q.full_check)
              .then([reply](cache_view& v) { reply(cache_json(v)); },
                    [reply](caf::error& e) { reply(error_json("INTERNAL", caf::to_string(e))); });
        } else {
          reply(error_json("NOT_FOUND",
                           "unknown inspection '" + what + "' (actors | cache | requests | request:<rid> | metrics)"));
        }
      },
      actors, what, std::move(cb));
}

}  // namespace kvactor
