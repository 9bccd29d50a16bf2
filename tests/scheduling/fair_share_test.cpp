#include <doctest/doctest.h>

#include <algorithm>

#include "scheduling/admission.hpp"
#include "scheduling/fair_share.hpp"

using namespace kvactor::scheduling;

namespace {

limits one_slot() {
  limits lim;
  lim.max_batch = 1;
  lim.page_size = 4;
  lim.max_wait_steps = 8;
  return lim;
}

waiting_request of(const tokens* p, uint64_t arrival, uint32_t tenant, int32_t weight = 1) {
  waiting_request w;
  w.prompt = p;
  w.arrival = arrival;
  w.tenant = tenant;
  w.ns = uint64_t{tenant} << 32;
  w.weight = weight;
  return w;
}

// Runs admission rounds of one slot each (one request leaves per round) until `target`
// (an arrival number) is admitted; returns how many admissions happened up to and
// including it, or -1.
int admissions_until(std::vector<waiting_request> waiting, uint64_t target, fair_share& fair, const limits& lim) {
  for (int round = 1; !waiting.empty(); ++round) {
    admission_rule rule;
    rule.fairness = &fair;
    auto chosen = choose_admissions(waiting, 0, {}, lim, rule);
    REQUIRE(chosen.size() == 1);
    auto& w = waiting[chosen[0]];
    fair.admitted(w.tenant, w.weight);
    if (w.arrival == target) return round;
    waiting.erase(waiting.begin() + static_cast<std::ptrdiff_t>(chosen[0]));
    for (auto& rest : waiting) ++rest.passed_over;
  }
  return -1;
}

}  // namespace

TEST_CASE("fair share: one tenant keeps the base order") {
  auto lim = one_slot();
  tokens p = {1, 2, 3, 4, 5, 6, 7, 8, 9};
  std::vector<waiting_request> w = {of(&p, 1, 0), of(&p, 2, 0), of(&p, 3, 0)};
  w[2].cached_hint = 8;  // longest cached prefix goes first, as in order_waiting
  fair_share fair;
  CHECK(fair.order(w, lim) == order_waiting(w, lim));
}

TEST_CASE("fair share: B's one request, queued behind 200 of A's, is admitted at the next round") {
  auto lim = one_slot();
  tokens p = {1, 2, 3, 4, 5, 6, 7, 8, 9};
  std::vector<waiting_request> w;
  for (uint64_t i = 1; i <= 200; ++i) w.push_back(of(&p, i, 1));
  fair_share fair;
  // A has been served a while (its requests got urgent by waiting) before B arrives.
  for (int i = 0; i < 10; ++i) fair.admitted(1, 1);
  for (auto& a : w) a.passed_over = 20;
  w.push_back(of(&p, 201, 2));
  CHECK(admissions_until(w, 201, fair, lim) == 1);
  // Without the fair order B would wait for every urgent request of A.
  CHECK(order_waiting(w, lim).back() == 200);
}

TEST_CASE("fair share: two backlogged tenants alternate by weight") {
  auto lim = one_slot();
  tokens p = {1, 2, 3, 4, 5};
  std::vector<waiting_request> w;
  for (uint64_t i = 1; i <= 30; ++i) w.push_back(of(&p, i, 1, 3));   // A, weight 3
  for (uint64_t i = 31; i <= 40; ++i) w.push_back(of(&p, i, 2, 1));  // B, weight 1
  fair_share fair;
  auto order = fair.order(w, lim);
  REQUIRE(order.size() == 40);
  // The first 20 admissions: 15 of A and 5 of B, never more than 3 of A between two of B.
  int a = 0, b = 0, run_of_a = 0, longest = 0;
  for (std::size_t k = 0; k < 20; ++k) {
    if (w[order[k]].tenant == 1) {
      ++a;
      longest = std::max(longest, ++run_of_a);
    } else {
      ++b;
      run_of_a = 0;
    }
  }
  CHECK(a == 15);
  CHECK(b == 5);
  CHECK(longest <= 3);
  // Each tenant's own requests stay in arrival order.
  uint64_t last_a = 0;
  for (auto i : order)
    if (w[i].tenant == 1) {
      CHECK(w[i].arrival > last_a);
      last_a = w[i].arrival;
    }
}

TEST_CASE("fair share: preempted requests still go first") {
  auto lim = one_slot();
  tokens p = {1, 2, 3, 4, 5};
  std::vector<waiting_request> w = {of(&p, 1, 1), of(&p, 2, 2), of(&p, 3, 1)};
  w[2].priority = true;
  fair_share fair;
  CHECK(fair.order(w, lim).front() == 2);
}

TEST_CASE("fair share: an idle tenant does not bank credit") {
  fair_share fair;
  for (int i = 0; i < 50; ++i) fair.admitted(1, 1);
  // Tenant 2 was idle all along: it starts at the clock, not 50 admissions behind.
  CHECK(fair.virtual_time(2) == doctest::Approx(fair.virtual_time(1) - 1.0));
}

TEST_CASE("admission: a prefill in another namespace never defers a request") {
  auto lim = one_slot();
  lim.max_batch = 4;
  tokens p = {1, 2, 3, 4, 5, 6, 7, 8, 9};
  std::vector<waiting_request> w = {of(&p, 1, 2)};
  std::vector<prefill_in_progress> other = {{&p, 0, uint64_t{1} << 32}};
  CHECK(choose_admissions(w, 1, other, lim).size() == 1);
  std::vector<prefill_in_progress> same = {{&p, 0, uint64_t{2} << 32}};
  CHECK(choose_admissions(w, 1, same, lim).empty());
}
