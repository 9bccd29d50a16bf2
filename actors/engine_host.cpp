#include "actors/engine_host.hpp"

#include <caf/policy/work_sharing.hpp>
#include <caf/policy/work_stealing.hpp>
#include <caf/scheduler/coordinator.hpp>

#include <atomic>
#include <future>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <thread>

#include "actors/engine.hpp"
#include "actors/inspection.hpp"
#include "actors/request_actor.hpp"

namespace kvactor {

struct engine_host::impl {
  engine_config cfg;
  model_config model;
  std::shared_ptr<const tokenizer> tok;
  engine_settings settings;
  caf::actor_system_config sys_cfg;
  std::unique_ptr<caf::actor_system> sys;
  engine_actors actors;
  std::atomic<uint64_t> next_seq{1};
  std::atomic<bool> accepting{true};
  std::atomic<bool> stopped{false};
};

engine_host::engine_host(const engine_config& cfg, const model_config& model, std::vector<int32_t> end_ids,
                         std::shared_ptr<backend> be, int worker_threads, std::shared_ptr<const tokenizer> tok)
    : impl_(std::make_unique<impl>()) {
  if (!be) throw std::invalid_argument("engine_host: no backend");
  impl_->cfg = cfg;
  impl_->model = model;
  impl_->tok = std::move(tok);
  impl_->settings = make_engine_settings(cfg, model, std::move(end_ids));
  auto layout = be->layout();
  if (layout.num_pages < cfg.num_pages || layout.page_size != cfg.page_size)
    throw std::invalid_argument("engine_host: the backend's KV layout does not match the engine config");
  add_engine_types(impl_->sys_cfg);
  if (worker_threads > 0) impl_->sys_cfg.set("scheduler.max-threads", static_cast<size_t>(worker_threads));
  // engine_config::actor_scheduler, "auto" resolved; actor_scheduler() reads back what runs.
  const std::string policy =
      cfg.actor_scheduler == "auto" ? (be->host_threads() > 1 ? "sharing" : "stealing") : cfg.actor_scheduler;
  impl_->sys_cfg.set("scheduler.policy", caf::atom_from_string(policy));
  impl_->sys = std::make_unique<caf::actor_system>(impl_->sys_cfg);
  impl_->actors = spawn_engine(*impl_->sys, impl_->settings, std::move(be));
}

engine_host::~engine_host() {
  shutdown(std::chrono::milliseconds(0));
  auto& a = impl_->actors;
  caf::anon_send_exit(a.scheduler, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(a.registry, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(a.pool, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(a.trie, caf::exit_reason::user_shutdown);
  impl_->actors = engine_actors{};
  impl_->sys.reset();  // waits for every actor to finish
}

const tokenizer& engine_host::tok() const {
  if (!impl_->tok) throw std::logic_error("engine_host: this engine was built without a tokenizer");
  return *impl_->tok;
}
const model_config& engine_host::model() const { return impl_->model; }
const engine_config& engine_host::config() const { return impl_->cfg; }

std::string engine_host::submit(generation_request req, generation_callback cb) {
  auto& m = *impl_;
  {
    // The registry owns the live rids (claim_atom); submit returns the rid, so it waits
    // for the answer: one round trip, on the caller's thread.
    caf::scoped_actor self{*m.sys};
    caf::error failed;
    self->request(m.actors.registry, caf::infinite, claim_atom_v, std::move(req.rid))
        .receive([&](std::string& rid) { req.rid = std::move(rid); }, [&](caf::error& e) { failed = std::move(e); });
    if (failed) throw std::runtime_error("engine: the registry named no rid: " + caf::to_string(failed));
  }
  auto rid = req.rid;
  // The registry forgets the rid before the caller hears the end, so a caller reusing it
  // then is not a duplicate (its claim is queued behind the forget).
  generation_callback wrapped = [cb = std::move(cb), registry = m.actors.registry, rid](const generation_event& ev) {
    if (ev.type != generation_event::kind::token) caf::anon_send(registry, forget_atom_v, rid);
    if (cb) cb(ev);
  };
  if (!m.accepting.load()) {
    generation_event ev;
    ev.type = generation_event::kind::error;
    ev.rid = rid;
    ev.error = engine_errc::shutting_down;
    ev.error_message = "the engine is shutting down and accepts no new requests";
    ev.usage.prompt_tokens = static_cast<int>(req.prompt.size());
    // Delivered from a short-lived actor so the caller never sees its callback re-entered.
    // (Spawn arguments rather than captures only: CAF 0.17's zero-argument spawn
    // path dereferences an empty shared_ptr, which UBSan rejects.)
    m.sys->spawn(
        [](caf::event_based_actor* self, generation_callback deliver, generation_event event) {
          deliver(event);
          self->quit();
        },
        wrapped, ev);
    return rid;
  }
  auto seq = m.next_seq.fetch_add(1);
  auto actor = spawn_request(*m.sys, m.actors, m.settings, seq, std::move(req), std::move(wrapped));
  caf::anon_send(m.actors.registry, register_atom_v, rid, caf::actor_cast<caf::actor>(actor));
  return rid;
}

void engine_host::cancel(const std::string& rid) { caf::anon_send(impl_->actors.registry, cancel_atom_v, rid); }

void engine_host::inspect(const std::string& what, std::function<void(std::string json)> cb) {
  spawn_inspection(*impl_->sys, impl_->actors, what, std::move(cb));
}

std::string engine_host::inspect_now(const std::string& what) {
  auto done = std::make_shared<std::promise<std::string>>();
  auto result = done->get_future();
  inspect(what, [done](std::string json) { done->set_value(std::move(json)); });
  return result.get();
}

page_totals engine_host::totals() {
  page_totals t;
  caf::scoped_actor self{*impl_->sys};
  auto& a = impl_->actors;
  self->request(a.pool, caf::infinite, counts_atom_v)
      .receive(
          [&](pool_counts& c) {
            t.total = c.total;
            t.free = c.free;
            t.private_pages = c.private_pages;
            t.cached = c.cached;
          },
          [](caf::error&) {});
  self->request(a.trie, caf::infinite, counts_atom_v)
      .receive(
          [&](trie_counts& c) {
            t.locked = c.locked;
            t.handles = c.handles;
          },
          [](caf::error&) {});
  self->request(a.registry, caf::infinite, counts_atom_v)
      .receive([&](int32_t n) { t.live_requests = n; }, [](caf::error&) {});
  return t;
}

std::string engine_host::wait_until_quiet(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  page_totals t;
  for (;;) {
    t = totals();
    if (t.live_requests == 0 && t.free + t.cached == t.total && t.private_pages == 0 && t.locked == 0 && t.handles == 0)
      break;
    if (std::chrono::steady_clock::now() > deadline)
      return "not quiet: live=" + std::to_string(t.live_requests) + " free=" + std::to_string(t.free) +
             " private=" + std::to_string(t.private_pages) + " cached=" + std::to_string(t.cached) +
             " locked=" + std::to_string(t.locked) + " handles=" + std::to_string(t.handles) +
             " total=" + std::to_string(t.total);
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  std::string problem;
  caf::scoped_actor self{*impl_->sys};
  self->request(impl_->actors.pool, caf::infinite, check_atom_v)
      .receive([&](invariant_check& c) { problem = std::move(c.problem); },
               [&](caf::error& e) { problem = "check failed: " + caf::to_string(e); });
  return problem;
}

std::size_t engine_host::running_actors() const { return impl_->sys->registry().running(); }

std::string engine_host::actor_scheduler() const {
  auto* sched = &impl_->sys->scheduler();
  if (dynamic_cast<caf::scheduler::coordinator<caf::policy::work_sharing>*>(sched)) return "sharing";
  if (dynamic_cast<caf::scheduler::coordinator<caf::policy::work_stealing>*>(sched)) return "stealing";
  return "other";
}

void engine_host::shutdown(std::chrono::milliseconds drain) {
  auto& m = *impl_;
  if (m.stopped.exchange(true)) return;
  m.accepting = false;
  auto live = [&] {
    int32_t n = 0;
    caf::scoped_actor self{*m.sys};
    self->request(m.actors.registry, caf::infinite, counts_atom_v)
        .receive([&](int32_t x) { n = x; }, [](caf::error&) {});
    return n;
  };
  auto until = std::chrono::steady_clock::now() + drain;
  while (live() > 0 && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  // Cancel whatever is left; each returns its pages and locks before it exits.
  {
    caf::scoped_actor self{*m.sys};
    std::vector<caf::actor> rest;
    self->request(m.actors.registry, caf::infinite, list_atom_v)
        .receive([&](std::vector<caf::actor>& xs) { rest = std::move(xs); }, [](caf::error&) {});
    for (auto& r : rest) self->send(caf::actor_cast<request_actor>(r), cancel_atom_v, std::string("shutdown"));
  }
  wait_until_quiet(std::chrono::seconds(30));
}

}  // namespace kvactor
