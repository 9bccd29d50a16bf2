#include "actors/request_actor.hpp"

#include <algorithm>
#include <chrono>

#ifdef KVACTOR_FAULT_HOOKS
#include "actors/fault_hooks.hpp"  // tests/faults only; see that header
#endif
#include "grammar/output_constraint.hpp"
#include "scheduling/page_arithmetic.hpp"

namespace kvactor {
namespace {

using clock_type = std::chrono::steady_clock;

struct request_state {
  static inline const char* name = "request";
  engine_actors peers;
  engine_settings cfg;
  uint64_t seq_id = 0;
  generation_request req;
  generation_callback cb;
  std::shared_ptr<bool> ended = std::make_shared<bool>(false);

  token_list tokens;  // prompt, then generated tokens
  int32_t prompt_len = 0;
  int32_t generated = 0;         // also the sample index of the next token
  page_list block_table;         // page of positions [i*ps, (i+1)*ps)
  int32_t kv_written = 0;        // positions whose K/V the device has written (or came cached)
  uint64_t handle = 0;           // trie lock on the matched/published prefix
  int32_t published_pages = 0;   // leading block-table pages that are cached (shared)
  int32_t cached_tokens = -1;    // prompt tokens matched at the first admission
  std::string phase = "queued";  // queued | prefill | decode | done | cancelled | failed
  uint64_t epoch = 0;
  int32_t preemptions = 0;
  bool terminal = false;
  clock_type::time_point start = clock_type::now();
  double ttft_ms = -1;
  uint64_t handled = 0;
  // Structured output: this request's grammar state (null when unconstrained). Its own, so the
  // mask of every step depends on nothing but this request's tokens.
  std::unique_ptr<grammar::constrained_decoder> decoder;
  // Prompt scoring (req.prompt_logprobs): entry p scores prompt token p once its position is p
  // (0 = not yet); filled as prefill steps return (a recomputation after preemption writes the
  // same values again).
  std::vector<scored_token> prompt_scores;
  bool scores_sent = false;
};

using request_pointer = request_actor::stateful_pointer<request_state>;

double ms_since(clock_type::time_point t) {
  return std::chrono::duration<double, std::milli>(clock_type::now() - t).count();
}

request_snapshot snapshot(request_pointer self) {
  auto& st = self->state;
  request_snapshot out;
  out.rid = st.req.rid;
  out.kind = st.req.kind;
  out.request_id = st.req.request_id;
  out.tenant = st.req.tenant;
  out.phase = st.phase;
  out.prompt_tokens = st.prompt_len;
  out.generated_tokens = st.generated;
  out.max_tokens = st.req.max_tokens;
  out.cached_tokens = st.cached_tokens < 0 ? 0 : st.cached_tokens;
  out.pages_held = static_cast<int32_t>(st.block_table.size());
  out.locked_pages = st.published_pages;
  out.ttft_ms = st.ttft_ms;
  out.age_ms = ms_since(st.start);
  out.preemptions = st.preemptions;
  out.actor_id = self->id();
  return out;
}

generation_usage usage(request_pointer self) {
  auto& st = self->state;
  return generation_usage{st.prompt_len, st.cached_tokens < 0 ? 0 : st.cached_tokens, st.generated};
}

// Ends the request: leaves the scheduler, returns every page and lock (drop), then
// emits the final event, reports to the registry and exits.
void terminate(request_pointer self, generation_event final_event, const std::string& phase,
               const std::string& outcome) {
  auto& st = self->state;
  if (st.terminal) return;
  st.terminal = true;
  ++st.epoch;  // late replies of the running epoch are now stale
  st.phase = phase;
  self->send(st.peers.scheduler, leave_atom_v);
  auto finish = [self, final_event, outcome]() mutable {
    auto& s = self->state;
    s.block_table.clear();
    s.published_pages = 0;
    s.handle = 0;
    final_event.rid = s.req.rid;
    final_event.usage = usage(self);
    *s.ended = true;
    // The registry hears first: a caller reacting to the final event (reading
    // metrics, say) then finds this request already counted.
    self->send(s.peers.registry, done_atom_v, s.req.rid, outcome, snapshot(self));
    if (s.cb) s.cb(final_event);
    // CAF 0.17 keeps a monitor's record at the monitored actor until demonitored.
    self->demonitor(s.peers.scheduler.address());
    self->demonitor(s.peers.pool.address());
    self->demonitor(s.peers.trie.address());
    self->quit();
  };
  // The drop waits until the scheduler has handled the leave (its counts reply comes after
  // it, same sender): a step the scheduler continued for this request (scheduling/
  // continuation.hpp) is then either already on the device, which runs steps one at a
  // time, or never formed, so no later step can put these pages in two sequences at once.
  auto drop = [self, finish]() mutable {
    self->request(self->state.peers.pool, caf::infinite, drop_atom_v)
        .then([finish](int32_t) mutable { finish(); }, [finish](caf::error&) mutable { finish(); });
  };
  self->request(st.peers.scheduler, caf::infinite, counts_atom_v)
      .then([drop](scheduler_counts&) mutable { drop(); }, [drop](caf::error&) mutable { drop(); });
}

void end_with_error(request_pointer self, engine_errc code, const std::string& message) {
  generation_event ev;
  ev.type = generation_event::kind::error;
  ev.error = code;
  ev.error_message = message;
  terminate(self, ev, "failed", code == engine_errc::queue_full ? "rejected" : "failed");
}

// The prompt's scores travel with the request's first token or finished event. False (and the
// request ended with an error): a prompt position was never scored, a bug between the offers
// and the scheduler's chunking.
bool attach_prompt_scores(request_pointer self, generation_event& ev) {
  auto& st = self->state;
  if (!st.req.prompt_logprobs || st.scores_sent) return true;
  st.scores_sent = true;
  for (int32_t p = 1; p < st.prompt_len; ++p) {
    if (st.prompt_scores[static_cast<std::size_t>(p)].position != p) {
      end_with_error(self, engine_errc::internal,
                     "prompt position " + std::to_string(p) + " was never scored for the prompt's log probabilities");
      return false;
    }
    ev.prompt_scores.push_back(std::move(st.prompt_scores[static_cast<std::size_t>(p)]));
  }
  return true;
}

void end_finished(request_pointer self, const std::string& reason) {
  generation_event ev;
  ev.type = generation_event::kind::finished;
  if (reason != "cancelled" && !attach_prompt_scores(self, ev)) return;
  ev.finish_reason = reason;
  terminate(self, ev, reason == "cancelled" ? "cancelled" : "done", reason == "cancelled" ? "cancelled" : "finished");
}

std::string error_text(request_pointer self, const caf::error& err) { return self->system().render(err); }

// The grammar's mask for the next token, sized to the model's vocabulary (a tokenizer may have
// fewer ids than the model's output rows; those rows stay disallowed). False: the request ended.
bool constrain(request_pointer self, sequence_step& s) {
  auto& st = self->state;
  try {
    const grammar::token_mask& mask = st.decoder->next_mask();
    if (mask.count() == 0) {
      end_with_error(self, engine_errc::bad_request,
                     "the grammar cannot go on after " + std::to_string(st.generated) +
                         " generated tokens: no token of the vocabulary produces the text it requires next");
      return false;
    }
    s.allowed_tokens = mask.words;
  } catch (const std::exception& e) {  // grammar_error: the state needs too many parse stacks
    end_with_error(self, engine_errc::bad_request, std::string("grammar: ") + e.what());
    return false;
  }
  s.allowed_tokens.resize((static_cast<std::size_t>(st.cfg.vocab_size) + 63) / 64, 0);
  return true;
}

void offer(request_pointer self) {
  auto& st = self->state;
  sequence_step s;
  s.seq_id = st.seq_id;
  s.tokens.assign(st.tokens.begin() + st.kv_written, st.tokens.end());
  s.start_pos = st.kv_written;
  s.block_table = st.block_table;
  s.sample = true;  // the scheduler clears it when it cuts a prefill chunk short
  s.sampling = st.req.sampling;
  s.sample_index = static_cast<uint64_t>(st.generated);
  if (st.req.sampling.penalized()) {
    s.history = st.tokens;
    s.history_prompt_len = st.prompt_len;
  }
  if (st.req.prompt_logprobs && st.kv_written + 1 < st.prompt_len) {
    s.score_next.assign(s.tokens.size(), -1);
    for (std::size_t i = 0; i < s.tokens.size(); ++i) {
      const auto next = static_cast<std::size_t>(st.kv_written) + i + 1;
      if (next < static_cast<std::size_t>(st.prompt_len)) s.score_next[i] = st.tokens[next];
    }
  }
  if (st.decoder && !constrain(self, s)) return;
  self->send(st.peers.scheduler, ready_atom_v, std::move(s));
}

void ensure_pages_then_offer(request_pointer self);

void starve(request_pointer self) {
  auto epoch = self->state.epoch;
  self->request(self->state.peers.scheduler, caf::infinite, starved_atom_v)
      .then(
          [self, epoch](int32_t decision) {
            if (epoch != self->state.epoch) return;
            switch (static_cast<starve_decision>(decision)) {
              case starve_decision::retry: ensure_pages_then_offer(self); break;
              case starve_decision::requeued: break;  // the preempt handler did the work
              case starve_decision::fail:
                end_with_error(self, engine_errc::context_too_large,
                               "the request needs more KV pages than the cache can give it even alone (" +
                                   std::to_string(self->state.tokens.size()) + " tokens, " +
                                   std::to_string(self->state.cfg.num_pages) + " pages of " +
                                   std::to_string(self->state.cfg.page_size) + ")");
                break;
            }
          },
          [self, epoch](caf::error& err) {
            if (epoch == self->state.epoch)
              end_with_error(self, engine_errc::internal, "scheduler: " + error_text(self, err));
          });
}

// Pages for every position up to tokens.size() (+1 for the token the step samples).
void ensure_pages_then_offer(request_pointer self) {
  auto& st = self->state;
  auto positions = std::min<int32_t>(static_cast<int32_t>(st.tokens.size()) + 1, st.cfg.max_seq_len);
  auto need = scheduling::pages_to_allocate(positions, static_cast<int32_t>(st.block_table.size()), st.cfg.page_size);
  if (need == 0) {
    offer(self);
    return;
  }
  if (!scheduling::fits_cache(positions, st.cfg.num_pages, st.cfg.page_size)) {
    end_with_error(self, engine_errc::context_too_large,
                   "the request needs " + std::to_string(positions) + " positions of KV; the cache has " +
                       std::to_string(st.cfg.num_pages) + " pages of " + std::to_string(st.cfg.page_size));
    return;
  }
  auto epoch = st.epoch;
  self->request(st.peers.pool, caf::infinite, alloc_atom_v, need)
      .then(
          [self, epoch](page_list& pages) {
            // A stale epoch's pages were already returned by the drop that ended it.
            if (epoch != self->state.epoch) return;
            auto& s = self->state;
            s.block_table.insert(s.block_table.end(), pages.begin(), pages.end());
            offer(self);
          },
          [self, epoch](caf::error& err) {
            if (epoch != self->state.epoch) return;
            if (err == engine_errc::no_capacity)
              starve(self);
            else
              end_with_error(self, engine_errc::internal, "page pool: " + error_text(self, err));
          });
}

// Publishes the full pages written so far that are not cached yet, then calls next.
template <class Next>
void publish_full_pages(request_pointer self, Next next) {
  auto& st = self->state;
  auto full =
      scheduling::full_pages_written(st.kv_written, static_cast<int32_t>(st.block_table.size()), st.cfg.page_size);
  if (full <= st.published_pages) {
    next();
    return;
  }
  // Only the pages not published yet travel; the trie knows the rest by the handle.
  const auto first = st.published_pages;
  publish_request pr;
  pr.ns = st.req.ns;
  pr.first_page = first;
  pr.tokens.assign(st.tokens.begin() + first * st.cfg.page_size, st.tokens.begin() + full * st.cfg.page_size);
  pr.pages.assign(st.block_table.begin() + first, st.block_table.begin() + full);
  pr.handle = st.handle;
  auto epoch = st.epoch;
  self->request(st.peers.pool, caf::infinite, publish_atom_v, std::move(pr))
      .then(
          [self, epoch, first, full, next](publish_reply& reply) mutable {
            if (epoch != self->state.epoch) return;
            auto& s = self->state;
            // Duplicates were freed by the pool; use the canonical pages from now on.
            for (std::size_t i = 0; i < reply.pages.size() && first + i < s.block_table.size(); ++i)
              s.block_table[first + i] = reply.pages[i];
            s.handle = reply.handle;
            s.published_pages = full;
            next();
          },
          [self, epoch, full, next](caf::error&) mutable {
            if (epoch != self->state.epoch) return;
            // Not fatal: the pages stay private and are released at the end.
            self->state.published_pages = full;
            next();
          });
}

bool is_stop_token(const request_state& st, int32_t token) {
  auto listed = [token](const std::vector<int32_t>& ids) {
    return std::find(ids.begin(), ids.end(), token) != ids.end();
  };
  return (st.req.stop_at_eos && listed(st.cfg.end_ids)) || listed(st.req.stop_token_ids);
}

// Feeds a sampled token to the grammar. The mask allowed it, so a refusal is a bug somewhere
// between the mask and the sampler: the request fails loudly instead of leaving the grammar.
bool advance_grammar(request_pointer self, int32_t token) {
  auto& st = self->state;
  try {
    if (st.decoder->accept(token)) return true;
    end_with_error(self, engine_errc::internal,
                   "the grammar refused sampled token " + std::to_string(token) + " although its mask allowed it");
  } catch (const std::exception& e) {
    end_with_error(self, engine_errc::bad_request, std::string("grammar: ") + e.what());
  }
  return false;
}

// continued: the scheduler already issued the next step with this token as its input
// (scheduling/continuation.hpp): nothing to publish or allocate, and no offer to make.
void on_token(request_pointer self, sequence_result& result, bool continued) {
  auto& st = self->state;
  const int32_t token = result.token;
  // Constrained: an end token was allowed only because the document is complete.
  if (is_stop_token(st, token) || (st.decoder && st.decoder->is_end(token))) {
    end_finished(self, "stop");
    return;
  }
  if (st.decoder && !advance_grammar(self, token)) return;
  st.tokens.push_back(token);
  ++st.generated;
  if (st.ttft_ms < 0) st.ttft_ms = ms_since(st.start);
  if (st.cb) {
    generation_event ev;
    ev.type = generation_event::kind::token;
    ev.rid = st.req.rid;
    ev.token = token;
    if (!attach_prompt_scores(self, ev)) return;
    if (st.req.sampling.logprobs >= 0) {
      ev.logprob = result.logprob;
      ev.top_ids = std::move(result.top_ids);
      ev.top_logprobs = std::move(result.top_logprobs);
    }
    st.cb(ev);
  }
#ifdef KVACTOR_FAULT_HOOKS
  // Mid-decode: the kill arrives like one sent from outside, while this step's
  // publish and the next page request are under way.
  if (fault_hooks::kill_now(st.req.rid, st.generated))
    caf::anon_send_exit(caf::actor_cast<caf::actor>(self), caf::exit_reason::kill);
#endif
  // A complete document that nothing can extend: the text is exactly the document.
  if (st.decoder && st.decoder->finished()) {
    publish_full_pages(self, [self] { end_finished(self, "stop"); });
    return;
  }
  if (st.generated >= st.req.max_tokens || static_cast<int32_t>(st.tokens.size()) >= st.cfg.max_seq_len) {
    // Publish what the device wrote before finishing so later prompts can share it.
    publish_full_pages(self, [self] { end_finished(self, "length"); });
    return;
  }
  st.phase = "decode";
  if (continued) return;
  publish_full_pages(self, [self] { ensure_pages_then_offer(self); });
}

std::string validate(const request_state& st) {
  if (st.req.prompt.empty()) return "prompt is empty (at least one token, e.g. BOS, is needed)";
  for (auto t : st.req.prompt)
    if (t < 0 || t >= st.cfg.vocab_size)
      return "prompt token " + std::to_string(t) + " is outside the vocabulary [0, " +
             std::to_string(st.cfg.vocab_size) + ")";
  if (static_cast<int32_t>(st.req.prompt.size()) >= st.cfg.max_seq_len)
    return "prompt has " + std::to_string(st.req.prompt.size()) + " tokens; the model's context is " +
           std::to_string(st.cfg.max_seq_len);
  if (st.req.max_tokens < 1) return "max_tokens must be at least 1";
  if (st.req.sampling.top_p <= 0.0f || st.req.sampling.top_p > 1.0f || st.req.sampling.top_k < 0 ||
      st.req.sampling.temperature < 0.0f)
    return "sampling parameters out of range (temperature >= 0, top_k >= 0, 0 < top_p <= 1)";
  const sampling_params& p = st.req.sampling;
  if (!(p.min_p >= 0.0f && p.min_p <= 1.0f) || !(p.repetition_penalty > 0.0f) ||
      p.bias_ids.size() != p.bias_values.size())
    return "sampling parameters out of range (0 <= min_p <= 1, repetition_penalty > 0, one value per logit_bias id)";
  for (auto t : p.bias_ids)
    if (t < 0 || t >= st.cfg.vocab_size) return "logit_bias token " + std::to_string(t) + " is outside the vocabulary";
  return {};
}

void start(request_pointer self) {
  auto& st = self->state;
  if (st.req.deadline.count() > 0) self->delayed_send(self, st.req.deadline, cancel_atom_v, std::string("deadline"));
  self->request(st.peers.scheduler, caf::infinite, enqueue_atom_v,
                enqueue_request{st.seq_id, st.req.rid, st.tokens, st.req.ns, st.req.tenant, st.req.tenant_weight,
                                st.req.max_tokens})
      .then([](int32_t) {},
            [self](caf::error& err) {
              if (err == engine_errc::queue_full)
                end_with_error(self, engine_errc::queue_full, "the waiting queue is full; retry later");
              else if (err == engine_errc::shutting_down)
                end_with_error(self, engine_errc::shutting_down, "the engine is shutting down");
              else
                end_with_error(self, engine_errc::internal, "scheduler: " + error_text(self, err));
            });
}

// A request that fails validation ends before it reaches any other actor.
void reject_invalid(request_pointer self, const std::string& problem) {
  auto& st = self->state;
  *st.ended = true;
  st.phase = "failed";
  st.terminal = true;
  self->send(st.peers.registry, done_atom_v, st.req.rid, std::string("rejected"), snapshot(self));
  if (st.cb) {
    generation_event ev;
    ev.type = generation_event::kind::error;
    ev.rid = st.req.rid;
    ev.error = engine_errc::bad_request;
    ev.error_message = problem;
    ev.usage.prompt_tokens = st.prompt_len;
    st.cb(ev);
  }
  self->quit();
}

// Admitted: match the prompt in the trie (locking the matched pages), then get pages.
void on_admit(request_pointer self) {
  auto& s = self->state;
  if (s.terminal) return;
  auto epoch = ++s.epoch;
  s.phase = "prefill";
  // With the prefix cache off (or cache_prompt false) an empty match (a miss) stands in for the real one.
  self->request(s.peers.trie, caf::infinite, match_atom_v, s.req.ns,
                s.cfg.prefix_cache && s.req.cache_prompt && !s.req.prompt_logprobs ? s.tokens : token_list{})
      .then(
          [self, epoch](match_reply& m) {
            if (epoch != self->state.epoch) return;  // the drop that ended the epoch unlocked this handle too
            auto& r = self->state;
            r.handle = m.handle;
            r.block_table = std::move(m.pages);
            r.published_pages = static_cast<int32_t>(r.block_table.size());
            r.kv_written = m.cached_tokens;
            if (r.cached_tokens < 0) r.cached_tokens = std::min(m.cached_tokens, r.prompt_len);
            ensure_pages_then_offer(self);
          },
          [self, epoch](caf::error& err) {
            if (epoch == self->state.epoch)
              end_with_error(self, engine_errc::internal, "trie: " + error_text(self, err));
          });
}

// Preempted: give every page back and answer the tokens so far (prompt + generated),
// which the scheduler queues again.
caf::result<token_list> on_preempt(request_pointer self) {
  auto& s = self->state;
  if (s.terminal) return caf::make_error(engine_errc::cancelled, "request already ending");
  ++s.epoch;
  ++s.preemptions;
  s.phase = "queued";
  s.block_table.clear();
  s.kv_written = 0;
  s.handle = 0;
  s.published_pages = 0;
  auto promise = self->make_response_promise<token_list>();
  self->request(s.peers.pool, caf::infinite, drop_atom_v)
      .then([self, promise](int32_t) mutable { promise.deliver(self->state.tokens); },
            [self, promise](caf::error&) mutable { promise.deliver(self->state.tokens); });
  return promise;
}

// The request waits on the scheduler, the pool and the trie. They stop only at engine
// shutdown, after every request has ended, so one exiting earlier has failed (a handler
// threw, say): the request then ends with an error naming it instead of waiting
// forever, and returns what it holds. docs/reliability.md ("Engine actor failures").
void watch_peers(request_pointer self) {
  auto& p = self->state.peers;
  self->monitor(p.scheduler);
  self->monitor(p.pool);
  self->monitor(p.trie);
  self->set_down_handler([self](caf::down_msg& msg) {
    auto& s = self->state;
    const char* who = msg.source == s.peers.scheduler.address() ? "scheduler"
                      : msg.source == s.peers.pool.address()    ? "page pool"
                      : msg.source == s.peers.trie.address()    ? "prefix trie"
                                                                : nullptr;
    if (who == nullptr || s.terminal) return;
    end_with_error(self, engine_errc::internal, std::string("the ") + who + " actor exited: " + to_string(msg.reason));
  });
}

request_actor::behavior_type request_behavior(request_pointer self, engine_actors peers, engine_settings cfg,
                                              uint64_t seq_id, generation_request req, generation_callback cb) {
  auto& st = self->state;
  st.peers = std::move(peers);
  st.cfg = std::move(cfg);
  st.seq_id = seq_id;
  st.req = std::move(req);
  st.cb = std::move(cb);
  st.tokens = st.req.prompt;
  st.prompt_len = static_cast<int32_t>(st.tokens.size());
  if (st.req.prompt_logprobs) st.prompt_scores.resize(st.tokens.size());
  if (st.req.constraint) st.decoder = std::make_unique<grammar::constrained_decoder>(st.req.constraint);
  // Exactly one final event even if the actor is killed: the functor runs at exit.
  self->attach_functor([ended = st.ended, cb = st.cb, rid = st.req.rid](const caf::error& reason) {
    if (*ended || !cb) return;
    generation_event ev;
    ev.type = generation_event::kind::error;
    ev.rid = rid;
    ev.error = engine_errc::aborted;
    ev.error_message = "request actor exited: " + to_string(reason);
    cb(ev);
  });
  if (auto problem = validate(st); !problem.empty()) {
    reject_invalid(self, problem);
  } else {
    watch_peers(self);
    start(self);
  }
  return {
      [self](admit_atom) {
        ++self->state.handled;
        on_admit(self);
      },
      [self](step_atom, int32_t processed, sequence_result& result, bool continued) {
        auto& s = self->state;
        ++s.handled;
        if (s.terminal) return;
        s.kv_written += processed;
        for (scored_token& t : result.scored) {
          const auto p = static_cast<std::size_t>(t.position);
          if (p < s.prompt_scores.size()) s.prompt_scores[p] = std::move(t);  // only prompt positions are asked for
        }
        if (result.token >= 0) {
          on_token(self, result, continued);
          return;
        }
        publish_full_pages(self, [self] { ensure_pages_then_offer(self); });
      },
      [self](preempt_atom) -> caf::result<token_list> {
        ++self->state.handled;
        return on_preempt(self);
      },
      [self](fail_atom, caf::error& err) {
        ++self->state.handled;
        end_with_error(self, engine_code(err), engine_message(err));
      },
      [self](cancel_atom, std::string& reason) {
        ++self->state.handled;
        (void)reason;
        end_finished(self, "cancelled");
      },
      [self](inspect_atom) -> request_report {
        auto& s = self->state;
        ++s.handled;
        return request_report{{"request", s.req.rid, s.phase, s.handled, self->mailbox().size()}, snapshot(self)};
      },
  };
}

}  // namespace

request_actor spawn_request(caf::actor_system& sys, const engine_actors& peers, const engine_settings& settings,
                            uint64_t seq_id, generation_request req, generation_callback cb) {
  return sys.spawn(request_behavior, peers, settings, seq_id, std::move(req), std::move(cb));
}

}  // namespace kvactor
