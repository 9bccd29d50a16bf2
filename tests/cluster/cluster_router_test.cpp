// The router names its requests by the engine's rules (the registry actor): a live
// rid's duplicate gets a suffix, an empty rid becomes req-<n>, an ended rid is free
// again; cancel and shutdown reach the requests it tracks. One node in this process,
// over a service that holds every request until the test ends it.
#include <doctest/doctest.h>

#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>

#include "cluster/cluster_node.hpp"
#include "cluster/cluster_router.hpp"
#include "model/model.hpp"

using namespace kvactor;
using namespace kvactor::cluster;
using namespace std::chrono_literals;

namespace {

// Holds each request until finish(rid) or cancel(rid) ends it.
class held_service final : public generation_service {
 public:
  const tokenizer& tok() const override { throw std::logic_error("held_service: no tokenizer"); }
  const model_config& model() const override { return model_; }
  const engine_config& config() const override { return cfg_; }
  std::string submit(generation_request req, generation_callback cb) override {
    std::lock_guard<std::mutex> guard(m_);
    held_[req.rid] = std::move(cb);
    ++submitted_;
    return req.rid;
  }
  void cancel(const std::string& rid) override { end(rid, "cancelled"); }
  void inspect(const std::string&, std::function<void(std::string)> cb) override { cb("{}"); }
  void shutdown(std::chrono::milliseconds) override {}

  bool end(const std::string& rid, const std::string& reason) {
    generation_callback cb;
    {
      std::lock_guard<std::mutex> guard(m_);
      auto it = held_.find(rid);
      if (it == held_.end()) return false;
      cb = std::move(it->second);
      held_.erase(it);
    }
    generation_event ev;
    ev.type = generation_event::kind::finished;
    ev.rid = rid;
    ev.finish_reason = reason;
    cb(ev);
    return true;
  }
  bool holds(const std::string& rid) {
    std::lock_guard<std::mutex> guard(m_);
    return held_.count(rid) != 0;
  }
  int submitted() {
    std::lock_guard<std::mutex> guard(m_);
    return submitted_;
  }

 private:
  model_config model_;
  engine_config cfg_;
  std::mutex m_;
  std::map<std::string, generation_callback> held_;
  int submitted_ = 0;
};

// The final event of each rid the router reported.
struct final_events {
  std::mutex m;
  std::condition_variable cv;
  std::map<std::string, generation_event> ended;
  generation_callback callback() {
    return [this](const generation_event& ev) {
      if (ev.type == generation_event::kind::token) return;
      std::lock_guard<std::mutex> guard(m);
      ended[ev.rid] = ev;
      cv.notify_all();
    };
  }
  bool has(const std::string& rid) {
    std::lock_guard<std::mutex> guard(m);
    return ended.count(rid) != 0;
  }
  std::optional<generation_event> wait(const std::string& rid) {
    std::unique_lock<std::mutex> guard(m);
    if (!cv.wait_for(guard, 10s, [&] { return ended.count(rid) != 0; })) return std::nullopt;
    auto ev = ended[rid];
    ended.erase(rid);
    return ev;
  }
};

template <class Pred>
bool eventually(Pred pred) {
  for (int i = 0; i < 2000; ++i) {
    if (pred()) return true;
    std::this_thread::sleep_for(5ms);
  }
  return pred();
}

generation_request request(const std::string& rid) {
  generation_request req;
  req.rid = rid;
  req.prompt = {1, 2, 3};
  req.max_tokens = 4;
  return req;
}

}  // namespace

TEST_CASE(
    "router: a duplicate rid gets a suffix, an empty one req-<n>, an ended one is free again, cancel and drain reach") {
  held_service service;
  cluster_node node(service, "127.0.0.1", 0);
  engine_config cfg;
  cfg.model_path = std::string(KVACTOR_MODELS_DIR) + "/stories260K.bin";
  cfg.tokenizer_path = std::string(KVACTOR_MODELS_DIR) + "/tok512.bin";
  router_settings settings;
  settings.nodes = {node_address{"127.0.0.1", node.port()}};
  settings.reconnect_interval = 50ms;
  cluster_router router(cfg, settings);
  final_events events;

  // Until the router reaches the node, a request ends at once with NO_NODE.
  REQUIRE(eventually([&] {
    const auto rid = router.submit(request("probe"), events.callback());
    CHECK(rid == "probe");  // each probe ended before the next: the rid is free again
    REQUIRE(eventually([&] { return service.holds("probe") || events.has("probe"); }));
    if (service.holds("probe")) return service.end("probe", "length");
    events.wait("probe");  // NO_NODE: the node is not up yet
    return false;
  }));
  REQUIRE(events.wait("probe"));

  CHECK(router.submit(request("a"), events.callback()) == "a");
  const auto dup = router.submit(request("a"), events.callback());
  CHECK(dup != "a");
  CHECK(dup.rfind("a-", 0) == 0);
  const auto named = router.submit(request(""), events.callback());
  CHECK(named.rfind("req-", 0) == 0);
  REQUIRE(eventually([&] { return service.holds("a") && service.holds(dup) && service.holds(named); }));

  // The first "a" ends: the name is free again while its duplicate still runs.
  REQUIRE(service.end("a", "length"));
  auto first = events.wait("a");
  REQUIRE(first);
  CHECK(first->finish_reason == "length");
  CHECK(router.submit(request("a"), events.callback()) == "a");
  REQUIRE(eventually([&] { return service.holds("a"); }));

  // cancel(rid) reaches the routed request the registry knows under that rid.
  router.cancel(dup);
  auto cancelled = events.wait(dup);
  REQUIRE(cancelled);
  CHECK(cancelled->finish_reason == "cancelled");
  CHECK_FALSE(service.holds(dup));

  // Shutdown drains: the two still held are cancelled and end; new ones are refused.
  router.shutdown(50ms);
  for (const auto& rid : {std::string("a"), named}) {
    auto ev = events.wait(rid);
    REQUIRE(ev);
    CHECK(ev->finish_reason == "cancelled");
  }
  const auto late = router.submit(request("late"), events.callback());
  auto refused = events.wait(late);
  REQUIRE(refused);
  CHECK(refused->type == generation_event::kind::error);
  CHECK(refused->error == engine_errc::shutting_down);
}
