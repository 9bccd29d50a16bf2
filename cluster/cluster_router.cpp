#include "cluster/cluster_router.hpp"

#include <caf/io/all.hpp>

#include <atomic>
#include <stdexcept>
#include <thread>

#include "actors/registry_actor.hpp"
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
  // The names and the live set, by the engine's own rules (actors/registry_actor.hpp):
  // claim/forget name the rids, register/done/cancel/list/counts track the routed requests.
  registry_actor registry;
  std::atomic<bool> accepting{true};
  std::atomic<bool> stopped{false};

  int32_t live_requests();
  // Waits up to `limit` until no routed request is live; the number still live.
  int32_t wait_until_idle(std::chrono::milliseconds limit);
  // Sends (xs...) to every live routed request.
  template <class... Ts>
  void tell_live(const Ts&... xs);
};

int32_t cluster_router::impl::live_requests() {
  int32_t n = 0;
  caf::scoped_actor self{*sys};
  self->request(registry, caf::infinite, counts_atom_v).receive([&](int32_t x) { n = x; }, [](caf::error&) {});
  return n;
}

int32_t cluster_router::impl::wait_until_idle(std::chrono::milliseconds limit) {
  const auto until = std::chrono::steady_clock::now() + limit;
  int32_t n = live_requests();
  while (n > 0 && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    n = live_requests();
  }
  return n;
}

template <class... Ts>
void cluster_router::impl::tell_live(const Ts&... xs) {
  caf::scoped_actor self{*sys};
  std::vector<caf::actor> rest;
  self->request(registry, caf::infinite, list_atom_v)
      .receive([&](std::vector<caf::actor>& live) { rest = std::move(live); }, [](caf::error&) {});
  for (auto& r : rest) self->send(caf::actor_cast<routed_request_actor>(r), xs...);
}

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
  impl_->registry = spawn_registry(*impl_->sys);
}

cluster_router::~cluster_router() {
  shutdown(std::chrono::milliseconds(0));
  caf::anon_send_exit(impl_->router, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(impl_->registry, caf::exit_reason::user_shutdown);
  impl_->router = nullptr;
  impl_->registry = nullptr;
  impl_->sys.reset();
}

const tokenizer& cluster_router::tok() const { return *impl_->model.tok; }
const model_config& cluster_router::model() const { return impl_->model.weights->config; }
const engine_config& cluster_router::config() const { return impl_->cfg; }

std::string cluster_router::submit(generation_request req, generation_callback cb) {
  auto& m = *impl_;
  {
    // The registry names the request; submit returns the rid, so it waits for the answer.
    caf::scoped_actor self{*m.sys};
    caf::error failed;
    self->request(m.registry, caf::infinite, claim_atom_v, std::move(req.rid))
        .receive([&](std::string& rid) { req.rid = std::move(rid); }, [&](caf::error& e) { failed = std::move(e); });
    if (failed) throw std::runtime_error("router: the registry named no rid: " + caf::to_string(failed));
  }
  const std::string rid = req.rid;
  // The registry forgets the rid before the caller hears the end, so a caller reusing it
  // then is not a duplicate (its claim is queued behind the forget).
  generation_callback wrapped = [cb = std::move(cb), registry = m.registry, rid](const generation_event& ev) {
    if (ev.type != generation_event::kind::token) caf::anon_send(registry, forget_atom_v, rid);
    if (cb) cb(ev);
  };
  if (!m.accepting.load()) {
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
        wrapped, ev);
    return rid;
  }
  auto actor =
      spawn_routed_request(*m.sys, m.router, m.registry, std::move(req), std::move(wrapped), m.settings.max_attempts);
  // A request that ends before this arrives reported done first: the registry keeps it out.
  caf::anon_send(m.registry, register_atom_v, rid, caf::actor_cast<caf::actor>(actor));
  return rid;
}

void cluster_router::cancel(const std::string& rid) { caf::anon_send(impl_->registry, cancel_atom_v, rid); }

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
  if (m.stopped.exchange(true)) return;
  m.accepting = false;
  if (m.wait_until_idle(drain) == 0) return;
  m.tell_live(cancel_atom_v, std::string("shutdown"));
  // Cancelled requests end when their node confirms, or when the node is found lost. One
  // whose node stays silent (partitioned, not yet timed out) is ended here: the actor
  // system could not stop with it alive, and its caller must get its final event.
  if (m.wait_until_idle(std::chrono::seconds(5)) == 0) return;
  m.tell_live(fail_atom_v, caf::make_error(engine_errc::shutting_down,
                                           "the router stopped before the request's node confirmed its cancellation"));
  m.wait_until_idle(std::chrono::seconds(5));
}

}  // namespace kvactor::cluster
