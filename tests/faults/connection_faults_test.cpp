// Faults from outside: clients dropping their connections mid-stream (closed
// cleanly or reset), while queued or while running, among others that stay; and
// SIGTERM to the real `kvactor serve` binary under load.
#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <future>
#include <regex>
#include <thread>

#include "tests/faults/scenario.hpp"
#include "tests/http/child_process.hpp"
#include "tests/http/http_client.hpp"

using namespace kvactor;
using namespace kvactor::test;
using nlohmann::json;

namespace {

// A client that sends a streamed request and goes away: after `events` SSE events
// (0 = right after sending, while the request may still be queued), either closing
// cleanly (FIN) or resetting the connection (SO_LINGER 0: RST, as a crashed client).
// Returns the number of events seen.
int drop_mid_stream(unsigned short port, const job& j, int events, bool reset) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  job streamed = j;
  streamed.stream = true;
  const std::string body = streamed.body();
  const std::string request =
      "POST /generate HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  REQUIRE(::send(fd, request.data(), request.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(request.size()));
  std::string got;
  int seen = 0;
  timeval tv{10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  while (seen < events) {
    char buf[1024];
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    got.append(buf, static_cast<std::size_t>(n));
    seen = 0;
    for (auto p = got.find("data: "); p != std::string::npos; p = got.find("data: ", p + 1)) ++seen;
  }
  if (reset) {
    linger l{1, 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
  }
  ::close(fd);
  return seen;
}

}  // namespace

TEST_CASE("connections dropped mid-stream (FIN or RST, queued or running): the rest are untouched, pages come back") {
  faulty_server s(stories_config(512, 4));
  auto jobs = mixed_jobs(12, 24);
  for (auto& j : jobs) j.max_tokens += 40;  // long enough to be mid-stream when dropped
  const auto solo = solo_texts(s, jobs);
  // Jobs 0-3 are dropped: after 0 events (queued), 2 and 5 events, with FIN or RST.
  struct drop_plan {
    int events;
    bool reset;
  };
  const drop_plan plans[4] = {{0, false}, {2, true}, {5, false}, {3, true}};
  for (int round = 0; round < 2; ++round) {
    CAPTURE(round);
    std::vector<std::future<int>> droppers;
    for (int d = 0; d < 4; ++d) {
      const job j = jobs[static_cast<std::size_t>(d)];
      const drop_plan p = plans[(d + round) % 4];
      droppers.push_back(
          std::async(std::launch::async, [&s, j, p] { return drop_mid_stream(s.port(), j, p.events, p.reset); }));
    }
    std::vector<job> stayers(jobs.begin() + 4, jobs.end());
    const auto got = run_together(s, stayers);
    for (auto& d : droppers) d.get();
    for (std::size_t i = 0; i < stayers.size(); ++i) {
      CAPTURE(stayers[i].rid);
      CHECK(unchanged(got[i], solo[i + 4]));
    }
    CHECK(check_quiet(s) == "");
    CHECK(check_still_serving(s, jobs[0], solo[0]) == "");
  }
  // The dropped ones that were still running were cancelled, not run to the end.
  const json m = json::parse(http_call(s.port(), "GET", "/v1/inspect/cache?depth=0").body);
  CHECK(m["invariants_ok"] == true);
  const auto metrics = http_call(s.port(), "GET", "/metrics").body;
  CHECK(metrics.find("kvactor_requests_total{outcome=\"cancelled\"} 0") == std::string::npos);
}

#ifdef KVACTOR_BINARY
TEST_CASE(
    "kvactor serve: SIGTERM under load: finished answers equal solo ones, cut ones end properly, every page back") {
  const std::string models = KVACTOR_MODELS_DIR;
  child server({KVACTOR_BINARY, "serve", "--port", "0", "--model", models + "/stories260K.bin", "--tokenizer",
                models + "/tok512.bin", "--max-batch", "8", "--num-pages", "512", "--drain-timeout-ms", "400"});
  const unsigned short port = server.wait_for_port();
  REQUIRE_MESSAGE(port != 0, server.err);
  auto jobs = mixed_jobs(12, 30);
  for (std::size_t i = 0; i < jobs.size(); i += 3) jobs[i].max_tokens = 400;  // some outlast the drain
  std::vector<std::string> solo;
  for (const auto& j : jobs) {
    const auto o = generate(port, j);
    REQUIRE(o.status == 200);
    solo.push_back(o.text);
  }
  std::vector<std::future<outcome>> inflight;
  for (int copy = 0; copy < 2; ++copy)
    for (const auto& j : jobs)
      inflight.push_back(std::async(std::launch::async, [port, j] { return generate(port, j); }));
  // Signal once the engine is busy.
  for (int i = 0; i < 500; ++i) {
    const auto m = http_call(port, "GET", "/metrics").body;
    std::smatch running;
    if (std::regex_search(m, running, std::regex("\nkvactor_running_requests ([0-9]+)")) && std::stoi(running[1]) >= 4)
      break;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  kill(server.pid, SIGTERM);
  int whole = 0, cut = 0, refused = 0, wrong = 0;
  for (std::size_t i = 0; i < inflight.size(); ++i) {
    const auto o = inflight[i].get();
    const std::string& ref = solo[i % jobs.size()];
    if (o.status == 0 || (o.status == 503 && o.ending == "SHUTTING_DOWN"))
      ++refused;  // arrived after the listener closed or during the drain
    else if (unchanged(o, ref))
      ++whole;
    else if (cut_short_by(o, "cancelled", ref) || (o.status == 200 && o.ending == "length" && starts_with(ref, o.text)))
      ++cut;  // a non-streamed /generate cut by the drain reports its partial text
    else {
      ++wrong;
      MESSAGE(jobs[i % jobs.size()].rid << ": " << o.status << " " << o.ending << " '" << o.text << "' solo '" << ref
                                        << "'");
    }
  }
  CHECK(wrong == 0);
  CHECK(whole >= 1);
  CHECK(whole + cut + refused == static_cast<int>(inflight.size()));
  CHECK(server.wait_exit() == 0);
  const auto line =
      server.wait_for(std::regex("drained: pages total=([0-9]+) free=([0-9]+) private=([0-9]+) cached_locked=([0-9]+) "
                                 "cached_evictable=([0-9]+)"),
                      std::chrono::seconds(5));
  REQUIRE_MESSAGE(!line.empty(), server.err);
  CHECK(line[3] == "0");
  CHECK(line[4] == "0");
  CHECK(std::stoi(line[2]) + std::stoi(line[5]) == std::stoi(line[1]));
  MESSAGE("SIGTERM under load: " << whole << " whole, " << cut << " cut by the drain, " << refused << " refused");
}
#endif
