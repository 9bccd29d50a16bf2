#include "http/generation_exchange.hpp"

#include <algorithm>
#include <ctime>

#include "grammar/output_constraint.hpp"
#include "http/tenants.hpp"
#include "model/tokenizer.hpp"

namespace kvactor::http {

void expand_choices(exchange_spec& spec) {
  exchange_spec out = spec;
  out.prompts.clear();
  out.params.clear();
  out.rids.clear();
  out.choice.clear();
  for (std::size_t i = 0; i < spec.prompts.size(); ++i) {
    const int n = std::max(1, spec.params[i].n);
    for (int j = 0; j < n; ++j) {
      out.prompts.push_back(spec.prompts[i]);
      generation_params p = spec.params[i];
      p.sampling.seed += static_cast<uint64_t>(j);
      p.n = 1;
      out.params.push_back(std::move(p));
      out.rids.push_back(spec.rids[i].empty() || n == 1 ? spec.rids[i] : spec.rids[i] + "-" + std::to_string(j));
      out.choice.push_back(j);
    }
  }
  spec = std::move(out);
}

generation_exchange::generation_exchange(generation_service& service, std::shared_ptr<reply_sink> sink,
                                         server_metrics& metrics, exchange_spec spec, clock::time_point received)
    : service_(service), sink_(std::move(sink)), metrics_(metrics), spec_(std::move(spec)), received_(received) {
  runs_.resize(spec_.prompts.size());
  role_sent_.assign(runs_.size(), false);
  identity_.model = spec_.model_name;
  identity_.created = static_cast<int64_t>(std::time(nullptr));
  ++metrics_.active_generations;
}

generation_exchange::~generation_exchange() { --metrics_.active_generations; }

void generation_exchange::start() {
  const tokenizer& tok = service_.tok();
  const std::vector<int32_t> control = {tok.bos_id(), tok.eos_id()};
  auto self = shared_from_this();
  for (std::size_t i = 0; i < runs_.size(); ++i) {
    const prompt_input& prompt = spec_.prompts[i];
    runs_[i].text.emplace([&tok](int32_t prev, int32_t t) { return tok.decode_piece(prev, t); }, prompt.ids.back(),
                          control, spec_.stop);
    generation_request req;
    req.rid = spec_.rids[i];
    req.prompt = prompt.ids;
    req.max_tokens = spec_.params[i].max_tokens;
    req.sampling = spec_.params[i].sampling;
    req.stop_token_ids = spec_.params[i].stop_token_ids;
    req.stop_at_eos = !spec_.params[i].ignore_eos;
    req.cache_prompt = spec_.params[i].cache_prompt;
    req.prompt_logprobs = scores_prompt(i);
    req.deadline = spec_.deadline;
    req.request_id = spec_.request_id;
    req.tenant = spec_.tenant;
    req.tenant_weight = spec_.tenant_weight;
    req.ns = cache_namespace(spec_.tenant, spec_.params[i].cache_salt);
    const structured_output& structured = spec_.params[i].structured;
    if (!structured.empty())
      req.constraint = grammar::make_constraint(structured.gbnf, structured.rules, spec_.vocabulary);
    req.kind = spec_.flavor == api_flavor::shortfin ? "generate"
               : spec_.flavor == api_flavor::openai ? "completion"
                                                    : "chat";
    // The engine calls back on an actor thread: hop onto the connection's executor.
    auto on_engine_event = [self, i](const generation_event& ev) {
      self->sink_->post([self, i, ev] { self->on_event(i, ev); });
    };
    try {
      runs_[i].rid = service_.submit(std::move(req), on_engine_event);
    } catch (const std::exception& e) {
      generation_event ev;
      ev.type = generation_event::kind::error;
      ev.error = engine_errc::internal;
      ev.error_message = e.what();
      on_event(i, ev);
    }
  }
  identity_.id = (spec_.flavor == api_flavor::chat ? "chatcmpl-" : "cmpl-") + runs_.front().rid;
  if (failing_) cancel_running();  // a later prompt failed to submit: stop the earlier ones
}

void generation_exchange::client_gone() { cancel_running(); }

void generation_exchange::cancel_running() {
  for (const auto& run : runs_)
    if (!run.finished && !run.rid.empty()) service_.cancel(run.rid);
}

void generation_exchange::on_event(std::size_t index, const generation_event& ev) {
  prompt_run& run = runs_[index];
  if (run.finished) return;  // exactly one end per request; anything later is ignored
  if (scores_prompt(index) && ev.type != generation_event::kind::error) record_prompt_scores(index, ev);
  switch (ev.type) {
    case generation_event::kind::token: on_token(index, ev); break;
    case generation_event::kind::finished: on_finished(index, ev); break;
    case generation_event::kind::error: on_error(index, ev); break;
  }
}

// The token's text and its alternatives' texts, each decoded after the token before it.
void generation_exchange::record_logprobs(prompt_run& run, const generation_event& ev, int32_t prev) {
  const tokenizer& tok = service_.tok();
  token_logprob e;
  e.token = tok.decode_piece(prev, ev.token);
  e.logprob = ev.logprob;
  for (std::size_t k = 0; k < ev.top_ids.size() && k < ev.top_logprobs.size(); ++k)
    e.top.emplace_back(tok.decode_piece(prev, ev.top_ids[k]), ev.top_logprobs[k]);
  run.logprobs.push_back(std::move(e));
}

// The prompt's tokens with their log probabilities (echo): the first has none; each later one
// comes from the engine's prompt_scores (a prompt of one token has none). Recorded once.
void generation_exchange::record_prompt_scores(std::size_t index, const generation_event& ev) {
  prompt_run& run = runs_[index];
  if (run.prompt_scored) return;
  run.prompt_scored = true;
  const tokenizer& tok = service_.tok();
  const std::vector<int32_t>& ids = spec_.prompts[index].ids;
  token_logprob first;
  first.token = tok.decode_piece(tok.bos_id(), ids.front());
  first.scored = false;
  run.prompt_logprobs.push_back(std::move(first));
  for (const scored_token& s : ev.prompt_scores) {
    const auto p = static_cast<std::size_t>(s.position);
    if (p == 0 || p >= ids.size()) continue;
    token_logprob e;
    e.token = tok.decode_piece(ids[p - 1], ids[p]);
    e.logprob = s.logprob;
    for (std::size_t k = 0; k < s.top_ids.size() && k < s.top_logprobs.size(); ++k)
      e.top.emplace_back(tok.decode_piece(ids[p - 1], s.top_ids[k]), s.top_logprobs[k]);
    run.prompt_logprobs.push_back(std::move(e));
  }
}

void generation_exchange::on_token(std::size_t index, const generation_event& ev) {
  const int32_t token = ev.token;
  prompt_run& run = runs_[index];
  if (run.text->stopped() || failing_) return;  // cancel sent; tokens still in flight
  const auto now = clock::now();
  if (run.last_token)
    metrics_.inter_token_latency.observe(std::chrono::duration<double>(now - *run.last_token).count());
  else
    metrics_.time_to_first_token.observe(std::chrono::duration<double>(now - received_).count());
  run.last_token = now;
  const int32_t prev = run.output_ids.empty() ? spec_.prompts[index].ids.back() : run.output_ids.back();
  run.output_ids.push_back(token);
  std::string delta;
  try {
    if (spec_.params[index].sampling.logprobs >= 0) record_logprobs(run, ev, prev);
    delta = run.text->push(token);
  } catch (const std::exception& e) {  // a token id the tokenizer does not know: an engine fault
    generation_event ev;
    ev.type = generation_event::kind::error;
    ev.error = engine_errc::internal;
    ev.error_message = std::string("undecodable token: ") + e.what();
    service_.cancel(run.rid);
    on_error(index, ev);
    return;
  }
  // A stop string ends the request here: the engine stops spending steps on it.
  if (run.text->stopped()) service_.cancel(run.rid);
  if (spec_.stream && !delta.empty()) emit(index, delta, "");
}

void generation_exchange::on_finished(std::size_t index, const generation_event& ev) {
  prompt_run& run = runs_[index];
  run.finished = true;
  ++finished_;
  run.usage = ev.usage;
  if (run.text->stopped()) {
    run.finish_reason = "stop";
    run.usage.completion_tokens = run.text->tokens();  // tokens after the stop were never shown
  } else {
    run.finish_reason = ev.finish_reason;
  }
  if (run.usage.prompt_tokens == 0) run.usage.prompt_tokens = static_cast<int>(spec_.prompts[index].ids.size());
  metrics_.count_tenant(spec_.tenant_name, run.usage.prompt_tokens, run.usage.cached_tokens);
  metrics_.end_to_end_latency.observe(std::chrono::duration<double>(clock::now() - received_).count());
  const std::string tail = run.text->finish();
  if (spec_.stream && !failing_) emit(index, tail, run.finish_reason);
  maybe_answer();
}

void generation_exchange::on_error(std::size_t index, const generation_event& ev) {
  prompt_run& run = runs_[index];
  run.finished = true;
  ++finished_;
  run.usage = ev.usage;
  run.error = engine_error(ev.error, ev.error_message);
  if (stream_begun_) {
    sink_->stream(error_event(*run.error));
  } else if (!failing_) {
    // Nothing sent yet: the whole call fails with this status; stop the others.
    failing_ = true;
    cancel_running();
  }
  maybe_answer();
}

void generation_exchange::emit(std::size_t index, const std::string& delta, const std::string& finish_reason) {
  if (!stream_begun_) {
    stream_begun_ = true;
    sink_->begin_stream();
  }
  prompt_run& run = runs_[index];
  // The log probabilities of the tokens since the last chunk travel with this one.
  std::optional<std::vector<token_logprob>> fresh;
  if (spec_.params[index].sampling.logprobs >= 0) {
    fresh.emplace(run.logprobs.begin() + static_cast<std::ptrdiff_t>(run.logprobs_sent), run.logprobs.end());
    run.logprobs_sent = run.logprobs.size();
  }
  const std::vector<token_logprob>* lp = fresh ? &*fresh : nullptr;
  switch (spec_.flavor) {
    case api_flavor::shortfin: sink_->stream(shortfin_event(index, run.rid, delta, finish_reason)); break;
    case api_flavor::openai: emit_completion(index, delta, finish_reason, lp); break;
    case api_flavor::chat:
      // OpenAI's chunk order: the role first, then content pieces, then the finish reason alone.
      if (!role_sent_[index]) sink_->stream(chat_completion_event(identity_, chat_delta::role, "", "", index));
      role_sent_[index] = true;
      if (!delta.empty() || (lp && !lp->empty()))
        sink_->stream(chat_completion_event(identity_, chat_delta::content, delta, "", index, lp));
      if (!finish_reason.empty())
        sink_->stream(chat_completion_event(identity_, chat_delta::finish, "", finish_reason, index));
      break;
  }
}

void generation_exchange::emit_completion(std::size_t index, const std::string& delta, const std::string& finish_reason,
                                          const std::vector<token_logprob>* lp) {
  prompt_run& run = runs_[index];
  std::string text = delta;
  if (spec_.echo && !run.echoed) {
    text = spec_.prompts[index].text + delta;
    run.offset_sent = spec_.prompts[index].text.size();
  }
  run.echoed = true;
  const bool with_prompt = scores_prompt(index) && !run.prompt_sent;
  run.prompt_sent = run.prompt_sent || with_prompt;
  sink_->stream(completion_event(identity_, index, text, finish_reason, lp, run.offset_sent,
                                 with_prompt ? &run.prompt_logprobs : nullptr));
  if (lp)
    for (const auto& e : *lp) run.offset_sent += e.token.size();
}

std::vector<prompt_outcome> generation_exchange::outcomes() const {
  std::vector<prompt_outcome> out;
  out.reserve(runs_.size());
  for (std::size_t i = 0; i < runs_.size(); ++i) {
    const prompt_run& run = runs_[i];
    prompt_outcome o;
    o.rid = run.rid;
    o.prompt_text = spec_.prompts[i].text;
    o.prompt_ids = spec_.prompts[i].ids;
    o.text = run.text ? run.text->text() : std::string();
    if (spec_.echo) {
      o.text = spec_.prompts[i].text + o.text;
      o.text_offset = spec_.prompts[i].text.size();
    }
    if (spec_.params[i].sampling.logprobs >= 0) {
      o.logprobs = run.logprobs;
      o.prompt_logprobs = run.prompt_logprobs;  // empty unless echo
      o.logprobs->resize(
          std::min<std::size_t>(o.logprobs->size(), static_cast<std::size_t>(run.usage.completion_tokens)));
    }
    o.repeat_choice = !spec_.choice.empty() && spec_.choice[i] > 0;
    o.output_ids = run.output_ids;
    o.finish_reason = run.finish_reason;
    o.usage = run.usage;
    if (!spec_.params[i].sampling.greedy()) o.seed = spec_.params[i].sampling.seed;
    out.push_back(std::move(o));
  }
  return out;
}

void generation_exchange::maybe_answer() {
  if (finished_ < runs_.size() || answered_) return;
  answered_ = true;
  spec_.tenant_slot.reset();  // every prompt has ended: the tenant's next request may start
  if (failing_ && !stream_begun_) {
    for (const auto& run : runs_)
      if (run.error) {
        sink_->send(error_reply(*run.error));
        return;
      }
  }
  const auto all = outcomes();
  if (spec_.stream) {
    if (!stream_begun_) {
      stream_begun_ = true;
      sink_->begin_stream();
    }
    if (spec_.flavor == api_flavor::openai && spec_.stream_usage) sink_->stream(completion_usage_event(identity_, all));
    if (spec_.flavor == api_flavor::chat && spec_.stream_usage) sink_->stream(chat_usage_event(identity_, all));
    sink_->stream(done_event);
    sink_->end_stream();
    return;
  }
  switch (spec_.flavor) {
    case api_flavor::shortfin: sink_->send(json_reply(200, shortfin_response(all, spec_.return_input_ids))); break;
    case api_flavor::openai: sink_->send(json_reply(200, completion_response(identity_, all))); break;
    case api_flavor::chat: sink_->send(json_reply(200, chat_completion_response(identity_, all))); break;
  }
}

}  // namespace kvactor::http
