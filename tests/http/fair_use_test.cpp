// Fair use of connections (issue 22) against the scripted engine: the registry's
// shedding order and per-client counts, per-client limits answered 429 with
// Retry-After, and request deadlines that a client dripping bytes cannot extend.
#include <doctest/doctest.h>

#include <thread>

#include "http/connection_registry.hpp"
#include "http/server_config.hpp"
#include "tests/http/http_client.hpp"
#include "tests/http/raw_socket.hpp"
#include "tests/http/served.hpp"

using namespace kvactor;
using namespace kvactor::test;
using http::connection_registry;
using http::connection_state;

namespace {

struct recorded_victim : http::sheddable {
  int shed_calls = 0;
  void shed() override { ++shed_calls; }
};

template <class F>
bool eventually(F cond, std::chrono::milliseconds within = std::chrono::milliseconds(5000)) {
  const auto end = std::chrono::steady_clock::now() + within;
  while (std::chrono::steady_clock::now() < end) {
    if (cond()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return cond();
}

double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

const std::string small_generate = R"({"text":"a","sampling_params":{"max_completion_tokens":2}})";
const std::string generate_request =
    "POST /generate HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(small_generate.size()) + "\r\n\r\n" +
    small_generate;

}  // namespace

TEST_CASE("connection registry: sheds the oldest idle keep-alive, then the longest reading, never one answering") {
  connection_registry reg({3, 2, 1});
  auto a = std::make_shared<recorded_victim>(), b = std::make_shared<recorded_victim>(),
       c = std::make_shared<recorded_victim>();
  const auto ra = reg.admit("10.0.0.1"), rb = reg.admit("10.0.0.2"), rc = reg.admit("10.0.0.3");
  REQUIRE(ra.verdict == connection_registry::admission::admitted);
  REQUIRE(rc.verdict == connection_registry::admission::admitted);
  reg.attach(ra.id, a);
  reg.attach(rb.id, b);
  reg.attach(rc.id, c);
  reg.set_state(ra.id, connection_state::reading);    // a: reading since first
  reg.set_state(rb.id, connection_state::answering);  // b: answering (never shed)
  reg.set_state(rc.id, connection_state::reading);
  reg.set_state(rc.id, connection_state::answering);
  reg.set_state(rc.id, connection_state::idle);  // c: answered, idle (keep-alive)
  // Full: the idle one goes first, though a has been reading longer.
  auto first = reg.admit("10.0.0.4");
  CHECK(first.verdict == connection_registry::admission::admitted);
  CHECK(first.shed == c);
  reg.remove(rc.id);
  // Full again (a, b, d): d is new, waiting in the reading line behind a; a, the
  // longest reading, goes.
  auto second = reg.admit("10.0.0.5");
  CHECK(second.shed == a);
  reg.remove(ra.id);
  // Now b answering, d and e unattached: nothing to shed.
  reg.remove(first.id);
  reg.attach(second.id, std::make_shared<recorded_victim>());
  reg.set_state(second.id, connection_state::answering);
  auto f = reg.admit("10.0.0.6");
  REQUIRE(f.verdict == connection_registry::admission::admitted);  // 2 open: room
  reg.set_state(f.id, connection_state::answering);
  CHECK(reg.admit("10.0.0.7").verdict == connection_registry::admission::server_full);
  CHECK(reg.size() == 3);
}

TEST_CASE("connection registry: a new connection is not shed before older slow readers") {
  connection_registry reg({2, 2, 2});
  auto slow = std::make_shared<recorded_victim>(), fresh = std::make_shared<recorded_victim>();
  const auto rs = reg.admit("10.0.0.1");
  reg.attach(rs.id, slow);
  reg.set_state(rs.id, connection_state::reading);  // dripping its head
  const auto rf = reg.admit("10.0.0.2");            // accepted, first bytes not read yet
  reg.attach(rf.id, fresh);
  // A newcomer arrives while the server is full: the slow reader goes, not the fresh one.
  const auto n1 = reg.admit("10.0.0.3");
  CHECK(n1.shed == slow);
  reg.remove(rs.id);
  reg.attach(n1.id, std::make_shared<recorded_victim>());
  // The fresh connection starts reading: it keeps its age (from its accept), so it is
  // still older than n1 and the next one to go if it never finishes its head.
  reg.set_state(rf.id, connection_state::reading);
  CHECK(reg.admit("10.0.0.4").shed == fresh);
}

TEST_CASE("connection registry: per-client connections and requests in flight") {
  connection_registry reg({100, 2, 1});
  const auto x1 = reg.admit("10.0.0.1"), x2 = reg.admit("10.0.0.1");
  CHECK(x2.verdict == connection_registry::admission::admitted);
  CHECK(reg.admit("10.0.0.1").verdict == connection_registry::admission::client_full);
  CHECK(reg.admit("10.0.0.2").verdict == connection_registry::admission::admitted);
  CHECK(reg.connections_of("10.0.0.1") == 2);
  CHECK(reg.begin_request(x1.id));
  CHECK_FALSE(reg.begin_request(x2.id));
  CHECK(reg.requests_of("10.0.0.1") == 1);
  reg.end_request(x1.id);
  CHECK(reg.begin_request(x2.id));
  reg.end_request(x2.id);
  reg.remove(x1.id);
  CHECK(reg.connections_of("10.0.0.1") == 1);
  CHECK(reg.admit("10.0.0.1").verdict == connection_registry::admission::admitted);
}

TEST_CASE("max_connections 0 is sized from the descriptor limit") {
  CHECK(http::default_max_connections(1024) == 480);
  CHECK(http::default_max_connections(1048576) == 524256);
  CHECK(http::default_max_connections(20) == 16);
  http::server_config cfg;
  CHECK(cfg.max_connections == 0);
  CHECK(http::effective_max_connections(cfg) >= 16);
  cfg.max_connections = 7;
  CHECK(http::effective_max_connections(cfg) == 7);
}

TEST_CASE("a client over max_connections_per_client gets 429; other clients are not affected") {
  auto cfg = test_config();
  cfg.max_connections_per_client = 2;
  cfg.idle_timeout_ms = 20000;
  served s({}, cfg);
  raw_socket one("127.0.0.2", s.port()), two("127.0.0.2", s.port());
  REQUIRE(one.send("GET /health HTTP/1.1\r\nHost: x\r\n\r\n"));
  REQUIRE(two.send("GET /health HTTP/1.1\r\nHost: x\r\n\r\n"));
  CHECK(one.read_until("\r\n\r\n", std::chrono::seconds(3)).find("200 OK") != std::string::npos);
  CHECK(two.read_until("\r\n\r\n", std::chrono::seconds(3)).find("200 OK") != std::string::npos);
  raw_socket three("127.0.0.2", s.port());
  REQUIRE(three.send("GET /health HTTP/1.1\r\nHost: x\r\n\r\n"));
  const auto refused = three.read_until("}}", std::chrono::seconds(3));
  CHECK(refused.find("429 Too Many Requests") != std::string::npos);
  CHECK(refused.find("Retry-After: 1") != std::string::npos);
  CHECK(refused.find("TOO_MANY_CONNECTIONS") != std::string::npos);
  CHECK(refused.find("max_connections_per_client") != std::string::npos);
  CHECK(three.closed_by_peer(std::chrono::seconds(2)));
  // 127.0.0.1 is another client.
  CHECK(http_call(s.port(), "GET", "/health").status == 200);
  const auto metrics = http_call(s.port(), "GET", "/metrics").body;
  CHECK(metrics.find("kvactor_http_client_limit_refusals_total{limit=\"connections\"} 1") != std::string::npos);
}

TEST_CASE("a client over max_requests_per_client gets 429 TOO_MANY_REQUESTS and keeps its connection") {
  auto cfg = test_config();
  cfg.max_requests_per_client = 1;
  served s({}, cfg);
  s.service->pause(true);
  raw_socket busy("127.0.0.3", s.port());
  REQUIRE(busy.send(generate_request));
  REQUIRE(eventually([&] { return s.service->submitted() == 1; }));
  raw_socket second("127.0.0.3", s.port());
  REQUIRE(second.send(generate_request));
  const auto refused = second.read_until("}}", std::chrono::seconds(3));
  CHECK(refused.find("429 Too Many Requests") != std::string::npos);
  CHECK(refused.find("Retry-After: 1") != std::string::npos);
  CHECK(refused.find("TOO_MANY_REQUESTS") != std::string::npos);
  CHECK(refused.find("Connection: close") == std::string::npos);
  // Another address is served meanwhile (its request waits for the paused engine).
  raw_socket other("127.0.0.4", s.port());
  REQUIRE(other.send(generate_request));
  REQUIRE(eventually([&] { return s.service->submitted() == 2; }));
  s.service->pause(false);
  CHECK(busy.read_until("}", std::chrono::seconds(3)).find("200 OK") != std::string::npos);
  CHECK(other.read_until("}", std::chrono::seconds(3)).find("200 OK") != std::string::npos);
  // Once the first answer is written (the server counts it done just after the client
  // can read it, so allow a retry or two), the same kept-alive connection may ask again.
  std::string again;
  for (int attempt = 0; attempt < 20 && again.find("200 OK") == std::string::npos; ++attempt) {
    if (attempt > 0) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    REQUIRE(second.send(generate_request));
    again = second.read_until("}", std::chrono::seconds(3));
  }
  CHECK(again.find("200 OK") != std::string::npos);
  CHECK(s.server->metrics().client_refused_requests.load() >= 1);
  const auto metrics = http_call(s.port(), "GET", "/metrics").body;
  CHECK(metrics.find("kvactor_http_client_limit_refusals_total{limit=\"requests\"} ") != std::string::npos);
}

TEST_CASE("a request head dripped a byte at a time is cut at header_timeout_ms from its first byte") {
  auto cfg = test_config();
  cfg.idle_timeout_ms = 20000;
  cfg.header_timeout_ms = 600;
  served s({}, cfg);
  raw_socket drip("127.0.0.5", s.port());
  // Idle first (costs nothing, the deadline has not started), then the drip.
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  const auto t0 = std::chrono::steady_clock::now();
  const std::string head = "POST /generate HTTP/1.1\r\nHost: x\r\nX-Slow: ";
  bool open = drip.send(head);
  while (open && ms_since(t0) < 5000) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    open = drip.send("a") && !drip.closed_by_peer(std::chrono::milliseconds(1));
  }
  const double took = ms_since(t0);
  CHECK_FALSE(open);
  CHECK(took >= 550);
  CHECK(took < 2500);
  // The stream closes the socket before the read completes: the count may trail the close.
  CHECK(eventually([&] { return s.server->metrics().head_deadline_closes.load() == 1; }));
}

TEST_CASE("a body dripped slowly is cut at read_timeout_ms plus its size at body_min_bytes_per_s") {
  auto cfg = test_config();
  cfg.read_timeout_ms = 300;
  cfg.body_min_bytes_per_s = 1000;  // 500 bytes: 300 + 500 ms
  served s({}, cfg);
  raw_socket drip("127.0.0.6", s.port());
  const auto t0 = std::chrono::steady_clock::now();
  bool open = drip.send("POST /generate HTTP/1.1\r\nHost: x\r\nContent-Length: 500\r\n\r\n{");
  while (open && ms_since(t0) < 5000) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    open = drip.send(" ") && !drip.closed_by_peer(std::chrono::milliseconds(1));
  }
  const double took = ms_since(t0);
  CHECK_FALSE(open);
  CHECK(took >= 750);
  CHECK(took < 3000);
  // The stream closes the socket before the read completes: the count may trail the close.
  CHECK(eventually([&] { return s.server->metrics().body_deadline_closes.load() == 1; }));
  // The same body at a fair rate is read and answered (400: it is not JSON, but it was read).
  raw_socket fair("127.0.0.6", s.port());
  REQUIRE(fair.send("POST /generate HTTP/1.1\r\nHost: x\r\nContent-Length: 500\r\n\r\n"));
  for (int i = 0; i < 5; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(40));
    REQUIRE(fair.send(std::string(100, ' ')));
  }
  CHECK(fair.read_until("}}", std::chrono::seconds(3)).find("HTTP/1.1 400") != std::string::npos);
}
