// The registry names requests: no two live requests share a rid (a duplicate gets a
// suffix), and a rid is free again once its request has ended. First the registry
// alone under the test coordinator (the naming rules), then through engine_host with
// requests held live by a closed device (concurrent submits of one rid).
#include <doctest/doctest.h>

#include <algorithm>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "actors/engine.hpp"
#include "actors/engine_host.hpp"
#include "actors/inspection.hpp"
#include "actors/null_backend.hpp"
#include "actors/registry_actor.hpp"
#include "actors_test_support.hpp"
#include "model/model.hpp"

using namespace kvactor;
using namespace kvactor::actors_test;
using namespace std::chrono_literals;

namespace {

class registry_fixture {
 public:
  registry_fixture() {
    cfg_.set("scheduler.policy", caf::atom("testing"));
    add_engine_types(cfg_);
    sys_ = std::make_unique<caf::actor_system>(cfg_);
    sched_ = &dynamic_cast<caf::scheduler::test_coordinator&>(sys_->scheduler());
    registry = spawn_registry(*sys_);
    sched_->run();
  }
  ~registry_fixture() {
    caf::anon_send_exit(registry, caf::exit_reason::user_shutdown);
    sched_->run();
  }
  std::optional<std::string> claim(const std::string& rid) {
    auto result = std::make_shared<std::optional<std::string>>();
    sys_->spawn(
        [result](caf::event_based_actor* self, registry_actor target, std::string wanted) {
          self->request(target, caf::infinite, claim_atom_v, wanted)
              .then([result](std::string& named) { *result = std::move(named); }, [](caf::error&) {});
        },
        registry, rid);
    sched_->run();
    return *result;
  }
  void forget(const std::string& rid) {
    caf::anon_send(registry, forget_atom_v, rid);
    sched_->run();
  }
  // A stand-in request: told a rid, it reports that rid's end to the registry itself.
  caf::actor spawn_request() {
    return sys_->spawn(
        [](caf::event_based_actor* self, registry_actor reg) -> caf::behavior {
          return {[self, reg](std::string& rid) {
            self->send(reg, done_atom_v, rid, std::string("finished"), request_snapshot{});
          }};
        },
        registry);
  }
  void enlist(const std::string& rid, const caf::actor& req) {
    caf::anon_send(registry, register_atom_v, rid, req);
    sched_->run();
  }
  void end(const caf::actor& req, const std::string& rid) {
    caf::anon_send(req, rid);
    sched_->run();
  }
  std::vector<caf::actor> live() {
    auto result = std::make_shared<std::vector<caf::actor>>();
    sys_->spawn(
        [result](caf::event_based_actor* self, registry_actor target) {
          self->request(target, caf::infinite, list_atom_v)
              .then([result](std::vector<caf::actor>& xs) { *result = std::move(xs); }, [](caf::error&) {});
        },
        registry);
    sched_->run();
    return *result;
  }

  registry_actor registry;

 private:
  caf::actor_system_config cfg_;
  std::unique_ptr<caf::actor_system> sys_;
  caf::scheduler::test_coordinator* sched_ = nullptr;
};

// The null backend behind a gate: every step waits until the test opens it (or 30 s
// pass, so a failing test cannot hang), so submitted requests stay live meanwhile.
struct step_gate {
  std::mutex mutex;
  std::condition_variable cv;
  bool open = false;
  void release() {
    {
      std::lock_guard<std::mutex> guard(mutex);
      open = true;
    }
    cv.notify_all();
  }
};

class gated_backend final : public backend {
 public:
  gated_backend(std::unique_ptr<backend> inner, std::shared_ptr<step_gate> gate)
      : inner_(std::move(inner)), gate_(std::move(gate)) {}
  std::string name() const override { return "gated(" + inner_->name() + ")"; }
  const model_config& config() const override { return inner_->config(); }
  kv_layout layout() const override { return inner_->layout(); }
  std::vector<sequence_result> step(const std::vector<sequence_step>& batch) override {
    std::unique_lock<std::mutex> lock(gate_->mutex);
    gate_->cv.wait_for(lock, 30s, [this] { return gate_->open; });
    lock.unlock();
    return inner_->step(batch);
  }

 private:
  std::unique_ptr<backend> inner_;
  std::shared_ptr<step_gate> gate_;
};

}  // namespace

TEST_CASE("registry: a live rid's duplicate gets a suffix, an empty rid a name, a forgotten rid is free again") {
  registry_fixture f;
  CHECK(f.claim("a") == "a");
  CHECK(f.claim("a") == "a-1");
  CHECK(f.claim("") == "req-2");
  CHECK(f.claim("a") == "a-3");
  CHECK(f.claim("a-1") == "a-1-4");  // a suffixed name is taken too
  CHECK(f.claim("req-5") == "req-5");
  CHECK(f.claim("") == "req-5-6");  // one counter names and suffixes: req-5 is live
  f.forget("a");
  CHECK(f.claim("a") == "a");
  CHECK(f.claim("a") == "a-7");
  f.forget("b");  // never claimed: nothing changes
  CHECK(f.claim("b") == "b");
}

TEST_CASE("registry: a late end of an earlier request leaves the live request that reuses its rid") {
  registry_fixture f;
  auto first = f.spawn_request();
  auto second = f.spawn_request();
  f.enlist("x", first);
  // "x" was forgotten (its caller heard the end) and claimed again before first's done arrived.
  f.enlist("x", second);
  f.end(first, "x");
  CHECK(f.live() == std::vector<caf::actor>{second});
  f.end(second, "x");
  CHECK(f.live().empty());
  caf::anon_send_exit(first, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(second, caf::exit_reason::user_shutdown);
}

TEST_CASE("inspection: a request that ended between its live snapshot and the history read is one row") {
  auto snap = [](const char* rid, const char* phase, uint64_t actor, double age_ms) {
    request_snapshot s;
    s.rid = rid;
    s.phase = phase;
    s.actor_id = actor;
    s.age_ms = age_ms;
    return s;
  };
  auto live = [](request_snapshot s) { return request_report{actor_head{"request", s.rid, "running", 0, 0}, s}; };
  // 7 ("x") was snapshotted at 63 tokens, then ended before the history was read.
  // 8 ("y") is live; 3 also ran as "y" (a client's rid, reused after it ended).
  std::vector<request_report> lives{live(snap("x", "decode", 7, 90)), live(snap("y", "decode", 8, 10))};
  std::vector<request_snapshot> history{snap("x", "done", 7, 95), snap("y", "done", 3, 400)};
  auto rows = request_rows(lives, history);
  std::vector<std::pair<std::string, uint64_t>> got;
  for (auto& r : rows) got.emplace_back(r.phase, r.actor_id);
  CHECK(got == std::vector<std::pair<std::string, uint64_t>>{{"decode", 8}, {"done", 7}, {"done", 3}});
  // Nothing ended meanwhile: every live row stays, youngest first, before the history.
  rows =
      request_rows({live(snap("a", "decode", 11, 50)), live(snap("b", "prefill", 12, 5))}, {snap("c", "done", 9, 1)});
  REQUIRE(rows.size() == 3);
  CHECK(rows[0].rid == "b");
  CHECK(rows[1].rid == "a");
  CHECK(rows[2].rid == "c");
}

TEST_CASE("engine: concurrent submits of one rid run under distinct rids; after the end the rid is reused") {
  model_config mc;
  mc.vocab_size = 64;
  mc.max_seq_len = 256;
  auto cfg = small_engine_config(64);
  auto gate = std::make_shared<step_gate>();
  auto inner = make_null_backend(mc.vocab_size, mc.max_seq_len, kv_layout{cfg.page_size, cfg.num_pages});
  engine_host engine(cfg, mc, {2}, std::make_shared<gated_backend>(std::move(inner), gate), 2);
  event_log log;
  generation_request req;
  req.rid = "same";
  req.prompt = {1, 5, 6, 7};
  req.max_tokens = 2;

  // Eight threads submit "same" at once; the closed gate keeps every request live.
  constexpr int submitters = 8;
  std::vector<std::string> rids(submitters);
  {
    std::mutex start_mutex;
    std::condition_variable start_cv;
    bool go = false;
    std::vector<std::thread> threads;
    for (int i = 0; i < submitters; ++i)
      threads.emplace_back([&, i] {
        {
          std::unique_lock<std::mutex> lock(start_mutex);
          start_cv.wait(lock, [&] { return go; });
        }
        rids[i] = engine.submit(req, log.callback());
      });
    {
      std::lock_guard<std::mutex> guard(start_mutex);
      go = true;
    }
    start_cv.notify_all();
    for (auto& t : threads) t.join();
  }
  auto unnamed = req;
  unnamed.rid.clear();
  const std::string named_a = engine.submit(unnamed, log.callback());
  const std::string named_b = engine.submit(unnamed, log.callback());
  std::set<std::string> distinct(rids.begin(), rids.end());
  CHECK(distinct.size() == submitters);
  CHECK(std::count(rids.begin(), rids.end(), "same") == 1);
  for (const auto& rid : rids) CHECK(rid.rfind("same", 0) == 0);
  CHECK(named_a.rfind("req-", 0) == 0);
  CHECK(named_b.rfind("req-", 0) == 0);
  CHECK(named_a != named_b);
  CHECK(distinct.count(named_a) == 0);

  // Each rid addresses one request: one final event each, under its own rid.
  gate->release();
  REQUIRE(log.wait(submitters + 2, 30s));
  auto out = log.outcomes();
  CHECK(out.size() == submitters + 2);
  for (const auto& rid : rids) {
    CHECK(out.at(rid).final_events == 1);
    CHECK(out.at(rid).final_event.finish_reason == "length");
    CHECK(out.at(rid).tokens.size() == 2);
  }

  // The callback has seen every end: "same" is free again, and so is a suffixed rid.
  event_log later;
  CHECK(engine.submit(req, later.callback()) == "same");
  auto suffixed = req;
  suffixed.rid = rids[0] == "same" ? rids[1] : rids[0];
  CHECK(engine.submit(suffixed, later.callback()) == suffixed.rid);
  REQUIRE(later.wait(2, 30s));
  CHECK(engine.wait_until_quiet(10s) == "");
}
