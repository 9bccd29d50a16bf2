#include "tests/device/engine_runs.hpp"

#include <algorithm>
#include <cstring>

namespace kvactor::testing {

std::vector<int32_t> page_range(int first, int count) {
  std::vector<int32_t> table(static_cast<std::size_t>(count));
  for (int i = 0; i < count; ++i) table[static_cast<std::size_t>(i)] = first + i;
  return table;
}

std::vector<float> prefill_logits(backend& b, const std::vector<int32_t>& prompt, const std::vector<int32_t>& table,
                                  int chunk, int start_pos) {
  const int n = static_cast<int>(prompt.size());
  const int size = chunk > 0 ? chunk : n - start_pos;
  std::vector<float> logits;
  for (int begin = start_pos; begin < n; begin += size) {
    sequence_step s;
    s.seq_id = 1;
    s.start_pos = begin;
    s.tokens.assign(prompt.begin() + begin, prompt.begin() + std::min(n, begin + size));
    s.block_table = table;
    s.return_logits = begin + size >= n;
    auto results = b.step({s});
    if (s.return_logits) logits = std::move(results[0].logits);
  }
  return logits;
}

std::vector<int32_t> greedy_generate(backend& b, const std::vector<int32_t>& prompt, int count,
                                     const std::vector<int32_t>& table, int chunk,
                                     std::vector<std::vector<float>>* all_logits) {
  std::vector<int32_t> tokens = prompt, out;
  std::vector<float> logits = prefill_logits(b, prompt, table, chunk);
  for (int i = 0; i < count; ++i) {
    if (all_logits) all_logits->push_back(logits);
    const auto best = static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
    out.push_back(best);
    tokens.push_back(best);
    if (i + 1 == count) break;
    sequence_step s;
    s.seq_id = 1;
    s.start_pos = static_cast<int32_t>(tokens.size()) - 1;
    s.tokens = {best};
    s.block_table = table;
    s.return_logits = true;
    logits = std::move(b.step({s})[0].logits);
  }
  return out;
}

std::vector<int32_t> make_prompt(int length, int vocab, uint64_t seed) {
  std::vector<int32_t> p{1};
  uint64_t x = seed;
  while (static_cast<int>(p.size()) < length) {
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    p.push_back(static_cast<int32_t>(3 + (x >> 33) % static_cast<uint64_t>(vocab - 3)));
  }
  return p;
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

}  // namespace kvactor::testing

namespace kvactor::testing {

std::vector<std::vector<std::vector<float>>> run_together(backend& b, const std::vector<scripted_sequence>& seqs,
                                                          uint64_t order_seed) {
  struct progress {
    std::vector<int32_t> tokens;
    int done = 0;  // positions whose K/V are written
    int generated = 0;
  };
  std::vector<progress> state(seqs.size());
  for (std::size_t i = 0; i < seqs.size(); ++i) state[i].tokens = seqs[i].prompt;
  std::vector<std::vector<std::vector<float>>> traces(seqs.size());
  uint64_t rng = order_seed * 0x9e3779b97f4a7c15ull + 1;
  for (int step = 0;; ++step) {
    std::vector<sequence_step> batch;
    std::vector<std::size_t> owner;
    bool pending = false;
    for (std::size_t i = 0; i < seqs.size(); ++i) {
      const scripted_sequence& s = seqs[i];
      progress& p = state[i];
      const int prompt_len = static_cast<int>(s.prompt.size());
      if (p.generated >= s.decode_tokens && p.done >= prompt_len) continue;
      pending = true;
      if (step < s.join_step) continue;
      sequence_step e;
      e.seq_id = i;
      e.start_pos = p.done;
      e.block_table = s.block_table;
      if (p.done < prompt_len) {
        const int size = s.chunk > 0 ? std::min(s.chunk, prompt_len - p.done) : prompt_len - p.done;
        e.tokens.assign(s.prompt.begin() + p.done, s.prompt.begin() + p.done + size);
        e.return_logits = p.done + size == prompt_len;
      } else {
        e.tokens = {p.tokens.back()};
        e.return_logits = true;
      }
      batch.push_back(std::move(e));
      owner.push_back(i);
    }
    if (!pending) break;
    if (batch.empty()) continue;
    for (std::size_t i = batch.size(); i > 1; --i) {  // Fisher-Yates with a tiny LCG
      rng = rng * 6364136223846793005ull + 1442695040888963407ull;
      const std::size_t j = static_cast<std::size_t>((rng >> 33) % i);
      std::swap(batch[i - 1], batch[j]);
      std::swap(owner[i - 1], owner[j]);
    }
    std::vector<sequence_result> results = b.step(batch);
    for (std::size_t k = 0; k < batch.size(); ++k) {
      progress& p = state[owner[k]];
      p.done += static_cast<int>(batch[k].tokens.size());
      if (!batch[k].return_logits) continue;
      const std::vector<float>& logits = results[k].logits;
      traces[owner[k]].push_back(logits);
      if (p.generated < seqs[owner[k]].decode_tokens) {
        p.tokens.push_back(static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin()));
        ++p.generated;
      }
    }
  }
  return traces;
}

}  // namespace kvactor::testing
