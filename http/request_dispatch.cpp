#include "http/request_dispatch.hpp"

#include <algorithm>
#include <optional>

#include <nlohmann/json.hpp>

#include "http/authorization.hpp"
#include "http/chat_request.hpp"
#include "http/router.hpp"
#include "http/seed_choice.hpp"
#include "http/static_files.hpp"
#include "http/tokenize_endpoints.hpp"
#include "model/model.hpp"
#include "model/tokenizer.hpp"

namespace kvactor::http {
namespace {

using nlohmann::json;

prompt_limits limits_for(const server_config& cfg, const generation_service& service) {
  prompt_limits l;
  const tokenizer& tok = service.tok();
  l.vocab_size = service.model().vocab_size;
  l.max_seq_len = service.model().max_seq_len;
  l.default_max_tokens = cfg.default_max_tokens;
  l.body_limit = cfg.body_limit_bytes;
  l.max_prompt_tokens = cfg.max_prompt_tokens;
  l.max_new_tokens = cfg.max_new_tokens;
  l.max_prompts_per_request = cfg.max_prompts_per_request;
  l.max_bytes_per_token = static_cast<std::size_t>(std::max<int32_t>(tok.max_piece_length(), 4));
  // BOS where the vocabulary asks for it (Llama 2/3: yes; Qwen2, GPT-2: no).
  l.encode = [&tok](const std::string& text) { return tok.tokenize(text, true, false); };
  l.decode = [&tok](const std::vector<int32_t>& ids) { return tok.decode(ids); };
  return l;
}

int query_int(const route& r, const char* key, int fallback, int min, int max) {
  auto it = r.query.find(key);
  if (it == r.query.end()) return fallback;
  try {
    std::size_t used = 0;
    const long long v = std::stoll(it->second, &used);
    if (used != it->second.size() || v < min || v > max) return -1;
    return static_cast<int>(v);
  } catch (const std::exception&) {
    return -1;
  }
}

// Engine snapshots arrive on an actor thread; the reply is sent from the connection.
void answer_inspect(server_context& ctx, const std::string& what, const std::shared_ptr<reply_sink>& sink,
                    std::function<http_reply(std::string)> render) {
  ctx.service.inspect(what, [sink, render = std::move(render)](std::string snapshot) {
    sink->post([sink, render, snapshot = std::move(snapshot)] { sink->send(render(snapshot)); });
  });
}

struct caller {
  viewer view;         // tenant id and admin flag
  int32_t weight = 1;  // fair share
  std::string name = "default";
};

http_reply snapshot_reply(const std::string& snapshot) {
  const json doc = json::parse(snapshot, nullptr, false);
  if (doc.is_object() && doc.contains("error") && doc["error"].is_object()) {
    // Re-rendered so every endpoint answers errors in the one shape (http/api_error.hpp).
    const std::string code = doc["error"].value("code", "INTERNAL");
    return error_reply({code == "NOT_FOUND" ? 404 : 500, code, doc["error"].value("message", ""), 0, {}});
  }
  return json_reply(200, snapshot);
}

json model_object(const server_context& ctx) {
  return {{"id", ctx.cfg.model_name},
          {"object", "model"},
          {"created", 0},
          {"owned_by", "kvactor"},
          {"max_model_len", ctx.limits.max_seq_len}};
}

http_reply unknown_model(const std::string& id) {
  api_error e{404, "NOT_FOUND", "the model '" + id + "' does not exist on this server (see GET /v1/models)", 0, {}};
  e.param = "model";
  return error_reply(e);
}

// A non-admin tenant may not see views that hold every tenant's requests: answers 403.
bool admin_only(const caller& who, const std::shared_ptr<reply_sink>& sink) {
  if (who.view.admin) return false;
  sink->send(error_reply({403, "FORBIDDEN", "only an admin tenant may inspect this (it shows every tenant)", 0, {}}));
  return true;
}

// Who sent the request (http/tenants.hpp): a server without keys, and the open endpoints,
// see everyone as tenant 0 (admin). nullopt: no valid key where one is needed.
std::optional<caller> identify(const server_context& ctx, const incoming_request& req, const route& r) {
  if (ctx.cfg.tenants.empty() || !needs_api_key(r.target)) return caller{};
  const tenant* t = ctx.cfg.tenants.authenticate(req.authorization);
  if (t == nullptr) return std::nullopt;
  return caller{{t->id, t->admin}, t->weight, t->name};
}

std::shared_ptr<generation_exchange> start_generation(server_context& ctx, const incoming_request& req,
                                                      const std::shared_ptr<reply_sink>& sink, exchange_spec spec,
                                                      const caller& who) {
  if (ctx.draining) {
    sink->send(error_reply(engine_error(engine_errc::shutting_down, "the server is shutting down")));
    return nullptr;
  }
  spec.tenant_slot = ctx.tenant_requests.enter(who.view.tenant, ctx.cfg.max_requests_per_tenant);
  if (!spec.tenant_slot) {
    sink->send(error_reply({429,
                            "TOO_MANY_REQUESTS",
                            "tenant '" + who.name + "' has " + std::to_string(ctx.cfg.max_requests_per_tenant) +
                                " requests in flight (max_requests_per_tenant); retry later",
                            1,
                            {}}));
    return nullptr;
  }
  spec.tenant = who.view.tenant;
  spec.tenant_name = who.name;
  spec.tenant_weight = who.weight;
  spec.model_name = ctx.cfg.model_name;
  spec.request_id = req.request_id;
  choose_seeds(spec.params);  // a sampled request without a seed gets a fresh one, reported back
  expand_choices(spec);       // n > 1: choice j of a prompt samples with seed + j
  spec.deadline = std::chrono::milliseconds(ctx.cfg.request_timeout_ms);
  // Structured output needs the vocabulary's token bytes: built by the first such request.
  for (const auto& p : spec.params)
    if (!p.structured.empty()) {
      spec.vocabulary = ctx.vocabulary.get(ctx.service.tok());
      break;
    }
  auto exchange = std::make_shared<generation_exchange>(ctx.service, sink, ctx.metrics, std::move(spec), req.received);
  exchange->start();
  return exchange;
}

}  // namespace

server_context::server_context(server_config c, generation_service& s)
    : cfg(std::move(c)), service(s), limits(limits_for(cfg, s)), chat(chat_prompt_for(s.tok(), cfg.chat_template)) {
  // A config built in code (tests) may set only the single key: it is the one tenant.
  if (cfg.tenants.empty() && !cfg.api_key.empty()) cfg.tenants = single_key_table(cfg.api_key);
}

std::shared_ptr<generation_exchange> dispatch(server_context& ctx, const incoming_request& req,
                                              const std::shared_ptr<reply_sink>& sink) {
  auto routed = route_request(req.method, req.target);
  if (auto* err = std::get_if<api_error>(&routed)) {
    sink->send(error_reply(*err));
    return nullptr;
  }
  const route& r = std::get<route>(routed);
  // Before the body is parsed: an unauthenticated caller costs no tokenizer work.
  const auto who = identify(ctx, req, r);
  if (!who) {
    sink->send(unauthorized_reply(!req.authorization.empty()));
    return nullptr;
  }
  switch (r.target) {
    case endpoint::generate: {
      auto parsed = parse_generate(req.body, ctx.limits);
      if (auto* err = std::get_if<api_error>(&parsed)) {
        sink->send(error_reply(*err));
        return nullptr;
      }
      auto& call = std::get<generate_call>(parsed);
      exchange_spec spec;
      spec.flavor = api_flavor::shortfin;
      spec.prompts = std::move(call.prompts);
      spec.params = std::move(call.params);
      spec.rids = std::move(call.rids);
      spec.stream = call.stream;
      spec.return_input_ids = call.return_input_ids;
      return start_generation(ctx, req, sink, std::move(spec), *who);
    }
    case endpoint::completions: {
      auto parsed = parse_completion(req.body, ctx.limits);
      if (auto* err = std::get_if<api_error>(&parsed)) {
        sink->send(error_reply(*err));
        return nullptr;
      }
      auto& call = std::get<completion_call>(parsed);
      exchange_spec spec;
      spec.flavor = api_flavor::openai;
      spec.params.assign(call.prompts.size(), call.params);
      spec.rids.assign(call.prompts.size(), "");
      spec.prompts = std::move(call.prompts);
      spec.stop = std::move(call.stop);
      spec.stream = call.stream;
      spec.stream_usage = call.stream_usage;
      spec.echo = call.echo;
      return start_generation(ctx, req, sink, std::move(spec), *who);
    }
    case endpoint::chat_completions: {
      auto parsed = parse_chat_completion(req.body, ctx.limits, ctx.chat);
      if (auto* err = std::get_if<api_error>(&parsed)) {
        sink->send(error_reply(*err));
        return nullptr;
      }
      auto& call = std::get<chat_call>(parsed);
      exchange_spec spec;
      spec.flavor = api_flavor::chat;
      spec.params = {call.params};
      spec.rids = {""};
      spec.prompts = {std::move(call.prompt)};
      spec.stop = std::move(call.stop);
      spec.stream = call.stream;
      spec.stream_usage = call.stream_usage;
      return start_generation(ctx, req, sink, std::move(spec), *who);
    }
    case endpoint::apply_template: {
      auto parsed = parse_apply_template(req.body, ctx.limits, ctx.chat);
      if (auto* err = std::get_if<api_error>(&parsed))
        sink->send(error_reply(*err));
      else
        sink->send(json_reply(200, json{{"prompt", std::get<apply_template_call>(parsed).prompt}}.dump(
                                       -1, ' ', false, json::error_handler_t::replace)));
      return nullptr;
    }
    case endpoint::models:
      sink->send(json_reply(200, json{{"object", "list"}, {"data", json::array({model_object(ctx)})}}.dump()));
      return nullptr;
    case endpoint::model:
      sink->send(r.argument == ctx.cfg.model_name ? json_reply(200, model_object(ctx).dump())
                                                  : unknown_model(r.argument));
      return nullptr;
    case endpoint::health:
      if (ctx.draining)
        sink->send(json_reply(503, R"({"status":"draining"})"));
      else
        sink->send(json_reply(200, R"({"status":"ok"})"));
      return nullptr;
    case endpoint::metrics: {
      server_metrics* m = &ctx.metrics;
      answer_inspect(ctx, "metrics", sink, [m](std::string snapshot) {
        http_reply reply;
        reply.content_type = "text/plain; version=0.0.4; charset=utf-8";
        reply.body = render_prometheus(snapshot, *m);
        return reply;
      });
      return nullptr;
    }
    case endpoint::inspect_actors:
      if (!admin_only(*who, sink)) answer_inspect(ctx, "actors", sink, snapshot_reply);
      return nullptr;
    case endpoint::inspect_cache: {
      using limits = cache_tree_limits;
      const int depth = query_int(r, "depth", limits::default_depth, 0, limits::max_depth),
                max_nodes = query_int(r, "max_nodes", limits::default_nodes, 1, limits::max_nodes);
      if (depth < 0 || max_nodes < 0) {
        sink->send(error_reply({400,
                                "OUT_OF_RANGE",
                                "depth must be in [0, " + std::to_string(limits::max_depth) +
                                    "] and max_nodes in [1, " + std::to_string(limits::max_nodes) + "]",
                                0,
                                {}}));
        return nullptr;
      }
      // The service cuts the tree itself, to these bounds (one set: cache_tree_limits).
      // check=full also runs the O(pages) invariant walks in pool and trie (on demand).
      const auto check = r.query.find("check");
      if (check != r.query.end() && check->second != "full" && check->second != "counters") {
        sink->send(error_reply({400, "OUT_OF_RANGE", "check must be 'full' or 'counters'", 0, {}}));
        return nullptr;
      }
      const bool full = check != r.query.end() && check->second == "full";
      const std::string what = "cache?depth=" + std::to_string(depth) + "&max_nodes=" + std::to_string(max_nodes) +
                               (full ? "&check=full" : "");
      answer_inspect(ctx, what, sink, [v = who->view, &ctx](std::string snapshot) {
        http_reply reply = snapshot_reply(snapshot);
        if (reply.status == 200) reply.body = cache_for(reply.body, v, ctx.cfg.tenants);
        return reply;
      });
      return nullptr;
    }
    case endpoint::inspect_requests:
      answer_inspect(ctx, "requests", sink,
                     [v = who->view](std::string snapshot) { return snapshot_reply(requests_for(snapshot, v)); });
      return nullptr;
    case endpoint::inspect_request:
      answer_inspect(ctx, "request:" + r.argument, sink, [v = who->view, rid = r.argument](std::string snapshot) {
        if (request_visible(snapshot, v)) return snapshot_reply(snapshot);
        return error_reply({404, "NOT_FOUND", "no live or recently finished request with rid '" + rid + "'", 0, {}});
      });
      return nullptr;
    case endpoint::inspect_cluster:
      if (!admin_only(*who, sink)) answer_inspect(ctx, "cluster", sink, snapshot_reply);
      return nullptr;
    case endpoint::tokenize:
      sink->send(answer_tokenize(req.body, ctx.cfg.body_limit_bytes, ctx.service.tok()));
      return nullptr;
    case endpoint::detokenize:
      sink->send(answer_detokenize(req.body, ctx.cfg.body_limit_bytes, ctx.service.tok()));
      return nullptr;
    case endpoint::console: {
      auto file = console_file(ctx.cfg.console_dir, r.argument);
      if (auto* err = std::get_if<api_error>(&file))
        sink->send(error_reply(*err));
      else
        sink->send(std::move(std::get<http_reply>(file)));
      return nullptr;
    }
  }
  sink->send(error_reply({500, "INTERNAL", "unhandled endpoint", 0, {}}));
  return nullptr;
}

}  // namespace kvactor::http
