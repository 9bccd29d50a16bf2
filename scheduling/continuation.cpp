#include "scheduling/continuation.hpp"

#include <algorithm>

#include "scheduling/page_arithmetic.hpp"

namespace kvactor::scheduling {

bool can_continue(const finished_step& s, int32_t page_size, int32_t max_seq_len) {
  if (!s.sampled || s.processed <= 0 || page_size <= 0) return false;
  if (s.max_tokens > 0 && s.sample_index + 1 >= static_cast<uint64_t>(s.max_tokens)) return false;  // its last token
  const int32_t written = s.start_pos + s.processed;  // also the next input's position
  const int32_t tokens = written + 1;
  if (tokens >= max_seq_len) return false;                           // the request ends here
  if (written / page_size != s.start_pos / page_size) return false;  // a page filled: the request publishes it first
  const int32_t positions = std::min(tokens + 1, max_seq_len);
  return pages_to_allocate(positions, s.pages_held, page_size) == 0;
}

bool should_start_step(int32_t ready, int32_t processing, bool starving) {
  if (processing <= 0) return true;
  return !starving && ready >= processing;
}

}  // namespace kvactor::scheduling
