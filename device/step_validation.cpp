#include "device/step_validation.hpp"

#include <algorithm>
#include <cmath>
#include <string>

namespace kvactor {

namespace {

[[noreturn]] void fail(std::size_t index, const sequence_step& s, const std::string& problem) {
  throw backend_error("step: batch entry " + std::to_string(index) + " (seq_id " + std::to_string(s.seq_id) +
                      "): " + problem);
}

void validate_sampling(std::size_t index, const sequence_step& s) {
  const sampling_params& p = s.sampling;
  if (!std::isfinite(p.temperature) || p.temperature < 0.0f)
    fail(index, s, "temperature must be a finite number >= 0, got " + std::to_string(p.temperature));
  if (p.top_k < 0) fail(index, s, "top_k must be >= 0, got " + std::to_string(p.top_k));
  if (!(p.top_p > 0.0f && p.top_p <= 1.0f)) fail(index, s, "top_p must be in (0, 1], got " + std::to_string(p.top_p));
  if (!(p.min_p >= 0.0f && p.min_p <= 1.0f)) fail(index, s, "min_p must be in [0, 1], got " + std::to_string(p.min_p));
  if (!(p.repetition_penalty > 0.0f) || !std::isfinite(p.repetition_penalty))
    fail(index, s, "repetition_penalty must be a finite number > 0, got " + std::to_string(p.repetition_penalty));
  if (!std::isfinite(p.presence_penalty) || !std::isfinite(p.frequency_penalty))
    fail(index, s, "presence_penalty and frequency_penalty must be finite");
  if (p.bias_ids.size() != p.bias_values.size()) fail(index, s, "logit bias ids and values differ in number");
}

// A mask covers the vocabulary exactly and allows at least one token of it.
void validate_mask(std::size_t index, const sequence_step& s, int vocab) {
  const std::size_t words = (static_cast<std::size_t>(vocab) + 63) / 64;
  if (s.allowed_tokens.size() != words)
    fail(index, s,
         "allowed_tokens has " + std::to_string(s.allowed_tokens.size()) + " words, the vocabulary of " +
             std::to_string(vocab) + " needs " + std::to_string(words));
  for (int id = 0; id < vocab; ++id)
    if (s.allowed_tokens[static_cast<std::size_t>(id) / 64] >> (id % 64) & 1) return;
  fail(index, s, "allowed_tokens allows no token");
}

// One entry per token, each a vocabulary id or -1 (not scored).
void validate_scores(std::size_t index, const sequence_step& s, int vocab) {
  if (s.score_next.size() != s.tokens.size())
    fail(index, s,
         "score_next has " + std::to_string(s.score_next.size()) + " entries for " + std::to_string(s.tokens.size()) +
             " tokens");
  for (std::size_t t = 0; t < s.score_next.size(); ++t)
    if (s.score_next[t] < -1 || s.score_next[t] >= vocab)
      fail(index, s,
           "score_next " + std::to_string(s.score_next[t]) + " at index " + std::to_string(t) +
               " is neither -1 nor in the vocabulary [0, " + std::to_string(vocab) + ")");
}

}  // namespace

void validate_layout(const kv_layout& layout) {
  if (layout.page_size <= 0 || layout.num_pages <= 0)
    throw backend_error("kv layout needs page_size > 0 and num_pages > 0, got page_size " +
                        std::to_string(layout.page_size) + ", num_pages " + std::to_string(layout.num_pages));
}

void validate_step(const std::vector<sequence_step>& batch, const model_config& config, const kv_layout& layout) {
  std::vector<int64_t> written_slots;  // page * page_size + slot, for every token of the step
  for (std::size_t i = 0; i < batch.size(); ++i) {
    const sequence_step& s = batch[i];
    if (s.tokens.empty()) fail(i, s, "no tokens to process");
    for (std::size_t t = 0; t < s.tokens.size(); ++t)
      if (s.tokens[t] < 0 || s.tokens[t] >= config.vocab_size)
        fail(i, s,
             "token " + std::to_string(s.tokens[t]) + " at index " + std::to_string(t) +
                 " is outside the vocabulary [0, " + std::to_string(config.vocab_size) + ")");
    if (s.start_pos < 0) fail(i, s, "start_pos " + std::to_string(s.start_pos) + " is negative");
    const int64_t end = static_cast<int64_t>(s.start_pos) + static_cast<int64_t>(s.tokens.size());
    if (end > config.max_seq_len)
      fail(i, s,
           "positions up to " + std::to_string(end - 1) + " exceed the model's context of " +
               std::to_string(config.max_seq_len) + " tokens");
    const int64_t pages_needed = (end + layout.page_size - 1) / layout.page_size;
    if (static_cast<int64_t>(s.block_table.size()) < pages_needed)
      fail(i, s,
           "block table has " + std::to_string(s.block_table.size()) + " pages, positions [0, " + std::to_string(end) +
               ") need " + std::to_string(pages_needed));
    for (std::size_t p = 0; p < s.block_table.size(); ++p)
      if (s.block_table[p] < 0 || s.block_table[p] >= layout.num_pages)
        fail(i, s,
             "block table entry " + std::to_string(p) + " is page " + std::to_string(s.block_table[p]) +
                 ", outside the store's " + std::to_string(layout.num_pages) + " pages");
    if (s.sample) validate_sampling(i, s);
    if (!s.score_next.empty()) validate_scores(i, s, config.vocab_size);
    if (s.sample && s.constrained()) validate_mask(i, s, config.vocab_size);
    for (int64_t pos = s.start_pos; pos < end; ++pos)
      written_slots.push_back(static_cast<int64_t>(s.block_table[static_cast<std::size_t>(pos / layout.page_size)]) *
                                  layout.page_size +
                              pos % layout.page_size);
  }
  std::sort(written_slots.begin(), written_slots.end());
  const auto dup = std::adjacent_find(written_slots.begin(), written_slots.end());
  if (dup != written_slots.end())
    throw backend_error("step: two tokens in one step write the same KV slot (page " +
                        std::to_string(*dup / layout.page_size) + ", slot " + std::to_string(*dup % layout.page_size) +
                        ")");
}

}  // namespace kvactor
