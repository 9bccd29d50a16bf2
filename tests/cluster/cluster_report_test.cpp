// The router's typed inspection (issue 16 item 2): the node answers node_snapshot, the
// router actor cluster_report, and the JSON clients see is written once from them by
// cluster_report_json.cpp (the shapes of docs/cluster.md and http/API.md).
#include <doctest/doctest.h>

#include <caf/all.hpp>
#include <caf/io/all.hpp>
#include <nlohmann/json.hpp>

#include <chrono>
#include <stdexcept>
#include <thread>

#include "cluster/cluster_messages.hpp"
#include "cluster/cluster_node.hpp"
#include "cluster/cluster_report_json.hpp"
#include "cluster/router_actor.hpp"

using namespace kvactor;
using namespace kvactor::cluster;
using nlohmann::json;

namespace {

template <class T>
T round_trip(caf::actor_system& sys, T value) {
  std::vector<char> buf;
  caf::binary_serializer sink(sys, buf);
  REQUIRE_FALSE(sink(value));
  T out;
  caf::binary_deserializer source(sys, buf);
  REQUIRE_FALSE(source(out));
  return out;
}

const std::string metrics_a =
    R"({"cache_hit_tokens":30,"cache_queried_tokens":120,"pages":{"cached_evictable":5,"cached_locked":2,)"
    R"("free":50,"private":7,"total":64},"queue_depth":1,"requests":{"finished":4,"failed":1},"running":2})";
const std::string metrics_b =
    R"({"cache_hit_tokens":10,"cache_queried_tokens":80,"pages":{"cached_evictable":1,"cached_locked":0,)"
    R"("free":60,"private":3,"total":64},"queue_depth":0,"requests":{"finished":6,"failed":0},"running":1})";

node_report node(const std::string& address, const std::string& state, bool asked, bool answered,
                 const std::string& text) {
  node_report n;
  n.address = address;
  n.state = state;
  n.in_flight = 3;
  n.routed = 11;
  n.prefix_routed = 5;
  n.moved_away = 1;
  n.lost = 2;
  n.connects = 1;
  n.tree_tokens = 400;
  n.last_error = state == "up" ? "" : "connection refused";
  n.asked = asked;
  n.answered = answered;
  n.snapshot.json = text;
  return n;
}

cluster_report report(const std::string& what, std::vector<node_report> nodes) {
  cluster_report r;
  r.what = what;
  r.policy = "prefix";
  r.balance_margin = 4;
  r.requests = router_counts{20, 9, 3, 2, 1};
  r.nodes = std::move(nodes);
  return r;
}

}  // namespace

TEST_CASE("cluster inspection: node_snapshot and cluster_report round-trip through the binary serializer") {
  caf::actor_system_config cfg;
  add_cluster_types(cfg);
  caf::actor_system sys(cfg);
  const auto r = report(
      "cluster", {node("10.0.0.1:7000", "up", true, true, metrics_a), node("10.0.0.2:7000", "down", false, false, "")});
  const auto got = round_trip(sys, r);
  CHECK(got.what == "cluster");
  CHECK(got.policy == "prefix");
  CHECK(got.balance_margin == 4);
  CHECK(got.requests.routed == 20);
  CHECK(got.requests.no_node == 1);
  REQUIRE(got.nodes.size() == 2);
  CHECK(got.nodes[0].address == "10.0.0.1:7000");
  CHECK(got.nodes[0].tree_tokens == 400);
  CHECK(got.nodes[0].answered);
  CHECK(got.nodes[0].snapshot.json == metrics_a);
  CHECK(got.nodes[1].last_error == "connection refused");
  CHECK_FALSE(got.nodes[1].asked);
  CHECK(round_trip(sys, node_snapshot{"{\"x\":1}"}).json == "{\"x\":1}");
  CHECK(caf::type_id<cluster_report>::value >= caf::id_block::kvactor_cluster::begin);
  CHECK(caf::type_id<node_snapshot>::value < caf::id_block::kvactor_cluster::end);
}

TEST_CASE("cluster inspection JSON: the cluster view has every node, and load and cache for those that answered") {
  const auto text = cluster_report_text(
      report("cluster",
             {node("10.0.0.1:7000", "up", true, true, metrics_a), node("10.0.0.2:7000", "up", true, true, metrics_b),
              node("10.0.0.3:7000", "up", true, false, ""),  // asked, did not answer in time
              node("10.0.0.4:7000", "up", true, true, R"({"error":{"code":"X","message":"m"}})"),
              node("10.0.0.5:7000", "connecting", false, false, "")}));
  const json v = json::parse(text);
  CHECK(v["policy"] == "prefix");
  CHECK(v["balance_margin"] == 4);
  CHECK(v["requests"] == json{{"routed", 20}, {"prefix_routed", 9}, {"retried", 3}, {"node_lost", 2}, {"no_node", 1}});
  CHECK(v["cache_hit_tokens"] == 40);
  CHECK(v["cache_queried_tokens"] == 200);
  CHECK(v["hit_rate"].get<double>() == doctest::Approx(0.2));
  REQUIRE(v["nodes"].size() == 5);
  const json& a = v["nodes"][0];
  CHECK(a["address"] == "10.0.0.1:7000");
  CHECK(a["state"] == "up");
  CHECK(a["in_flight"] == 3);
  CHECK(a["routed"] == 11);
  CHECK(a["prefix_routed"] == 5);
  CHECK(a["moved_away"] == 1);
  CHECK(a["lost"] == 2);
  CHECK(a["connects"] == 1);
  CHECK(a["tree_tokens"] == 400);
  CHECK(a["last_error"] == "");
  CHECK(a["running"] == 2);
  CHECK(a["queue_depth"] == 1);
  CHECK(a["cache_hit_tokens"] == 30);
  CHECK(a["cache_queried_tokens"] == 120);
  CHECK(a["hit_rate"].get<double>() == doctest::Approx(0.25));
  CHECK(a["pages"] == json::parse(metrics_a)["pages"]);
  CHECK(a["cached_pages"] == 7);
  CHECK(a.size() == 17);  // the ten router fields, six from the node's metrics and cached_pages
  CHECK(v["nodes"][1]["cached_pages"] == 1);
  for (int i : {2, 3, 4}) {  // no answer, an error, not asked: the router's fields only
    CAPTURE(i);
    CHECK(v["nodes"][i].size() == 10);
    CHECK_FALSE(v["nodes"][i].contains("running"));
  }
  CHECK(v["nodes"][4]["state"] == "connecting");
  CHECK(v["nodes"][4]["last_error"] == "connection refused");
  // One compact line with sorted keys, as every snapshot (actors/actor_snapshot.hpp).
  CHECK(text.find('\n') == std::string::npos);
  CHECK(text.rfind(R"({"balance_margin":4,"cache_hit_tokens":40,"cache_queried_tokens":200,"hit_rate":0.2,)", 0) == 0);

  // No node up: the view still lists them, and the rate is 0, not a division by zero.
  const json none = json::parse(cluster_report_text(report("cluster", {node("h:1", "down", false, false, "")})));
  CHECK(none["hit_rate"] == 0.0);
  CHECK(none["cache_queried_tokens"] == 0);
  CHECK(none["nodes"][0]["state"] == "down");
}

TEST_CASE("cluster inspection JSON: metrics sum the nodes that answered and a request is the node's own snapshot") {
  const auto nodes = [](const std::string& b_text) {
    return std::vector<node_report>{node("a:1", "up", true, true, metrics_a), node("b:1", "up", true, true, b_text),
                                    node("c:1", "up", true, false, ""), node("d:1", "down", false, false, "")};
  };
  const json sum = json::parse(cluster_report_text(report("metrics", nodes(metrics_b))));
  CHECK(sum["running"] == 3);
  CHECK(sum["queue_depth"] == 1);
  CHECK(sum["cache_hit_tokens"] == 40);
  CHECK(sum["pages"]["total"] == 128);
  CHECK(sum["pages"]["cached_locked"] == 2);
  CHECK(sum["requests"] == json{{"finished", 10}, {"failed", 1}});
  const json only_a = json::parse(cluster_report_text(report("metrics", nodes(R"({"error":{"code":"X"}})"))));
  CHECK(only_a == json::parse(metrics_a));
  CHECK(cluster_report_text(report("metrics", {})) == "{}");

  const std::string known = R"({"rid":"r1", "phase":"decode"})";  // relayed as the node wrote it
  const auto not_here = R"({"error":{"code":"NOT_FOUND","message":"unknown request"}})";
  CHECK(cluster_report_text(
            report("request:r1", {node("a:1", "up", true, true, not_here), node("b:1", "up", true, true, known),
                                  node("c:1", "up", true, true, metrics_b)})) == known);
  CHECK(cluster_report_text(report("request:r1", {node("a:1", "up", true, true, R"({"error":{"code":"NOT_FOUND"}})"),
                                                  node("b:1", "up", true, false, "")})) ==
        R"({"error":{"code":"NOT_FOUND","message":"no node knows request 'r1'"}})");

  // Anything else: each asked node's snapshot (null when it gave none), in --nodes order.
  const json listed = json::parse(cluster_report_text(report("actors", nodes(R"([1,2])"))));
  REQUIRE(listed["nodes"].size() == 3);
  CHECK(listed["nodes"][0] == json{{"address", "a:1"}, {"snapshot", json::parse(metrics_a)}});
  CHECK(listed["nodes"][1]["snapshot"] == json::array({1, 2}));
  CHECK(listed["nodes"][2]["address"] == "c:1");
  CHECK(listed["nodes"][2]["snapshot"].is_null());
  CHECK(cluster_error_text("ROUTER_ERROR", "inspection failed") ==
        R"({"error":{"code":"ROUTER_ERROR","message":"inspection failed"}})");
}

namespace {

// A node's local engine that only answers inspections: a fixed text per `what`.
class inspect_only_service final : public generation_service {
 public:
  const tokenizer& tok() const override { throw std::logic_error("unused"); }
  const model_config& model() const override { throw std::logic_error("unused"); }
  const engine_config& config() const override { throw std::logic_error("unused"); }
  std::string submit(generation_request, generation_callback) override { throw std::logic_error("unused"); }
  void cancel(const std::string&) override {}
  void inspect(const std::string& what, std::function<void(std::string json)> cb) override {
    cb(what == "metrics" ? metrics_a : R"({"what":")" + what + R"("})");
  }
  void shutdown(std::chrono::milliseconds) override {}
};

}  // namespace

TEST_CASE("router actor over a real node: inspect answers a typed cluster_report with the node's snapshot unread") {
  inspect_only_service service;
  cluster_node published(service, "127.0.0.1", 0);

  caf::actor_system_config cfg;
  add_cluster_types(cfg);
  caf::actor_system sys(cfg);
  router_settings settings;
  settings.nodes = {node_address{"127.0.0.1", published.port()}};
  settings.reconnect_interval = std::chrono::milliseconds(50);
  auto router = spawn_router_actor(sys, settings);
  caf::scoped_actor self(sys);
  auto ask = [&](const std::string& what) {
    cluster_report out;
    self->request(router, std::chrono::seconds(10), inspect_atom_v, what)
        .receive([&](cluster_report& r) { out = std::move(r); },
                 [&](caf::error& err) { FAIL("inspect failed: " << sys.render(err)); });
    return out;
  };
  auto r = ask("cluster");
  for (int i = 0; i < 200 && (r.nodes.empty() || r.nodes[0].state != "up"); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    r = ask("cluster");
  }
  REQUIRE(r.nodes.size() == 1);
  REQUIRE(r.nodes[0].state == "up");
  CHECK(r.what == "cluster");
  CHECK(r.policy == routing_policy_name(settings.routing.kind));
  CHECK(r.nodes[0].address == "127.0.0.1:" + std::to_string(published.port()));
  CHECK(r.nodes[0].asked);
  CHECK(r.nodes[0].answered);
  CHECK(r.nodes[0].snapshot.json == metrics_a);  // "cluster" asks the nodes for their metrics
  CHECK(json::parse(cluster_report_text(r))["nodes"][0]["running"] == 2);

  const auto actors = ask("actors");
  CHECK(actors.what == "actors");
  REQUIRE(actors.nodes.size() == 1);
  CHECK(actors.nodes[0].snapshot.json == R"({"what":"actors"})");
  caf::anon_send_exit(router, caf::exit_reason::user_shutdown);
}
