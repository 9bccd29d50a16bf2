#include "tests/http/scripted_service.hpp"

#include <cstdlib>
#include <nlohmann/json.hpp>

namespace kvactor::test {

scripted_service::scripted_service(options opt)
    : opt_(opt), tok_(tokenizer::load_llama2c(std::string(KVACTOR_MODELS_DIR) + "/tok512.bin", 512)) {
  model_.vocab_size = 512;
  model_.max_seq_len = opt_.max_seq_len;
  engine_.queue_limit = opt_.queue_limit;
  engine_.page_size = opt_.page_size;
  engine_.num_pages = opt_.total_pages;
  worker_ = std::thread([this] { run(); });
}

scripted_service::~scripted_service() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  worker_.join();
}

int32_t scripted_service::token_at(const std::vector<int32_t>& prompt, int k) {
  uint32_t h = 2166136261u;
  for (int32_t t : prompt) h = (h ^ static_cast<uint32_t>(t)) * 16777619u;
  // Text tokens only (259..511 are merged pieces of tok512): no BOS/EOS, no raw bytes.
  return static_cast<int32_t>(259 + (h + static_cast<uint32_t>(k) * 7919u) % 253u);
}

int scripted_service::pages_for(const live_request& r, int page_size) {
  const int tokens = static_cast<int>(r.req.prompt.size()) + r.generated;
  return (tokens + page_size - 1) / page_size;
}

std::string scripted_service::submit(generation_request req, generation_callback cb) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (req.rid.empty()) req.rid = "req-" + std::to_string(next_rid_++);
  const std::string rid = req.rid;
  generation_event reject;
  reject.type = generation_event::kind::error;
  reject.rid = rid;
  if (!accepting_) {
    reject.error = engine_errc::shutting_down;
    reject.error_message = "the engine is shutting down";
  } else if (static_cast<int>(live_.size()) >= opt_.queue_limit) {
    reject.error = engine_errc::queue_full;
    reject.error_message = "queue limit reached";
  } else {
    ++submitted_;
    live_[rid] = live_request{std::move(req), std::move(cb), 0, false};
    wake_.notify_all();
    return rid;
  }
  ++rejected_;
  deferred_.emplace_back([cb = std::move(cb), reject] { cb(reject); });  // never call back inside submit
  wake_.notify_all();
  return rid;
}

void scripted_service::cancel(const std::string& rid) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = live_.find(rid);
  if (it != live_.end()) it->second.cancel = true;
  wake_.notify_all();
}

void scripted_service::pause(bool paused) {
  std::lock_guard<std::mutex> lock(mutex_);
  paused_ = paused;
  wake_.notify_all();
}

int scripted_service::live() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return static_cast<int>(live_.size());
}

int scripted_service::pages_held() const {
  std::lock_guard<std::mutex> lock(mutex_);
  int pages = 0;
  for (const auto& [rid, r] : live_) pages += pages_for(r, opt_.page_size);
  return pages;
}

void scripted_service::run() {
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    wake_.wait_for(lock, opt_.token_interval, [&] { return stop_ || !deferred_.empty(); });
    if (stop_) return;
    // Collect this step's events under the lock, deliver them outside it (as actors do).
    std::vector<std::function<void()>> deferred;
    deferred.swap(deferred_);
    std::vector<std::pair<generation_callback, generation_event>> out;
    for (auto it = live_.begin(); it != live_.end();) {
      live_request& r = it->second;
      generation_event ev;
      ev.rid = it->first;
      ev.usage.prompt_tokens = static_cast<int>(r.req.prompt.size());
      if (r.cancel || (!paused_ && r.generated < r.req.max_tokens)) {
        if (!r.cancel) {
          ev.type = generation_event::kind::token;
          ev.token = token_at(r.req.prompt, r.generated++);
          out.emplace_back(r.cb, ev);
        }
        if (r.cancel || r.generated == r.req.max_tokens) {
          ev.type = generation_event::kind::finished;
          ev.token = -1;
          ev.finish_reason = r.cancel ? "cancelled" : "length";
          ev.usage.completion_tokens = r.generated;
          if (r.cancel)
            ++cancelled_;
          else
            ++finished_;
          out.emplace_back(std::move(r.cb), ev);
          it = live_.erase(it);
          continue;
        }
      }
      ++it;
    }
    delivering_ = true;
    lock.unlock();
    for (auto& fn : deferred) fn();
    for (auto& [cb, ev] : out) cb(ev);
    out.clear();  // drop callbacks (and what they hold) before reporting idle
    lock.lock();
    delivering_ = false;
    wake_.notify_all();
  }
}

void scripted_service::inspect(const std::string& what, std::function<void(std::string json)> cb) {
  using nlohmann::json;
  json doc;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    int held = 0;
    json requests = json::array();
    for (const auto& [rid, r] : live_) {
      held += pages_for(r, opt_.page_size);
      requests.push_back({{"rid", rid},
                          {"phase", "decode"},
                          {"prompt_tokens", r.req.prompt.size()},
                          {"generated_tokens", r.generated},
                          {"max_tokens", r.req.max_tokens},
                          {"cached_tokens", 0},
                          {"pages_held", pages_for(r, opt_.page_size)}});
    }
    const json pages = {{"total", opt_.total_pages},
                        {"free", opt_.total_pages - held},
                        {"private", held},
                        {"cached_locked", 0},
                        {"cached_evictable", 0}};
    if (what == "metrics") {
      doc = {{"requests",
              {{"finished", finished_.load()},
               {"cancelled", cancelled_.load()},
               {"failed", 0},
               {"rejected", rejected_.load()}}},
             {"queue_depth", 0},
             {"running", live_.size()},
             {"prompt_tokens", 0},
             {"generated_tokens", 0},
             {"cache_queried_tokens", 0},
             {"cache_hit_tokens", 0},
             {"pages", pages},
             {"evictions", 0},
             {"preemptions", 0}};
    } else if (what == "requests") {
      doc = {{"requests", requests}};
    } else if (what.rfind("request:", 0) == 0) {
      doc = {{"error", {{"code", "NOT_FOUND"}, {"message", "no request " + what.substr(8)}}}};
      for (const auto& r : requests)
        if (r["rid"] == what.substr(8)) doc = r;
    } else if (what == "cache" || what.rfind("cache?", 0) == 0) {
      json leaf = {{"page", 3},   {"tokens", 16},     {"lock_count", 0},          {"hit_count", 1},
                   {"age_ms", 5}, {"pages_below", 1}, {"children", json::array()}};
      json mid = {{"page", 2},
                  {"tokens", 16},
                  {"lock_count", 0},
                  {"hit_count", 1},
                  {"age_ms", 5},
                  {"pages_below", 2},
                  {"children", json::array({leaf})}};
      // Like the engine, the service cuts the tree to the depth it is asked for.
      const auto at = what.find("depth=");
      const int depth = at == std::string::npos ? 8 : std::atoi(what.c_str() + at + 6);
      if (depth < 2) mid["children"] = json::array();
      json children = depth < 1 ? json::array() : json::array({mid, mid});
      doc = {{"page_size", opt_.page_size},
             {"pages", pages},
             {"invariants_ok", true},
             {"tree",
              {{"page", -1},
               {"tokens", 0},
               {"lock_count", 0},
               {"hit_count", 0},
               {"age_ms", 0},
               {"pages_below", 3},
               {"children", children},
               {"truncated", depth < 2}}}};
    } else if (what == "actors") {
      doc = {{"time_ms", 0},
             {"actors", json::array({{{"kind", "gateway"},
                                      {"id", "gateway"},
                                      {"state", "running"},
                                      {"messages_handled", submitted_.load()},
                                      {"mailbox_depth", 0},
                                      {"details", json::object()}}})}};
    } else {
      doc = {{"error", {{"code", "NOT_FOUND"}, {"message", "unknown snapshot " + what}}}};
    }
  }
  // Deliver from the worker thread, as an actor would.
  std::lock_guard<std::mutex> lock(mutex_);
  deferred_.emplace_back([cb = std::move(cb), text = doc.dump()] { cb(text); });
  wake_.notify_all();
}

void scripted_service::shutdown(std::chrono::milliseconds drain) {
  std::unique_lock<std::mutex> lock(mutex_);
  accepting_ = false;
  wake_.wait_for(lock, drain, [&] { return live_.empty(); });
  for (auto& [rid, r] : live_) r.cancel = true;
  wake_.notify_all();
  wake_.wait(lock, [&] { return live_.empty() && deferred_.empty() && !delivering_; });
}

}  // namespace kvactor::test
