#include "actors_test_support.hpp"

#include <algorithm>
#include <stdexcept>

#include "device/cpu_backend.hpp"

namespace kvactor::actors_test {

const loaded_model& stories260k() {
  static const loaded_model m =
      load_model(std::string(KVACTOR_MODELS_DIR) + "/stories260K.bin", std::string(KVACTOR_MODELS_DIR) + "/tok512.bin");
  return m;
}

std::vector<int32_t> reference_generate(const loaded_model& m, const std::vector<int32_t>& prompt, int max_tokens,
                                        const sampling_params& sampling, bool stop_at_eos,
                                        std::vector<sequence_result>* results, const std::vector<int32_t>& stop_ids) {
  const int ps = 16;
  const int max_seq = m.weights->config.max_seq_len;
  auto be = make_cpu_backend(m.weights, kv_layout{ps, (max_seq + ps - 1) / ps}, 1);
  std::vector<int32_t> block_table;
  for (int p = 0; p < (max_seq + ps - 1) / ps; ++p) block_table.push_back(p);
  std::vector<int32_t> tokens = prompt, out;
  int32_t written = 0;
  while (static_cast<int>(out.size()) < max_tokens && static_cast<int>(tokens.size()) < max_seq) {
    sequence_step s;
    s.seq_id = 1;
    s.tokens.assign(tokens.begin() + written, tokens.end());
    s.start_pos = written;
    s.block_table = block_table;
    s.sample = true;
    s.sampling = sampling;
    s.sample_index = out.size();
    if (sampling.penalized()) {
      s.history = tokens;
      s.history_prompt_len = static_cast<int32_t>(prompt.size());
    }
    auto r = be->step({s});
    written = static_cast<int32_t>(tokens.size());
    auto t = r.at(0).token;
    if (stop_at_eos && (t == m.tok->eos_id() || t == m.tok->bos_id())) break;
    if (std::find(stop_ids.begin(), stop_ids.end(), t) != stop_ids.end()) break;
    if (results) results->push_back(r.at(0));
    tokens.push_back(t);
    out.push_back(t);
  }
  return out;
}

engine_config small_engine_config(int num_pages, int page_size) {
  engine_config cfg;
  cfg.page_size = page_size;
  cfg.num_pages = num_pages;
  cfg.max_batch = 64;
  cfg.max_tokens_per_step = 512;
  cfg.prefill_chunk = 64;
  cfg.queue_limit = 1024;
  cfg.max_wait_steps = 16;
  cfg.device_threads = 1;
  return cfg;
}

std::unique_ptr<engine_host> stories_engine(const engine_config& cfg) {
  auto& m = stories260k();
  std::shared_ptr<backend> be =
      make_cpu_backend(m.weights, kv_layout{cfg.page_size, cfg.num_pages}, cfg.device_threads);
  return std::make_unique<engine_host>(cfg, m.weights->config, end_of_generation_ids(*m.tok), std::move(be), 2);
}

generation_callback event_log::callback() {
  return [this](const generation_event& ev) {
    std::lock_guard<std::mutex> guard(mutex_);
    auto& o = outcomes_[ev.rid];
    if (!ev.prompt_scores.empty()) {
      o.prompt_scores = ev.prompt_scores;
      ++o.events_with_scores;
    }
    if (ev.type == generation_event::kind::token) {
      o.tokens.push_back(ev.token);
      o.logprobs.push_back(ev.logprob);
      o.top_ids.push_back(ev.top_ids);
      return;
    }
    ++o.final_events;
    if (!o.ended) {
      o.ended = true;
      o.final_event = ev;
      ++ended_;
    }
    cv_.notify_all();
  };
}

bool event_log::wait(std::size_t n, std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mutex_);
  return cv_.wait_for(lock, timeout, [&] { return ended_ >= n; });
}

std::map<std::string, request_outcome> event_log::outcomes() {
  std::lock_guard<std::mutex> guard(mutex_);
  return outcomes_;
}

std::vector<std::vector<int32_t>> test_prompts(int count, bool shared) {
  static const char* stems[] = {"Once upon a time", "The little dog", "Lily and Ben went", "A big red ball",
                                "One day the sun",  "Tim had a toy",  "The cat was sad",   "Mom said no"};
  auto& tok = *stories260k().tok;
  const std::string prefix =
      "Once upon a time, there was a little girl named Lily. She loved to play outside in the park with her friends. ";
  std::vector<std::vector<int32_t>> out;
  for (int i = 0; i < count; ++i) {
    std::string text = std::string(stems[i % 8]) + (i >= 8 ? " and " + std::to_string(i) : "");
    out.push_back(tok.encode(shared ? prefix + text : text, true, false));
  }
  return out;
}

}  // namespace kvactor::actors_test
