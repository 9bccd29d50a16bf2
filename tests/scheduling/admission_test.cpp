#include <doctest/doctest.h>

#include "scheduling/admission.hpp"

using namespace kvactor::scheduling;

namespace {

limits small_limits() {
  limits lim;
  lim.max_batch = 4;
  lim.page_size = 4;
  lim.max_wait_steps = 3;
  return lim;
}

tokens range_tokens(int32_t from, int32_t n) {
  tokens t;
  for (int32_t i = 0; i < n; ++i) t.push_back(from + i);
  return t;
}

}  // namespace

TEST_CASE("admission order: urgent by arrival, then longest cached prefix, then arrival") {
  auto lim = small_limits();
  tokens p = range_tokens(0, 8);
  std::vector<waiting_request> w = {
      {&p, 1, 0, 0, false},   // 0: plain, no cache
      {&p, 2, 0, 12, false},  // 1: longest cached prefix
      {&p, 3, 3, 0, false},   // 2: passed over max_wait_steps: urgent
      {&p, 4, 0, 12, false},  // 3: same hint as 1, later
      {&p, 5, 0, 0, true},    // 4: preempted: urgent
      {&p, 0, 0, 4, false},   // 5: earliest arrival, short hint
  };
  CHECK(order_waiting(w, lim) == std::vector<std::size_t>{2, 4, 1, 3, 5, 0});
  CHECK(is_urgent(w[2], lim));
  CHECK(is_urgent(w[4], lim));
  CHECK_FALSE(is_urgent(w[0], lim));
}

TEST_CASE("admission stops at max_batch, counting the running requests") {
  auto lim = small_limits();
  std::vector<tokens> prompts = {range_tokens(0, 5), range_tokens(100, 5), range_tokens(200, 5)};
  std::vector<waiting_request> w;
  for (uint64_t i = 0; i < 3; ++i) w.push_back({&prompts[i], i, 0, 0, false});
  CHECK(choose_admissions(w, 0, {}, lim) == std::vector<std::size_t>{0, 1, 2});
  CHECK(choose_admissions(w, 2, {}, lim) == std::vector<std::size_t>{0, 1});
  CHECK(choose_admissions(w, 4, {}, lim).empty());
  CHECK(choose_admissions(w, 5, {}, lim).empty());
}

TEST_CASE("a request sharing uncached full pages with a prefill waits; an urgent one does not") {
  auto lim = small_limits();
  tokens running_prompt = range_tokens(0, 12);  // 3 pages, 2 usable by a sharer
  tokens sharer = range_tokens(0, 10);          // shares 2 full pages
  tokens other = range_tokens(500, 10);
  std::vector<prefill_in_progress> prefills = {{&running_prompt, 0}};
  std::vector<waiting_request> w = {{&sharer, 1, 0, 0, false}, {&other, 2, 0, 0, false}};
  CHECK(choose_admissions(w, 1, prefills, lim) == std::vector<std::size_t>{1});
  // Once the prefill's pages are cached (matched), the sharer can go.
  prefills[0].cached_tokens = 8;
  CHECK(choose_admissions(w, 1, prefills, lim) == std::vector<std::size_t>{0, 1});
  // Urgent requests never wait for a shared prefix.
  prefills[0].cached_tokens = 0;
  w[0].priority = true;
  CHECK(choose_admissions(w, 1, prefills, lim) == std::vector<std::size_t>{0, 1});
}

TEST_CASE("a request admitted this round counts as a prefill for the ones after it") {
  auto lim = small_limits();
  tokens a = range_tokens(0, 9);
  tokens b = range_tokens(0, 9);  // same prompt as a: waits for a's pages
  std::vector<waiting_request> w = {{&a, 1, 0, 0, false}, {&b, 2, 0, 0, false}};
  CHECK(choose_admissions(w, 0, {}, lim) == std::vector<std::size_t>{0});
  // With b urgent it goes first and a waits for it.
  w[1].passed_over = lim.max_wait_steps;
  CHECK(choose_admissions(w, 0, {}, lim) == std::vector<std::size_t>{1});
}

TEST_CASE("common_full_pages never counts the first prompt's last token") {
  tokens a = range_tokens(0, 8);
  tokens b = range_tokens(0, 8);
  CHECK(common_full_pages(a, b, 4) == 1);  // 7 usable tokens: one full page
  tokens c = range_tokens(0, 9);
  CHECK(common_full_pages(c, b, 4) == 2);
  tokens d = {0, 1, 9, 9, 9};
  CHECK(common_full_pages(d, b, 2) == 1);
  CHECK(common_full_pages({}, b, 4) == 0);
  CHECK(common_full_pages(a, b, 0) == 0);
}

TEST_CASE("admission_rule::may_admit filters candidates (the tenant-fairness hook)") {
  auto lim = small_limits();
  std::vector<tokens> prompts = {range_tokens(0, 5), range_tokens(100, 5), range_tokens(200, 5)};
  std::vector<waiting_request> w;
  for (uint64_t i = 0; i < 3; ++i) w.push_back({&prompts[i], i, 0, 0, false});
  std::vector<int> tenant = {7, 7, 8};
  admission_rule one_per_tenant;
  one_per_tenant.may_admit = [&](std::size_t i, const std::vector<std::size_t>& chosen) {
    for (auto c : chosen)
      if (tenant[c] == tenant[i]) return false;
    return true;
  };
  CHECK(choose_admissions(w, 0, {}, lim, one_per_tenant) == std::vector<std::size_t>{0, 2});
}
