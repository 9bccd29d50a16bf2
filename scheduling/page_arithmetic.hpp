#pragma once

// A request's page arithmetic: pages covering a number of KV positions, pages still to
// allocate, whether a request can fit the cache at all, and the full pages it can publish.

#include <cstdint>

namespace kvactor::scheduling {

// Pages that cover `positions` KV positions (ceil(positions / page_size)).
int32_t pages_for(int32_t positions, int32_t page_size);

// Pages to allocate so that `held` pages cover `positions` (0 if they do already).
int32_t pages_to_allocate(int32_t positions, int32_t held, int32_t page_size);

// Whether `positions` KV positions fit a cache of num_pages pages even alone.
bool fits_cache(int32_t positions, int32_t num_pages, int32_t page_size);

// Leading full pages with K/V written: min(kv_written / page_size, held).
int32_t full_pages_written(int32_t kv_written, int32_t held, int32_t page_size);

}  // namespace kvactor::scheduling
