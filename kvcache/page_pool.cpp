#include "kvcache/page_pool.hpp"

#include <string>

namespace kvactor {

namespace {
constexpr uint8_t page_free = 0;
constexpr uint8_t page_allocated = 1;
constexpr uint8_t page_releasing = 2;  // marked during release() to catch repeats
}  // namespace

page_pool::page_pool(int32_t num_pages) {
  if (num_pages < 0) throw std::invalid_argument("page_pool: negative number of pages " + std::to_string(num_pages));
  next_free_.resize(static_cast<size_t>(num_pages));
  allocated_.assign(static_cast<size_t>(num_pages), page_free);
  // Free list in ascending order so a fresh pool hands out 0, 1, 2, ...
  for (int32_t page = 0; page < num_pages; ++page) next_free_[page] = page + 1 < num_pages ? page + 1 : no_page;
  free_head_ = num_pages > 0 ? 0 : no_page;
  free_count_ = num_pages;
}

kv_errc page_pool::allocate(int32_t n, std::vector<page_id>& out) {
  if (n < 0) return kv_errc::invalid_argument;
  if (n > free_count_) return kv_errc::no_capacity;
  for (int32_t i = 0; i < n; ++i) {
    const page_id page = free_head_;
    free_head_ = next_free_[page];
    allocated_[page] = page_allocated;
    out.push_back(page);
  }
  free_count_ -= n;
  return kv_errc::ok;
}

kv_errc page_pool::release(const std::vector<page_id>& ids) {
  // Pass 1 validates and marks; on any error the marks are undone so nothing changes.
  const size_t count = ids.size();
  kv_errc error = kv_errc::ok;
  size_t marked = 0;
  for (; marked < count; ++marked) {
    const page_id page = ids[marked];
    if (page < 0 || page >= total()) {
      error = kv_errc::unknown_page;
      break;
    }
    if (allocated_[page] == page_free) {
      error = kv_errc::double_release;
      break;
    }
    if (allocated_[page] == page_releasing) {
      error = kv_errc::repeated_page;
      break;
    }
    allocated_[page] = page_releasing;
  }
  if (error != kv_errc::ok) {
    for (size_t i = 0; i < marked; ++i) allocated_[ids[i]] = page_allocated;
    return error;
  }
  for (const page_id page : ids) {
    allocated_[page] = page_free;
    next_free_[page] = free_head_;
    free_head_ = page;
  }
  free_count_ += static_cast<int32_t>(count);
  return kv_errc::ok;
}

bool page_pool::is_allocated(page_id page) const noexcept {
  return page >= 0 && page < total() && allocated_[page] != page_free;
}

std::vector<uint8_t> page_pool::allocation_map() const {
  std::vector<uint8_t> map(allocated_.size());
  for (size_t i = 0; i < allocated_.size(); ++i) map[i] = allocated_[i] != page_free ? 1 : 0;
  return map;
}

void page_pool::check_invariants() const {
  const int32_t n = total();
  if (free_count_ < 0 || free_count_ > n)
    throw invariant_error("page_pool: free_count " + std::to_string(free_count_) + " outside [0, " + std::to_string(n) +
                          "]");
  std::vector<uint8_t> seen(static_cast<size_t>(n), 0);
  int32_t walked = 0;
  for (page_id page = free_head_; page != no_page; page = next_free_[page]) {
    if (page < 0 || page >= n)
      throw invariant_error("page_pool: free list holds out-of-range id " + std::to_string(page));
    if (seen[page])
      throw invariant_error("page_pool: free list visits page " + std::to_string(page) + " twice (cycle)");
    if (allocated_[page] != page_free)
      throw invariant_error("page_pool: allocated page " + std::to_string(page) + " is on the free list");
    seen[page] = 1;
    if (++walked > n) throw invariant_error("page_pool: free list longer than the pool");
  }
  if (walked != free_count_)
    throw invariant_error("page_pool: free list has " + std::to_string(walked) + " pages, counter says " +
                          std::to_string(free_count_));
  int32_t flagged_free = 0;
  for (int32_t page = 0; page < n; ++page) {
    if (allocated_[page] == page_releasing)
      throw invariant_error("page_pool: page " + std::to_string(page) + " left in the releasing state");
    if (allocated_[page] == page_free) {
      ++flagged_free;
      if (!seen[page])
        throw invariant_error("page_pool: free page " + std::to_string(page) + " is not on the free list (leaked)");
    }
  }
  if (flagged_free != free_count_)
    throw invariant_error("page_pool: " + std::to_string(flagged_free) + " pages flagged free, counter says " +
                          std::to_string(free_count_));
}

}  // namespace kvactor
