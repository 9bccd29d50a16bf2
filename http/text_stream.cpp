#include "http/text_stream.hpp"

#include <algorithm>

#include "http/utf8.hpp"

namespace kvactor::http {

text_stream::text_stream(piece_decoder decode, int32_t last_prompt_token, std::vector<int32_t> control_tokens,
                         std::vector<std::string> stop)
    : decode_(std::move(decode)),
      prev_(last_prompt_token),
      control_(std::move(control_tokens)),
      stop_(std::move(stop)) {}

std::string text_stream::release(std::size_t n) {
  std::string out = pending_.substr(0, n);
  pending_.erase(0, n);
  sent_ += out;
  return out;
}

std::string text_stream::push(int32_t token) {
  if (stopped_) return {};
  ++tokens_;
  if (std::find(control_.begin(), control_.end(), token) == control_.end()) pending_ += decode_(prev_, token);
  prev_ = token;

  // Earliest stop occurrence. Held-back text guarantees any occurrence lies wholly
  // in pending_: a started stop string is never released.
  std::size_t first = std::string::npos;
  for (const auto& s : stop_) first = std::min(first, pending_.find(s));
  if (first != std::string::npos) {
    stopped_ = true;
    std::string out = release(first);
    pending_.clear();
    return out;
  }

  // Hold the longest suffix that is a proper prefix of some stop string.
  std::size_t hold = 0;
  for (const auto& s : stop_) {
    for (std::size_t k = std::min(s.size() - 1, pending_.size()); k > hold; --k) {
      if (pending_.compare(pending_.size() - k, k, s, 0, k) == 0) {
        hold = k;
        break;
      }
    }
  }
  const std::size_t complete = complete_utf8_prefix(pending_);
  return release(std::min(pending_.size() - hold, complete));
}

std::string text_stream::finish() {
  if (stopped_) return {};
  return release(pending_.size());
}

}  // namespace kvactor::http
