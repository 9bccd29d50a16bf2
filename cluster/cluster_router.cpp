#include "cluster/cluster_router.hpp"

#include <caf/io/all.hpp>

#include <condition_variable>
#include <mutex>
#include <stdexcept>
#include <unordered_map>

#include "cluster/cluster_messages.hpp"
#include "cluster/cluster_report_json.hpp"
#include "cluster/routed_request.hpp"
#include "cluster/router_actor.hpp"
#include "model/loader.hpp"

namespace kvactor::cluster {

struct cluster_router::impl {
  engine_config cfg;
  router_settings settings;
  loaded_model model;
  caf::actor_system_config sys_cfg;
  std::unique_ptr<caf::actor_system> sys;
  router_actor router;
  std::mutex m;
  std::condition_variable idle;                      // signalled when `live` empties
  std::unordered_map<std::string, caf::actor> live;  // rid -> its routed_request actor
  uint64_t rid_counter = 0;
  bool accepting = true;
  bool stopped = false;
};

cluster_router::cluster_router(const engine_config& cfg, router_settings settings) : impl_(std::make_unique<impl>()) {
  if (settings.nodes.empty()) throw std::runtime_error("the router needs at least one node (--nodes HOST:PORT,...)");
  impl_->cfg = cfg;
  impl_->settings = std::move(settings);
  try {
    impl_->model = load_model(cfg.model_path, cfg.tokenizer_path);
  } catch (const std::exception& e) {
    throw std::runtime_error(std::string("cannot load the model: ") + e.what());
  }
  add_cluster_types(impl_->sys_cfg);
  impl_->sys = std::make_unique<caf::actor_system>(impl_->sys_cfg);
  impl_->router = spawn_router_actor(*impl_->sys, impl_->settings);
}

cluster_router::~cluster_router() {
  shutdown(std::chrono::milliseconds(0));
  caf::anon_send_exit(impl_->router, caf::exit_reason::user_shutdown);
  impl_->router = nullptr;
  impl_->sys.reset();
}

const tokenizer& cluster_router::tok() const { return *impl_->model.tok; }
const model_config& cluster_router::model() const { return impl_->model.weights->config; }
const engine_config& cluster_router::config() const { return impl_->cfg; }

std::string cluster_router::submit(generation_request req, generation_callback cb) {
  auto& m = *impl_;
  std::unique_lock<std::mutex> guard(m.m);
  if (req.rid.empty()) req.rid = "req-" + std::to_string(++m.rid_counter);
  if (m.live.count(req.rid) != 0) {
    const auto base = req.rid;
    do req.rid = base + "-" + std::to_string(++m.rid_counter);
    while (m.live.count(req.rid) != 0);
  }
  const std::string rid = req.rid;
  if (!m.accepting) {
    guard.unlock();
    generation_event ev;
    ev.type = generation_event::kind::error;
    ev.rid = rid;
    ev.error = engine_errc::shutting_down;
    ev.error_message = "the router is shutting down and accepts no new requests";
    ev.usage.prompt_tokens = static_cast<int>(req.prompt.size());
    // From a short-lived actor so the caller never sees its callback re-entered.
    m.sys->spawn(
        [](caf::event_based_actor* self, generation_callback deliver, generation_event event) {
          deliver(event);
          self->quit();
        },
        cb, ev);
    return rid;
  }
  auto host = impl_.get();
  generation_callback wrapped = [host, rid, cb = std::move(cb)](const generation_event& ev) {
    if (cb) cb(ev);
    if (ev.type == generation_event::kind::token) return;
    std::lock_guard<std::mutex> g(host->m);
    host->live.erase(rid);
    if (host->live.empty()) host->idle.notify_all();
  };
  // Registered before it can end: the actor's final callback erases it under the same lock.
  auto actor = spawn_routed_request(*m.sys, m.router, std::move(req), std::move(wrapped), m.settings.max_attempts);
  m.live.emplace(rid, actor);
  return rid;
}

void cluster_router::cancel(const std::string& rid) {
  std::lock_guard<std::mutex> guard(impl_->m);
  auto it = impl_->live.find(rid);
  if (it != impl_->live.end()) caf::anon_send(it->second, cancel_atom_v, std::string("cancelled"));
}

void cluster_router::inspect(const std::string& what, std::function<void(std::string json)> cb) {
  // A short-lived actor asks the router actor; the answer comes back on an actor thread
  // and is written as JSON here, for the HTTP layer.
  impl_->sys->spawn(
      [](caf::event_based_actor* self, router_actor router, std::string what, std::function<void(std::string)> cb,
         caf::timespan timeout) {
        self->request(router, timeout, inspect_atom_v, what)
            .then(
                [self, cb](cluster_report& report) {
                  if (cb) cb(cluster_report_text(report));  // the one place the router's JSON is written
                  self->quit();
                },
                [self, cb](caf::error& err) {
                  if (cb)
                    cb(cluster_error_text("ROUTER_ERROR", err == caf::sec::request_timeout
                                                              ? "the router did not answer in time"
                                                              : "inspection failed"));
                  self->quit();
                });
      },
      impl_->router, what, std::move(cb), caf::timespan{impl_->settings.inspect_timeout * 2});
}

void cluster_router::shutdown(std::chrono::milliseconds drain) {
  auto& m = *impl_;
  std::unique_lock<std::mutex> guard(m.m);
  if (m.stopped) return;
  m.accepting = false;
  m.idle.wait_for(guard, drain, [&] { return m.live.empty(); });
  for (auto& [rid, actor] : m.live) caf::anon_send(actor, cancel_atom_v, std::string("shutdown"));
  // Cancelled requests end when their node confirms, or when the node is found lost. One
  // whose node stays silent (partitioned, not yet timed out) is ended here: the actor
  // system could not stop with it alive, and its caller must get its final event.
  m.idle.wait_for(guard, std::chrono::seconds(5), [&] { return m.live.empty(); });
  for (auto& [rid, actor] : m.live)
    caf::anon_send(actor, fail_atom_v,
                   caf::make_error(engine_errc::shutting_down,
                                   "the router stopped before the request's node confirmed its cancellation"));
  m.idle.wait_for(guard, std::chrono::seconds(5), [&] { return m.live.empty(); });
  m.stopped = true;
}

}  // namespace kvactor::cluster
