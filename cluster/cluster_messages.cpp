#include "cluster/cluster_messages.hpp"

#include <algorithm>

#include <caf/io/all.hpp>

#include "grammar/output_constraint.hpp"

namespace kvactor::cluster {

std::vector<int32_t> namespaced_key(uint64_t ns, const std::vector<int32_t>& prompt, std::size_t max_tokens) {
  std::vector<int32_t> key = {static_cast<int32_t>(static_cast<uint32_t>(ns >> 32)),
                              static_cast<int32_t>(static_cast<uint32_t>(ns))};
  key.insert(key.end(), prompt.begin(),
             prompt.begin() + static_cast<std::ptrdiff_t>(std::min(prompt.size(), max_tokens)));
  return key;
}

node_request to_node_request(const generation_request& req) {
  node_request out;
  out.rid = req.rid;
  out.prompt = req.prompt;
  out.max_tokens = req.max_tokens;
  out.sampling = req.sampling;
  out.stop_at_eos = req.stop_at_eos;
  out.stop_token_ids = req.stop_token_ids;
  out.cache_prompt = req.cache_prompt;
  out.prompt_logprobs = req.prompt_logprobs;
  out.deadline_ms = req.deadline.count();
  out.kind = req.kind;
  out.request_id = req.request_id;
  out.ns = req.ns;
  out.tenant = req.tenant;
  out.tenant_weight = req.tenant_weight;
  if (req.constraint) out.grammar = req.constraint->gbnf;
  return out;
}

generation_request from_node_request(const node_request& req) {
  generation_request out;
  out.rid = req.rid;
  out.prompt = req.prompt;
  out.max_tokens = req.max_tokens;
  out.sampling = req.sampling;
  out.stop_at_eos = req.stop_at_eos;
  out.stop_token_ids = req.stop_token_ids;
  out.cache_prompt = req.cache_prompt;
  out.prompt_logprobs = req.prompt_logprobs;
  out.deadline = std::chrono::milliseconds(req.deadline_ms);
  out.kind = req.kind;
  out.request_id = req.request_id;
  out.ns = req.ns;
  out.tenant = req.tenant;
  out.tenant_weight = req.tenant_weight;
  return out;
}

node_event to_node_event(const generation_event& ev) {
  node_event out;
  out.type = static_cast<int32_t>(ev.type);
  out.rid = ev.rid;
  out.token = ev.token;
  out.logprob = ev.logprob;
  out.top_ids = ev.top_ids;
  out.top_logprobs = ev.top_logprobs;
  out.prompt_scores = ev.prompt_scores;
  out.finish_reason = ev.finish_reason;
  out.error_code = ev.type == generation_event::kind::error ? error_code_name(ev.error) : "";
  out.error_message = ev.error_message;
  out.prompt_tokens = ev.usage.prompt_tokens;
  out.cached_tokens = ev.usage.cached_tokens;
  out.completion_tokens = ev.usage.completion_tokens;
  return out;
}

generation_event from_node_event(const node_event& ev) {
  generation_event out;
  switch (ev.type) {
    case 0: out.type = generation_event::kind::token; break;
    case 1: out.type = generation_event::kind::finished; break;
    default: out.type = generation_event::kind::error; break;
  }
  out.rid = ev.rid;
  out.token = ev.token;
  out.logprob = ev.logprob;
  out.top_ids = ev.top_ids;
  out.top_logprobs = ev.top_logprobs;
  out.prompt_scores = ev.prompt_scores;
  out.finish_reason = ev.finish_reason;
  out.error_message = ev.error_message;
  if (out.type == generation_event::kind::error) {
    // A name this build does not know (a newer node) stays visible in the message.
    const auto code = engine_errc_from_name(ev.error_code);
    out.error = code ? *code : engine_errc::internal;
    if (!code) out.error_message = ev.error_code + ": " + ev.error_message;
  }
  out.usage.prompt_tokens = ev.prompt_tokens;
  out.usage.cached_tokens = ev.cached_tokens;
  out.usage.completion_tokens = ev.completion_tokens;
  return out;
}

void add_cluster_types(caf::actor_system_config& cfg) {
  cfg.add_message_types<caf::id_block::kvactor>();
  cfg.add_message_types<caf::id_block::kvactor_cluster>();
  cfg.load<caf::io::middleman>();
  // A killed process is noticed at once from its closed connection; a silent peer
  // (cable pulled, host frozen, network partition) only by missing heartbeats.
  cfg.set("middleman.heartbeat-interval", caf::timespan{std::chrono::milliseconds(1000)});
  cfg.set("middleman.connection-timeout", caf::timespan{std::chrono::milliseconds(5000)});
}

}  // namespace kvactor::cluster
