#include <doctest/doctest.h>

#include <map>
#include <vector>

#include "cluster/router_settings.hpp"
#include "cluster/routing_policy.hpp"

using namespace kvactor::cluster;

namespace {
routing_policy make(routing_policy_kind kind, int margin = 4) {
  routing_settings s;
  s.kind = kind;
  s.balance_margin = margin;
  s.seed = 7;
  return routing_policy(s);
}
}  // namespace

TEST_CASE("prefix policy: the longest match wins while its load is within the margin") {
  auto p = make(routing_policy_kind::prefix, 2);
  std::vector<node_view> nodes = {{true, 0, 3}, {true, 1, 40}, {true, 0, 10}};
  auto c = p.choose(nodes);
  REQUIRE(c);
  CHECK(c->node == 1);
  CHECK(c->by_prefix);
  nodes[1].load = 2;  // exactly the margin above the lightest
  CHECK(p.choose(nodes)->node == 1);
  nodes[1].load = 3;  // over it: least loaded instead
  c = p.choose(nodes);
  CHECK(c->node != 1);
  CHECK_FALSE(c->by_prefix);
  CHECK(nodes[c->node].load == 0);
}

TEST_CASE("prefix policy: no match means least loaded, and equal loads take turns") {
  auto p = make(routing_policy_kind::prefix);
  std::vector<node_view> nodes = {{true, 0, 0}, {true, 0, 0}, {true, 0, 0}};
  std::map<std::size_t, int> picks;
  for (int i = 0; i < 9; ++i) ++picks[p.choose(nodes)->node];
  CHECK(picks.size() == 3);
  CHECK(picks[0] == 3);
  nodes[0].load = 5;
  nodes[2].load = 1;
  CHECK(p.choose(nodes)->node == 1);
}

TEST_CASE("prefix policy: equal matches go to the lighter node, down nodes are never chosen") {
  auto p = make(routing_policy_kind::prefix);
  std::vector<node_view> nodes = {{true, 3, 16}, {true, 1, 16}, {false, 0, 99}};
  auto c = p.choose(nodes);
  CHECK(c->node == 1);
  CHECK(c->by_prefix);
  nodes[0].up = nodes[1].up = false;
  CHECK_FALSE(p.choose(nodes));
  CHECK_FALSE(p.choose({}));
}

TEST_CASE("prefix policy: matches shorter than min_match_tokens count as none") {
  routing_settings s;
  s.min_match_tokens = 8;
  routing_policy p(s);
  std::vector<node_view> nodes = {{true, 0, 0}, {true, 2, 7}};
  auto c = p.choose(nodes);
  CHECK(c->node == 0);
  CHECK_FALSE(c->by_prefix);
  nodes[1].match_tokens = 8;
  CHECK(p.choose(nodes)->node == 1);
}

TEST_CASE("round-robin and random cover every node that is up, and only those") {
  auto rr = make(routing_policy_kind::round_robin);
  std::vector<node_view> nodes = {{true, 9, 0}, {false, 0, 0}, {true, 0, 50}};
  std::vector<std::size_t> order;
  for (int i = 0; i < 4; ++i) order.push_back(rr.choose(nodes)->node);
  CHECK(order == std::vector<std::size_t>{0, 2, 0, 2});

  auto rnd = make(routing_policy_kind::random);
  std::map<std::size_t, int> picks;
  for (int i = 0; i < 200; ++i) ++picks[rnd.choose(nodes)->node];
  CHECK(picks.count(1) == 0);
  CHECK(picks[0] > 50);
  CHECK(picks[2] > 50);
  // Seeded: the same seed gives the same sequence.
  auto a = make(routing_policy_kind::random), b = make(routing_policy_kind::random);
  for (int i = 0; i < 20; ++i) CHECK(a.choose(nodes)->node == b.choose(nodes)->node);
}

TEST_CASE("least-loaded ignores matches") {
  auto p = make(routing_policy_kind::least_loaded);
  std::vector<node_view> nodes = {{true, 2, 100}, {true, 1, 0}};
  CHECK(p.choose(nodes)->node == 1);
}

TEST_CASE("policy names parse both ways") {
  for (auto k : {routing_policy_kind::prefix, routing_policy_kind::least_loaded, routing_policy_kind::random,
                 routing_policy_kind::round_robin})
    CHECK(parse_routing_policy(routing_policy_name(k)) == k);
  CHECK(parse_routing_policy("least_loaded") == routing_policy_kind::least_loaded);
  CHECK_FALSE(parse_routing_policy("fastest"));
  CHECK_FALSE(parse_routing_policy(""));
}

TEST_CASE("--nodes parsing names the bad entry") {
  auto ok = parse_node_list("127.0.0.1:4000,node-b:4001,[::1]:4002");
  REQUIRE(std::holds_alternative<std::vector<node_address>>(ok));
  auto& list = std::get<std::vector<node_address>>(ok);
  REQUIRE(list.size() == 3);
  CHECK(list[0].host == "127.0.0.1");
  CHECK(list[0].port == 4000);
  CHECK(list[1].text() == "node-b:4001");
  CHECK(list[2].host == "::1");
  for (const char* bad : {"", "a", "a:", ":80", "a:0", "a:65536", "a:12x", "a:1,,b:2", "a:1,a:1", "a:1,"}) {
    auto r = parse_node_list(bad);
    CAPTURE(bad);
    CHECK(std::holds_alternative<std::string>(r));
  }
  CHECK(std::get<std::string>(parse_node_list("a:1,a:1")).find("twice") != std::string::npos);
}
