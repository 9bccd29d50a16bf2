#pragma once

// Admission: which waiting requests join the running set, and in which order.
//
// Order (SGLang-like): urgent requests first (preempted ones, and ones passed over
// max_wait_steps admission rounds), by arrival; then the longest cached prefix (the
// trie's hint, SGLang's LPM); then arrival. A non-urgent request that shares full pages
// not yet cached with a prefill in progress waits, so it matches those pages once they
// are published instead of computing them again.
//
// Extension point (issue 20, tenant fairness): `admission_rule::may_admit` is asked for
// each candidate in order, after the built-in checks, with the candidates already chosen
// this round; a fairness rule caps or skips a tenant there, and can add an ordering key
// by re-ranking in `order_waiting`'s comparator (`admission_before`).

#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

#include "scheduling/limits.hpp"

namespace kvactor::scheduling {

using tokens = std::vector<int32_t>;

// A waiting request as admission sees it.
struct waiting_request {
  const tokens* prompt = nullptr;  // prompt (with generated tokens after a preemption)
  uint64_t arrival = 0;            // arrival order
  int32_t passed_over = 0;         // admission rounds that admitted others but not this one
  int32_t cached_hint = 0;         // cached prefix length (tokens) from the last trie peek
  bool priority = false;           // preempted: goes first
  uint64_t ns = 0;                 // trie namespace: prefixes are shared only within one
  uint32_t tenant = 0;             // fair share (scheduling/fair_share.hpp)
  int32_t weight = 1;              // the tenant's weight, >= 1
};

// A running request in prefill (not decoding yet): its prompt and how many of its leading
// tokens are cached (matched from the trie, or the hint while it has not started).
struct prefill_in_progress {
  const tokens* prompt = nullptr;
  int32_t cached_tokens = 0;
  uint64_t ns = 0;  // a prefill in another namespace publishes nothing this one can match
};

class fair_share;

struct admission_rule {
  // Optional extra filter: candidate index into `waiting`, candidates chosen so far.
  std::function<bool(std::size_t candidate, const std::vector<std::size_t>& chosen)> may_admit;
  // Optional: candidates in this fair order across tenants instead of order_waiting's.
  const fair_share* fairness = nullptr;
};

bool is_urgent(const waiting_request& w, const limits& lim);

// Strict weak order of admission: true if a goes before b.
bool admission_before(const waiting_request& a, const waiting_request& b, const limits& lim);

// Indices of `waiting` in admission order (stable: ties keep queue order).
std::vector<std::size_t> order_waiting(const std::vector<waiting_request>& waiting, const limits& lim);

// Full pages (page_size tokens) the two prompts share, never counting a's last token
// (the trie never matches a prompt's last token).
int32_t common_full_pages(const tokens& a, const tokens& b, int32_t page_size);

// True if w shares more full pages with one of the prefills than that prefill has cached.
// Only prefills in namespace `ns` count.
bool shares_uncached_prefix(const tokens& w, const std::vector<prefill_in_progress>& prefills, int32_t page_size,
                            uint64_t ns = 0);

// The requests to admit now, as indices into `waiting` in admission order. `running` is
// how many run already; `prefills` the running requests still in prefill. Admission stops
// at max_batch. Each admitted request counts as a prefill for the candidates after it.
std::vector<std::size_t> choose_admissions(const std::vector<waiting_request>& waiting, std::size_t running,
                                           std::vector<prefill_in_progress> prefills, const limits& lim,
                                           const admission_rule& rule = {});

}  // namespace kvactor::scheduling
