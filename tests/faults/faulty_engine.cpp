#include "tests/faults/faulty_engine.hpp"

#include <stdexcept>

#include "device/cpu_backend.hpp"
#include "model/model.hpp"
#include "model/tokenizer.hpp"
#include "tests/http/http_client.hpp"

namespace kvactor::test {

using nlohmann::json;

faulty_engine::faulty_engine(const engine_config& cfg)
    : faulty_engine(cfg, load_model(cfg.model_path, cfg.tokenizer_path), std::make_shared<fault_plan>()) {}

faulty_engine::faulty_engine(const engine_config& cfg, const loaded_model& model, std::shared_ptr<fault_plan> plan)
    : engine_host(
          cfg, model.weights->config, end_of_generation_ids(*model.tok),
          make_fault_injecting_backend(
              make_cpu_backend(model.weights, kv_layout{cfg.page_size, cfg.num_pages}, cfg.device_threads), plan),
          0, model.tok),
      plan_(std::move(plan)) {}

void faulty_engine::fail_device_after(int more) { plan_->fail_at_step = plan_->steps.load() + more; }

engine_config stories_config(int num_pages, int max_batch) {
  engine_config cfg;
  cfg.model_path = std::string(KVACTOR_MODELS_DIR) + "/stories260K.bin";
  cfg.tokenizer_path = std::string(KVACTOR_MODELS_DIR) + "/tok512.bin";
  cfg.num_pages = num_pages;
  cfg.max_batch = max_batch;
  return cfg;
}

faulty_server::faulty_server(const engine_config& cfg) : engine(std::make_unique<faulty_engine>(cfg)) {
  http::server_config hc;
  hc.engine = cfg;
  hc.host = "127.0.0.1";
  hc.port = 0;
  hc.io_threads = 2;
  hc.model_name = "stories260K";
  hc.default_max_tokens = 16;
  server = std::make_unique<http::http_server>(hc, *engine);
}

faulty_server::~faulty_server() {
  server.reset();  // before the engine: sessions may still hold engine callbacks
  engine.reset();
}

std::string job::body() const {
  return json{
      {"text", prompt}, {"rid", rid}, {"stream", stream}, {"sampling_params", {{"max_completion_tokens", max_tokens}}}}
      .dump();
}

outcome parse_outcome(int status, const std::string& content_type, const std::string& body) {
  outcome o;
  o.status = status;
  if (status == 0) {
    o.ending = "NO_RESPONSE";
    return o;
  }
  if (content_type == "text/event-stream") {
    for (const auto& e : sse_data(body)) {
      if (e == "[DONE]") break;
      const json j = json::parse(e, nullptr, false);
      if (j.is_discarded()) continue;
      if (j.contains("error")) o.ending = j["error"].value("code", "ERROR");
      if (j.contains("text") && j["text"].is_string()) o.text += j["text"].get<std::string>();
      if (j.contains("finish_reason") && j["finish_reason"].is_string()) o.ending = j["finish_reason"];
    }
    if (sse_data(body).empty() || sse_data(body).back() != "[DONE]") o.ending += "+NO_DONE";
    return o;
  }
  const json j = json::parse(body, nullptr, false);
  if (j.is_discarded()) {
    o.ending = "BAD_BODY";
  } else if (j.contains("error")) {
    o.ending = j["error"].value("code", "ERROR");
  } else {
    o.text = j["responses"][0]["responses"][0]["text"].get<std::string>();
    o.ending = "length";  // /generate reports no finish reason when not streamed
  }
  return o;
}

outcome generate(unsigned short port, const job& j) {
  const auto r = http_call(port, "POST", "/generate", j.body());
  return parse_outcome(r.status, r.header("content-type"), r.body);
}

std::vector<job> mixed_jobs(int count, int max_tokens) {
  const char* openings[] = {"Once upon a time", "One day, a little girl named Lily", "Tom had a big red ball"};
  const char* endings[] = {" and", " She", " He went to the park.", " they"};
  std::vector<job> jobs;
  for (int i = 0; i < count; ++i) {
    job j;
    j.rid = "job-" + std::to_string(i);
    j.prompt = std::string(openings[i % 3]) + endings[(i / 3) % 4];
    j.max_tokens = max_tokens + i % 5;
    j.stream = i % 2 == 1;
    jobs.push_back(j);
  }
  return jobs;
}

std::string check_quiet(faulty_server& s) {
  const std::string engine_view = s.engine->host().wait_until_quiet(std::chrono::seconds(20));
  if (!engine_view.empty()) return "engine: " + engine_view;
  const auto r = http_call(s.port(), "GET", "/v1/inspect/cache?depth=0&max_nodes=1&check=full");
  if (r.status != 200) return "/v1/inspect/cache answered " + std::to_string(r.status);
  const json c = json::parse(r.body, nullptr, false);
  if (c.is_discarded() || c.value("invariants_ok", false) != true) return "/v1/inspect/cache: " + r.body;
  const json& p = c["pages"];
  if (p["private"] != 0 || p["cached_locked"] != 0 ||
      p["free"].get<int>() + p["cached_evictable"].get<int>() != p["total"].get<int>())
    return "pages over HTTP: " + p.dump();
  return {};
}

std::string check_still_serving(faulty_server& s, const job& probe, const std::string& solo_text) {
  const auto h = http_call(s.port(), "GET", "/health");
  if (h.status != 200) return "/health answered " + std::to_string(h.status);
  const auto o = generate(s.port(), probe);
  if (o.status != 200 || o.text != solo_text)
    return "probe: status " + std::to_string(o.status) + " '" + o.text + "' (" + o.ending + "), solo '" + solo_text +
           "'";
  return {};
}

}  // namespace kvactor::test
