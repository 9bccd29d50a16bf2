#include "actors/inspection.hpp"

#include <algorithm>
#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>

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

// Counts outstanding replies; runs `done` when the last one arrives (or fails).
struct countdown {
  int pending = 0;
  std::function<void()> done;
  void finish_one() {
    if (--pending == 0 && done)
      done();
  }
};

// Asks every live request (from the registry) for its snapshot; calls next(list).
void with_live_requests(caf::event_based_actor* self, const engine_actors& a, std::function<void(json)> next) {
  self->request(a.registry, part_timeout, list_atom_v)
      .then(
          [self, next](std::vector<caf::actor>& live) {
            auto out = std::make_shared<json>(json::array());
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
                      [out, cd](std::string& s) {
                        out->push_back(json::parse(s, nullptr, false));
                        cd->finish_one();
                      },
                      [cd](caf::error&) { cd->finish_one(); });  // it finished meanwhile
          },
          [next](caf::error&) { next(json::array()); });
}

void inspect_actors(caf::event_based_actor* self, const engine_actors& a, std::function<void(json)> reply) {
  with_live_requests(self, a, [self, a, reply](json requests) {
    auto out = std::make_shared<json>(json::array());
    auto cd = std::make_shared<countdown>();
    cd->pending = 4;
    cd->done = [out, requests, reply] {
      for (auto& r : requests)
        out->push_back(r);
      reply({{"time_ms", now_ms()}, {"actors", *out}});
    };
    auto add = [out, cd](std::string& s) {
      auto j = json::parse(s, nullptr, false);
      if (j.is_object() && j.contains("device_snapshot")) {
        auto dev = j["device_snapshot"];
        j.erase("device_snapshot");
        out->push_back(j);
        out->push_back(dev);
      } else {
        out->push_back(j);
      }
      cd->finish_one();
    };
    auto skip = [cd](caf::error&) { cd->finish_one(); };
    self->request(a.registry, part_timeout, inspect_atom_v).then(add, skip);
    self->request(a.pool, part_timeout, inspect_atom_v).then(add, skip);
    self->request(a.trie, part_timeout, inspect_atom_v).then(add, skip);
    self->request(a.scheduler, part_timeout, inspect_atom_v).then(add, skip);
  });
}

void inspect_requests(caf::event_based_actor* self, const engine_actors& a, std::string rid,
                      std::function<void(json)> reply) {
  with_live_requests(self, a, [self, a, rid, reply](json live) {
    self->request(a.registry, part_timeout, history_atom_v)
        .then(
            [live, rid, reply](std::string& history_json) {
              std::vector<json> items;
              for (auto& r : live)
                if (r.is_object() && r.contains("details"))
                  items.push_back(r["details"]);
              std::sort(items.begin(), items.end(), [](const json& x, const json& y) {
                return x.value("age_ms", 0.0) < y.value("age_ms", 0.0);
              });
              auto history = json::parse(history_json, nullptr, false);
              if (history.is_array())
                for (auto& h : history)
                  items.push_back(h);
              if (rid.empty()) {
                reply({{"requests", items}});
                return;
              }
              for (auto& r : items)
                if (r.is_object() && r.value("rid", std::string()) == rid) {
                  reply(r);
                  return;
                }
              reply(error_json("NOT_FOUND", "no live or recently finished request with rid '" + rid + "'"));
            },
            [reply](caf::error& e) { reply(error_json("INTERNAL", caf::to_string(e))); });
  });
}

void inspect_metrics(caf::event_based_actor* self, const engine_actors& a, std::function<void(json)> reply) {
  auto out = std::make_shared<json>(json::object());
  auto cd = std::make_shared<countdown>();
  cd->pending = 4;
  cd->done = [out, reply] { reply(*out); };
  auto fail = [cd](caf::error&) { cd->finish_one(); };
  self->request(a.registry, part_timeout, metrics_atom_v)
      .then(
          [out, cd](std::string& s) {
            auto j = json::parse(s, nullptr, false);
            if (j.is_object())
              for (auto& [k, v] : j.items())
                (*out)[k] = v;
            cd->finish_one();
          },
          fail);
  self->request(a.scheduler, part_timeout, counts_atom_v)
      .then(
          [out, cd](scheduler_counts& c) {
            (*out)["queue_depth"] = c.queued;
            (*out)["running"] = c.running;
            (*out)["preemptions"] = c.preemptions;
            (*out)["steps"] = c.steps;
            (*out)["device_restarts"] = c.device_restarts;
            (*out)["batched_tokens"] = c.batched_tokens;
            cd->finish_one();
          },
          fail);
  self->request(a.trie, part_timeout, counts_atom_v)
      .then(
          [out, cd](trie_counts& c) {
            (*out)["evictions"] = c.evicted_pages;
            (*out)["cached_locked_pages"] = c.locked;
            cd->finish_one();
          },
          fail);
  self->request(a.pool, part_timeout, counts_atom_v)
      .then(
          [out, cd](pool_counts& c) {
            (*out)["pool"] = c.total;
            (*out)["pool_counts"] = {{"total", c.total}, {"free", c.free}, {"private", c.private_pages},
                                     {"cached", c.cached}};
            cd->finish_one();
          },
          fail);
  // Fold pool and trie into the API's "pages" object once both are in.
  cd->done = [out, reply] {
    auto& o = *out;
    if (o.contains("pool_counts")) {
      auto pc = o["pool_counts"];
      int locked = o.value("cached_locked_pages", 0);
      int cached = pc.value("cached", 0);
      o["pages"] = {{"total", pc["total"]},
                    {"free", pc["free"]},
                    {"private", pc["private"]},
                    {"cached_locked", locked},
                    {"cached_evictable", cached - locked}};
      o.erase("pool_counts");
      o.erase("pool");
      o.erase("cached_locked_pages");
    }
    reply(o);
  };
}

struct cache_query {
  int32_t depth = 8;
  int32_t max_nodes = 256;
  bool full_check = false;
};

// "cache?depth=8&max_nodes=256&check=full" -> {8, 256, true}; defaults 8 / 256 /
// counters only, bounded.
cache_query cache_bounds(const std::string& what) {
  cache_query out;
  auto& depth = out.depth;
  auto& max_nodes = out.max_nodes;
  auto q = what.find('?');
  if (q == std::string::npos)
    return out;
  auto rest = what.substr(q + 1);
  std::size_t pos = 0;
  while (pos < rest.size()) {
    auto amp = rest.find('&', pos);
    auto item = rest.substr(pos, amp == std::string::npos ? std::string::npos : amp - pos);
    auto eq = item.find('=');
    if (eq != std::string::npos) {
      auto key = item.substr(0, eq);
      if (key == "check")
        out.full_check = item.substr(eq + 1) == "full";
      int32_t value = 0;
      try {
        value = std::stoi(item.substr(eq + 1));
      } catch (...) {
        value = -1;
      }
      if (key == "depth" && value >= 0)
        depth = std::min(value, 64);
      if (key == "max_nodes" && value >= 0)
        max_nodes = std::min(value, 4096);
    }
    if (amp == std::string::npos)
      break;
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
  json root = {{"page", -1},        {"tokens", 0},     {"lock_count", 0}, {"hit_count", 0},
               {"age_ms", 0},       {"pages_below", t.cached_pages},
               {"children", json::array()}, {"truncated", t.truncated}};
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
  out["trie"] = {{"nodes", t.cached_pages},      {"cached_pages", t.cached_pages}, {"locked_nodes", t.locked_pages},
                 {"max_depth", t.max_depth},     {"hits", t.hits},                 {"evictions", t.evictions},
                 {"policy", t.policy},           {"live_handles", t.live_handles}};
  out["invariants_ok"] = v.invariants_ok;
  out["invariants_checked"] = v.full_check ? "full" : "counters";
  if (!v.invariants_ok)
    out["invariants_problem"] = v.problem;
  out["tree"] = t.with_tree ? tree_json(t) : json::object();
  return out;
}

}  // namespace

void spawn_inspection(caf::actor_system& sys, const engine_actors& actors, const std::string& what,
                      std::function<void(std::string json)> cb) {
  // Arguments rather than captures: CAF 0.17's zero-argument spawn path trips UBSan.
  sys.spawn([](caf::event_based_actor* self, engine_actors actors, std::string what,
               std::function<void(std::string json)> cb) {
    auto reply = [self, cb](json j) {
      if (cb)
        cb(snapshot_text(j));
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
      reply(error_json("NOT_FOUND", "unknown inspection '" + what +
                                        "' (actors | cache | requests | request:<rid> | metrics)"));
    }
  }, actors, what, std::move(cb));
}

}  // namespace kvactor
