#include "actors/fault_hooks.hpp"

#include <mutex>

namespace kvactor::fault_hooks {
namespace {

// One plan for the whole test process; actors on any thread consult it.
struct plan {
  std::mutex mutex;
  int alloc_first = -1, alloc_count = 0;
  alloc_fault alloc_how = alloc_fault::none;
  int alloc_seen = 0, alloc_failed = 0;
  std::string kill_rid;
  int kill_after = -1;
  int kills = 0;
};

plan& the_plan() {
  static plan p;
  return p;
}

}  // namespace

void fail_allocations(int first, int count, alloc_fault how) {
  auto& p = the_plan();
  std::lock_guard<std::mutex> guard(p.mutex);
  p.alloc_first = first;
  p.alloc_count = count;
  p.alloc_how = how;
}

alloc_fault on_allocation() {
  auto& p = the_plan();
  std::lock_guard<std::mutex> guard(p.mutex);
  const int n = p.alloc_seen++;
  if (p.alloc_how == alloc_fault::none || n < p.alloc_first || n >= p.alloc_first + p.alloc_count)
    return alloc_fault::none;
  ++p.alloc_failed;
  return p.alloc_how;
}

int allocations_seen() {
  auto& p = the_plan();
  std::lock_guard<std::mutex> guard(p.mutex);
  return p.alloc_seen;
}

int allocations_failed() {
  auto& p = the_plan();
  std::lock_guard<std::mutex> guard(p.mutex);
  return p.alloc_failed;
}

void kill_request_at(const std::string& rid, int after_tokens) {
  auto& p = the_plan();
  std::lock_guard<std::mutex> guard(p.mutex);
  p.kill_rid = rid;
  p.kill_after = after_tokens;
}

bool kill_now(const std::string& rid, int generated) {
  auto& p = the_plan();
  std::lock_guard<std::mutex> guard(p.mutex);
  if (p.kill_after < 0 || generated != p.kill_after || rid != p.kill_rid) return false;
  p.kill_after = -1;  // once
  ++p.kills;
  return true;
}

int kills_done() {
  auto& p = the_plan();
  std::lock_guard<std::mutex> guard(p.mutex);
  return p.kills;
}

void reset() {
  auto& p = the_plan();
  std::lock_guard<std::mutex> guard(p.mutex);
  p.alloc_first = -1;
  p.alloc_count = 0;
  p.alloc_how = alloc_fault::none;
  p.alloc_seen = 0;
  p.alloc_failed = 0;
  p.kill_rid.clear();
  p.kill_after = -1;
  p.kills = 0;
}

}  // namespace kvactor::fault_hooks
