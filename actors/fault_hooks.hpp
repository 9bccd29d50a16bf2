// Fault hooks for the fault-injection tests (tests/faults). Test builds only: the
// faults_tests binary compiles page_pool_actor.cpp and request_actor.cpp itself
// with KVACTOR_FAULT_HOOKS defined; kvactor_actors (and so `kvactor`) never defines
// it, so production code has neither the call sites nor these symbols. A ctest
// (faults.production_binary_has_no_hooks) checks the `kvactor` binary for them.
#pragma once

#ifndef KVACTOR_FAULT_HOOKS
#error "actors/fault_hooks.hpp is for test builds only (compile with KVACTOR_FAULT_HOOKS)"
#endif

#include <string>

namespace kvactor::fault_hooks {

enum class alloc_fault {
  none,
  no_capacity,  // as if the pool were exhausted: the request starves and is retried or requeued
  failure,      // an unexpected error from the pool: the request ends with INTERNAL
};

// Page pool: alloc requests are numbered from 0 since reset(); those numbered in
// [first, first + count) fail with `how`.
void fail_allocations(int first, int count, alloc_fault how);
// Called by the page-pool actor once per alloc request.
alloc_fault on_allocation();
int allocations_seen();
int allocations_failed();

// Request actor: the request with this rid is killed (exit_reason::kill, the same
// message an outside kill sends) right after it has produced `after_tokens` tokens.
void kill_request_at(const std::string& rid, int after_tokens);
// Called by the request actor after each token; true exactly once, when it must die.
bool kill_now(const std::string& rid, int generated);
int kills_done();

void reset();

}  // namespace kvactor::fault_hooks
