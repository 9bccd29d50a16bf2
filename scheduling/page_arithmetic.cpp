#include "scheduling/page_arithmetic.hpp"

#include <algorithm>

namespace kvactor::scheduling {

int32_t pages_for(int32_t positions, int32_t page_size) {
  if (positions <= 0 || page_size <= 0) return 0;
  return static_cast<int32_t>((static_cast<int64_t>(positions) + page_size - 1) / page_size);
}

int32_t pages_to_allocate(int32_t positions, int32_t held, int32_t page_size) {
  return std::max<int32_t>(0, pages_for(positions, page_size) - held);
}

bool fits_cache(int32_t positions, int32_t num_pages, int32_t page_size) {
  return static_cast<int64_t>(positions) <= static_cast<int64_t>(num_pages) * page_size;
}

int32_t full_pages_written(int32_t kv_written, int32_t held, int32_t page_size) {
  if (page_size <= 0 || kv_written <= 0) return 0;
  return std::min<int32_t>(kv_written / page_size, held);
}

}  // namespace kvactor::scheduling
