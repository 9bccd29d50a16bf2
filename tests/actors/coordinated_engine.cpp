#include "coordinated_engine.hpp"

#include "actors/request_actor.hpp"

namespace kvactor::actors_test {

engine_settings coordinated_engine::default_settings(int32_t num_pages, int32_t page_size) {
  engine_settings s;
  s.page_size = page_size;
  s.num_pages = num_pages;
  s.max_batch = 8;
  s.max_tokens_per_step = 64;
  s.prefill_chunk = 8;
  s.queue_limit = 64;
  s.max_wait_steps = 8;
  s.max_seq_len = 512;
  s.vocab_size = 512;
  s.detached_device = false;  // under the coordinator, everything runs when the test says so
  return s;
}

coordinated_engine::coordinated_engine(engine_settings settings, uint64_t seed, std::shared_ptr<backend> be)
    : settings_(settings), rng_(seed) {
  cfg_.set("scheduler.policy", caf::atom("testing"));
  add_engine_types(cfg_);
  sys_ = std::make_unique<caf::actor_system>(cfg_);
  sched_ = &dynamic_cast<caf::scheduler::test_coordinator&>(sys_->scheduler());
  if (!be)
    be =
        make_null_backend(settings.vocab_size, settings.max_seq_len, kv_layout{settings.page_size, settings.num_pages});
  actors_ = spawn_engine(*sys_, settings_, std::move(be));
  sched_->run();
}

coordinated_engine::~coordinated_engine() {
  if (!stopped_) stop_all();
}

request_actor coordinated_engine::submit(const std::string& rid, std::vector<int32_t> prompt, int max_tokens) {
  generation_request req;
  req.rid = rid;
  req.prompt = std::move(prompt);
  req.max_tokens = max_tokens;
  auto* outcomes = &outcomes_;
  auto cb = [outcomes](const generation_event& ev) {
    auto& o = (*outcomes)[ev.rid];
    if (ev.type == generation_event::kind::token)
      o.tokens.push_back(ev.token);
    else
      o.finals.push_back(ev);
  };
  outcomes_[rid];
  auto r = spawn_request(*sys_, actors_, settings_, next_seq_++, std::move(req), cb);
  caf::anon_send(actors_.registry, register_atom_v, rid, caf::actor_cast<caf::actor>(r));
  return r;
}

std::size_t coordinated_engine::run_random(std::size_t max_jobs) {
  std::size_t n = 0;
  auto& jobs = sched_->jobs;
  while (n < max_jobs) {
    if (jobs.empty() && !sched_->trigger_timeout()) break;
    if (jobs.empty()) continue;
    auto i = static_cast<std::size_t>(rng_() % jobs.size());
    auto job = jobs[i];
    jobs.erase(jobs.begin() + static_cast<std::ptrdiff_t>(i));
    jobs.push_front(job);
    sched_->run_once();
    ++n;
  }
  return n;
}

std::string coordinated_engine::check_quiet() {
  auto pc = ask<pool_counts>(actors_.pool, counts_atom_v);
  auto tc = ask<trie_counts>(actors_.trie, counts_atom_v);
  if (!pc || !tc) return "no answer from pool or trie";
  if (pc->free + pc->cached != pc->total)
    return "free " + std::to_string(pc->free) + " + cached " + std::to_string(pc->cached) + " != total " +
           std::to_string(pc->total) + " (private " + std::to_string(pc->private_pages) + ")";
  if (pc->private_pages != 0 || pc->owners != 0 || pc->waiting_allocs != 0)
    return "private pages or owners left: " + std::to_string(pc->private_pages);
  if (tc->locked != 0 || tc->handles != 0 || tc->owners != 0)
    return "locks left: " + std::to_string(tc->locked) + " locked pages, " + std::to_string(tc->handles) + " handles";
  if (tc->cached != pc->cached) return "trie and pool disagree on cached pages";
  if (tc->publish_cursors != 0 || tc->peek_cursors != 0)
    return "trie cursors left: " + std::to_string(tc->publish_cursors) + " publish, " +
           std::to_string(tc->peek_cursors) + " peek";
  auto check = ask<invariant_check>(actors_.pool, check_atom_v);
  if (!check) return "no answer to check";
  if (check->ok != check->problem.empty()) return "check: ok and problem disagree";
  auto sc = scheduler_stats();
  if (sc.queued != 0 || sc.running != 0)
    return "scheduler still has " + std::to_string(sc.queued) + " queued, " + std::to_string(sc.running) + " running";
  return check->problem;
}

scheduler_counts coordinated_engine::scheduler_stats() {
  return ask<scheduler_counts>(actors_.scheduler, counts_atom_v).value_or(scheduler_counts{});
}

bool coordinated_engine::stop_all() {
  stopped_ = true;
  caf::anon_send_exit(actors_.scheduler, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(actors_.registry, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(actors_.pool, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(actors_.trie, caf::exit_reason::user_shutdown);
  actors_ = engine_actors{};
  sched_->run();
  return sys_->registry().running() == 0;
}

std::vector<int32_t> null_reference(const std::vector<int32_t>& prompt, int max_tokens, int vocab) {
  std::vector<int32_t> t = prompt, out;
  for (int i = 0; i < max_tokens; ++i) {
    auto next = null_backend_token(t.back(), static_cast<int32_t>(t.size()) - 1, vocab);
    t.push_back(next);
    out.push_back(next);
  }
  return out;
}

}  // namespace kvactor::actors_test
