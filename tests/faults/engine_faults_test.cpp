// Faults inside the engine while twelve requests run together over HTTP on the real
// model: a request actor killed mid-decode, the device failing mid-step, page
// allocations failing. After each: the victims end properly with a prefix of their
// solo answer, every other answer equals its solo answer, free + cached == total
// with no lock held, and the server still answers.
#include <doctest/doctest.h>

#include <thread>

#include "actors/fault_hooks.hpp"
#include "tests/faults/scenario.hpp"

using namespace kvactor;
using namespace kvactor::test;

namespace {

void report(const std::vector<job>& jobs, const std::vector<outcome>& got, const std::vector<std::string>& solo) {
  for (std::size_t i = 0; i < jobs.size(); ++i)
    MESSAGE(jobs[i].rid << ": " << got[i].status << " " << got[i].ending << " '" << got[i].text << "' solo '" << solo[i]
                        << "'");
}

}  // namespace

TEST_CASE("a request actor killed mid-decode: it ends ABORTED, the others are untouched, every page comes back") {
  faulty_server s(stories_config(512, 8));
  const auto jobs = mixed_jobs(12, 24);
  const auto solo = solo_texts(s, jobs);
  struct kill_case {
    std::size_t victim;
    int after_tokens;
  };
  // A streamed and a non-streamed victim; killed at its first token and in mid-decode.
  for (const kill_case k : {kill_case{3, 1}, kill_case{2, 6}, kill_case{5, 12}}) {
    CAPTURE(k.victim);
    CAPTURE(k.after_tokens);
    fault_hooks::reset();
    fault_hooks::kill_request_at(jobs[k.victim].rid, k.after_tokens);
    const auto got = run_together(s, jobs);
    CHECK(fault_hooks::kills_done() == 1);
    CHECK(cut_short_by(got[k.victim], "ABORTED", solo[k.victim]));
    CHECK(got[k.victim].text.size() < solo[k.victim].size());
    int unchanged_count = 0;
    for (std::size_t i = 0; i < jobs.size(); ++i)
      if (i != k.victim) unchanged_count += unchanged(got[i], solo[i]);
    CHECK(unchanged_count == static_cast<int>(jobs.size()) - 1);
    if (unchanged_count != static_cast<int>(jobs.size()) - 1) report(jobs, got, solo);
    CHECK(check_quiet(s) == "");
    CHECK(check_still_serving(s, jobs[0], solo[0]) == "");
  }
  fault_hooks::reset();
}

TEST_CASE(
    "the device fails mid-step: its batch gets DEVICE_ERROR, waiting requests are untouched, the device restarts") {
  // max_batch 4: of twelve requests, the ones not in the failing step are queued or
  // in later steps and must come out exactly as alone.
  faulty_server s(stories_config(512, 4));
  const auto jobs = mixed_jobs(12, 24);
  const auto solo = solo_texts(s, jobs);
  for (int after : {0, 4, 15}) {
    CAPTURE(after);
    s.engine->fail_device_after(after);
    const auto got = run_together(s, jobs);
    int failed = 0, same = 0;
    for (std::size_t i = 0; i < jobs.size(); ++i) {
      if (unchanged(got[i], solo[i]))
        ++same;
      else if (cut_short_by(got[i], "DEVICE_ERROR", solo[i]))
        ++failed;
    }
    CHECK(failed >= 1);
    CHECK(failed <= 4);  // at most one batch
    CHECK(same >= 1);
    CHECK(failed + same == static_cast<int>(jobs.size()));
    if (failed + same != static_cast<int>(jobs.size())) report(jobs, got, solo);
    CHECK(check_quiet(s) == "");
    CHECK(check_still_serving(s, jobs[1], solo[1]) == "");
  }
}

TEST_CASE("page allocations fail as if the pool were exhausted: requests wait and retry, answers unchanged") {
  faulty_server s(stories_config(512, 8));
  const auto jobs = mixed_jobs(12, 24);
  const auto solo = solo_texts(s, jobs);
  for (int first : {0, 5, 20}) {
    CAPTURE(first);
    fault_hooks::reset();
    fault_hooks::fail_allocations(first, 4, fault_hooks::alloc_fault::no_capacity);
    const auto got = run_together(s, jobs);
    CHECK(fault_hooks::allocations_failed() == 4);
    int same = 0;
    for (std::size_t i = 0; i < jobs.size(); ++i) same += unchanged(got[i], solo[i]);
    CHECK(same == static_cast<int>(jobs.size()));
    if (same != static_cast<int>(jobs.size())) report(jobs, got, solo);
    CHECK(check_quiet(s) == "");
    CHECK(check_still_serving(s, jobs[2], solo[2]) == "");
  }
  fault_hooks::reset();
}

TEST_CASE("page allocations fail with an error: those requests end INTERNAL, the others are untouched") {
  faulty_server s(stories_config(512, 8));
  const auto jobs = mixed_jobs(12, 24);
  const auto solo = solo_texts(s, jobs);
  for (int first : {0, 7, 25}) {
    CAPTURE(first);
    fault_hooks::reset();
    fault_hooks::fail_allocations(first, 2, fault_hooks::alloc_fault::failure);
    const auto got = run_together(s, jobs);
    CHECK(fault_hooks::allocations_failed() == 2);
    int failed = 0, same = 0;
    for (std::size_t i = 0; i < jobs.size(); ++i) {
      if (unchanged(got[i], solo[i]))
        ++same;
      else if (cut_short_by(got[i], "INTERNAL", solo[i]))
        ++failed;
    }
    CHECK(failed >= 1);  // each failed allocation ends the request that asked
    CHECK(failed <= 2);
    CHECK(failed + same == static_cast<int>(jobs.size()));
    if (failed + same != static_cast<int>(jobs.size())) report(jobs, got, solo);
    CHECK(check_quiet(s) == "");
    CHECK(check_still_serving(s, jobs[3], solo[3]) == "");
  }
  fault_hooks::reset();
}
