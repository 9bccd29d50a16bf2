#include "scheduling/fair_share.hpp"

#include <algorithm>
#include <deque>
#include <map>

namespace kvactor::scheduling {
namespace {

double step_of(int32_t weight) { return 1.0 / static_cast<double>(std::max<int32_t>(weight, 1)); }

}  // namespace

double fair_share::virtual_time(uint32_t tenant) const {
  auto it = vtime_.find(tenant);
  return std::max(it == vtime_.end() ? 0.0 : it->second, clock_);
}

void fair_share::admitted(uint32_t tenant, int32_t weight) {
  const double start = virtual_time(tenant);
  clock_ = start;
  vtime_[tenant] = start + step_of(weight);
}

std::vector<std::size_t> fair_share::order(const std::vector<waiting_request>& waiting, const limits& lim) const {
  auto base = order_waiting(waiting, lim);
  const bool one_tenant = std::all_of(waiting.begin(), waiting.end(),
                                      [&](const waiting_request& w) { return w.tenant == waiting.front().tenant; });
  if (one_tenant) return base;
  std::vector<std::size_t> out;
  out.reserve(base.size());
  // Preempted requests were running already: they keep going first.
  std::map<uint32_t, std::deque<std::size_t>> queues;
  for (auto i : base) {
    if (waiting[i].priority)
      out.push_back(i);
    else
      queues[waiting[i].tenant].push_back(i);
  }
  std::map<uint32_t, double> v;
  for (auto& [tenant, q] : queues) v[tenant] = virtual_time(tenant);
  std::map<std::size_t, std::size_t> rank;  // base position of each index, for ties
  for (std::size_t p = 0; p < base.size(); ++p) rank[base[p]] = p;
  while (!queues.empty()) {
    auto best = queues.begin();
    for (auto it = queues.begin(); it != queues.end(); ++it) {
      const double a = v[it->first], b = v[best->first];
      if (a < b || (a == b && rank[it->second.front()] < rank[best->second.front()])) best = it;
    }
    const auto i = best->second.front();
    out.push_back(i);
    v[best->first] += step_of(waiting[i].weight);
    best->second.pop_front();
    if (best->second.empty()) queues.erase(best);
  }
  return out;
}

}  // namespace kvactor::scheduling
