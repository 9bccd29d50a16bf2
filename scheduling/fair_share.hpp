#pragma once

// Fair share across tenants (issue 20): start-time fair queuing over admissions.
//
// Each tenant has a virtual time; admitting one of its requests advances it by
// 1 / weight. The fair order of the waiting queue takes, again and again, the head of
// the tenant with the smallest virtual time (a tenant that was idle starts at the
// clock: the start time of the last admission), so:
//   - a tenant that joins a queue held by others is ordered first at the next admission
//     round (behind preempted requests only, which keep going first);
//   - two backlogged tenants are admitted in the ratio of their weights, with at most
//     ceil(w_A / w_B) admissions of A between two admissions of B.
// Inside one tenant the base order (scheduling/admission.hpp) is kept. With one tenant
// waiting the fair order is the base order.

#include <cstddef>
#include <cstdint>
#include <unordered_map>
#include <vector>

#include "scheduling/admission.hpp"

namespace kvactor::scheduling {

class fair_share {
 public:
  // Indices of `waiting` in fair admission order (see above); `lim` gives the base order.
  std::vector<std::size_t> order(const std::vector<waiting_request>& waiting, const limits& lim) const;

  // One request of `tenant` (weight >= 1) was admitted.
  void admitted(uint32_t tenant, int32_t weight);

  // The tenant's virtual time as the fair order sees it now.
  double virtual_time(uint32_t tenant) const;

 private:
  std::unordered_map<uint32_t, double> vtime_;
  double clock_ = 0;  // start time of the last admission
};

}  // namespace kvactor::scheduling
