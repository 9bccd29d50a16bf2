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

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

}  // namespace kvactor::testing
