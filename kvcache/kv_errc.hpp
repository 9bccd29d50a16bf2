#pragma once
// Error codes and the invariant exception shared by the kvcache data structures.
//
// "No capacity" and misuse by a caller (double release, unknown handle, ...) are
// ordinary return values: the structure rejects the whole call and stays unchanged.
// invariant_error is thrown only by check_invariants() when the structure itself
// is broken, which is a bug in this library, never a caller's mistake.

#include <cstdint>
#include <stdexcept>
#include <string>

namespace kvactor {

/// A physical KV page id: an index into the device's page-major KV memory.
using page_id = int32_t;

/// Result of every mutating kvcache call. On anything but `ok` the call changed nothing.
enum class kv_errc : uint8_t {
  ok = 0,
  no_capacity,          ///< page_pool::allocate: fewer free pages than requested
  double_release,       ///< page_pool::release: a page that is already free
  unknown_page,         ///< a page id out of range (negative or >= total)
  repeated_page,        ///< the same page id twice in one call
  unknown_handle,       ///< prefix_trie: handle 0, never issued, or already unlocked
  invalid_argument,     ///< negative count, tokens/pages that do not fit, and similar
  page_already_cached,  ///< prefix_trie::publish: a page id that another trie node already holds
  handle_mismatch,      ///< prefix_trie::publish: the handle's path is not a prefix of the tokens
  page_in_use,          ///< page_ownership::release: the page is cached in the trie, not private
  not_owner,            ///< page_ownership: the page is another owner's (or being published)
  not_cached,           ///< page_ownership::release_evicted: the page is not cached
};

/// Stable lowercase name of an error code ("no_capacity", ...), for logs and JSON.
const char* to_string(kv_errc code) noexcept;

/// Thrown by check_invariants() when a recount from scratch disagrees with the
/// incrementally kept state. The message names the first broken invariant.
class invariant_error : public std::logic_error {
 public:
  explicit invariant_error(const std::string& what) : std::logic_error(what) {}
};

}  // namespace kvactor
