#include "scheduling/admission.hpp"

#include <algorithm>
#include <numeric>

#include "scheduling/fair_share.hpp"

namespace kvactor::scheduling {

bool is_urgent(const waiting_request& w, const limits& lim) {
  return w.priority || w.passed_over >= lim.max_wait_steps;
}

bool admission_before(const waiting_request& a, const waiting_request& b, const limits& lim) {
  bool ua = is_urgent(a, lim);
  bool ub = is_urgent(b, lim);
  if (ua != ub) return ua;
  if (ua) return a.arrival < b.arrival;
  if (a.cached_hint != b.cached_hint) return a.cached_hint > b.cached_hint;
  return a.arrival < b.arrival;
}

std::vector<std::size_t> order_waiting(const std::vector<waiting_request>& waiting, const limits& lim) {
  std::vector<std::size_t> order(waiting.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t x, std::size_t y) { return admission_before(waiting[x], waiting[y], lim); });
  return order;
}

int32_t common_full_pages(const tokens& a, const tokens& b, int32_t page_size) {
  if (page_size <= 0) return 0;
  std::size_t n = std::min(a.size(), b.size());
  std::size_t i = 0;
  while (i < n && a[i] == b[i]) ++i;
  auto usable = std::min<std::size_t>(i, a.empty() ? 0 : a.size() - 1);
  return static_cast<int32_t>(usable / static_cast<std::size_t>(page_size));
}

bool shares_uncached_prefix(const tokens& w, const std::vector<prefill_in_progress>& prefills, int32_t page_size,
                            uint64_t ns) {
  for (auto& p : prefills) {
    if (p.ns != ns) continue;
    auto cached_pages = page_size > 0 ? p.cached_tokens / page_size : 0;
    if (common_full_pages(w, *p.prompt, page_size) > cached_pages) return true;
  }
  return false;
}

std::vector<std::size_t> choose_admissions(const std::vector<waiting_request>& waiting, std::size_t running,
                                           std::vector<prefill_in_progress> prefills, const limits& lim,
                                           const admission_rule& rule) {
  std::vector<std::size_t> chosen;
  auto max_batch = static_cast<std::size_t>(std::max<int32_t>(lim.max_batch, 0));
  if (running >= max_batch) return chosen;
  const auto order = rule.fairness ? rule.fairness->order(waiting, lim) : order_waiting(waiting, lim);
  for (auto i : order) {
    if (running + chosen.size() >= max_batch) break;
    auto& w = waiting[i];
    if (!is_urgent(w, lim) && shares_uncached_prefix(*w.prompt, prefills, lim.page_size, w.ns)) continue;
    if (rule.may_admit && !rule.may_admit(i, chosen)) continue;
    chosen.push_back(i);
    // Later candidates see it as a prefill in progress (nothing of it matched yet but
    // the hint).
    prefills.push_back({w.prompt, w.cached_hint, w.ns});
  }
  return chosen;
}

}  // namespace kvactor::scheduling
