// Property tests: seeded random operation sequences run against paged_cache (the
// test wrapper composing kvcache/page_ownership, which the page-pool actor wraps,
// with a prefix_trie) and the brute-force reference_cache side by side. Each
// simulated request is its own owner. After every step the two must agree on
// every answer and every page's state, and check_invariants() must pass. A failing
// seed is shrunk to the shortest failing operation sequence, which is printed.
//
// Operations are stored as (kind, a, b, c) with raw random numbers that are resolved
// against the state when they run ("request a % live"), so any subsequence of a
// failing sequence is itself a valid sequence: that is what makes shrinking work.

#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "tests/kvcache/paged_cache.hpp"
#include "tests/kvcache/reference_cache.hpp"

namespace kvactor {
namespace {

enum class op_kind : uint8_t {
  start,          // new request: match its prompt
  grow,           // allocate private pages for a request's block table
  publish,        // publish a request's full pages (maybe with its handle)
  finish,         // publish (maybe), unlock everything, release private pages, exit
  drop_lock,      // a request ends one of its holds early
  evict,          // evict a few pages
  bad_release,    // a release that must be rejected (double, cached, range, repeat, mixed)
  bad_publish,    // a publish that must be rejected (or is judged by the reference)
  bad_unlock,     // stale or invented handle
  over_allocate,  // more pages than exist
  count_
};
const char* kind_name(op_kind kind) {
  static const char* names[] = {"start", "grow",        "publish",     "finish",     "drop_lock",
                                "evict", "bad_release", "bad_publish", "bad_unlock", "over_allocate"};
  return names[static_cast<int>(kind)];
}

struct operation {
  op_kind kind;
  uint32_t a, b, c;
};

struct scenario {
  int32_t num_pages;
  int32_t page_size;
  int32_t alphabet;
  bool lfu;
};

scenario scenario_for(uint64_t seed) {
  std::mt19937_64 rng(seed * 0x9E3779B97F4A7C15ull + 1);
  scenario s;
  s.page_size = 1 + static_cast<int32_t>(rng() % 4);
  s.num_pages = 3 + static_cast<int32_t>(rng() % 30);
  s.alphabet = 2 + static_cast<int32_t>(rng() % 4);
  s.lfu = rng() % 2 == 1;
  return s;
}

std::vector<operation> operations_for(uint64_t seed, size_t length) {
  std::mt19937_64 rng(seed);
  std::vector<operation> ops;
  // Weights favour the ordinary request life cycle; misuse is a steady minority.
  static const int weights[] = {18, 16, 14, 10, 5, 6, 5, 5, 3, 2};
  std::discrete_distribution<int> pick(std::begin(weights), std::end(weights));
  for (size_t i = 0; i < length; ++i)
    ops.push_back(operation{static_cast<op_kind>(pick(rng)), static_cast<uint32_t>(rng()), static_cast<uint32_t>(rng()),
                            static_cast<uint32_t>(rng())});
  return ops;
}

std::string describe(const std::vector<operation>& ops) {
  std::ostringstream out;
  for (size_t i = 0; i < ops.size(); ++i)
    out << "  " << i << ": " << kind_name(ops[i].kind) << "(a=" << ops[i].a << ", b=" << ops[i].b << ", c=" << ops[i].c
        << ")\n";
  return out.str();
}

// One request of the simulated server: its prompt, block table and holds.
struct sim_request {
  owner_id owner = 0;
  uint64_t ns = 0;
  std::vector<int32_t> tokens;
  std::vector<page_id> block;     // page per token page, in order
  std::vector<bool> owned;        // block[i] is private to this request (not cached)
  std::vector<uint64_t> handles;  // live holds on the trie
};

class mismatch : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Printable forms of the values compared, for failure messages.
std::string show(kv_errc code) { return to_string(code); }
std::string show(bool value) { return value ? "true" : "false"; }
template <class T>
std::string show(const T& value) {
  if constexpr (std::is_arithmetic_v<T>) {
    return std::to_string(value);
  } else {
    std::string out = "[";
    for (const auto& item : value) out += (out.size() > 1 ? " " : "") + show(item);
    return out + "]";
  }
}

#define EXPECT_SAME(real, expected, what)                                                                  \
  do {                                                                                                     \
    const auto& real_value = (real);                                                                       \
    const auto& expected_value = (expected);                                                               \
    if (!(real_value == expected_value))                                                                   \
      throw mismatch(std::string("step disagrees with reference: ") + what + ": got " + show(real_value) + \
                     ", expected " + show(expected_value));                                                \
  } while (0)

// How often the interesting things happened, summed over all seeds: the test
// asserts each is non-zero so a generator that stops reaching them is noticed.
struct coverage {
  long match_hits = 0;
  long publish_inserts = 0;
  long publish_duplicates = 0;
  long handle_extensions = 0;
  long evictions = 0;
  long allocate_evictions = 0;
  long no_capacity = 0;
  long rejected_releases = 0;
  long rejected_publishes[16] = {};
  long rejected_unlocks = 0;
  long drops = 0;
};
coverage totals;

class simulation {
 public:
  explicit simulation(const scenario& s)
      : s_(s),
        cache_(s.num_pages, s.page_size, s.lfu ? make_eviction_policy("lfu") : make_eviction_policy("lru")),
        reference_(s.num_pages, s.page_size, s.lfu) {}

  void run(const operation& op) {
    if ((op.c & 3) != 0) ++now_;  // a quarter of the steps share a clock tick: exercises tie-breaks
    switch (op.kind) {
      case op_kind::start: start(op); break;
      case op_kind::grow: grow(op); break;
      case op_kind::publish: publish(pick(op.a), (op.b & 3) != 0); break;
      case op_kind::finish: finish(op); break;
      case op_kind::drop_lock: drop_lock(op); break;
      case op_kind::evict: evict(op); break;
      case op_kind::bad_release: bad_release(op); break;
      case op_kind::bad_publish: bad_publish(op); break;
      case op_kind::bad_unlock: bad_unlock(op); break;
      case op_kind::over_allocate: over_allocate(); break;
      case op_kind::count_: break;
    }
    compare_state();
  }

 private:
  sim_request* pick(uint32_t a) { return requests_.empty() ? nullptr : &requests_[a % requests_.size()]; }

  std::vector<int32_t> prompt(uint32_t b) const {
    // A few shared "system prompts" plus a random tail, over a tiny alphabet so
    // pages collide often (sharing, duplicates, wide fan-out at the root).
    std::mt19937 rng(b);
    const int32_t family = static_cast<int32_t>(b % 4);
    std::vector<int32_t> tokens;
    const int32_t shared = family * 2 + static_cast<int32_t>(rng() % 3);
    for (int32_t i = 0; i < shared; ++i) tokens.push_back((family * 7 + i * 3) % s_.alphabet);
    const int32_t tail = static_cast<int32_t>(rng() % 10);
    for (int32_t i = 0; i < tail; ++i)
      tokens.push_back(static_cast<int32_t>(rng() % static_cast<uint32_t>(s_.alphabet)));
    return tokens;
  }

  int32_t pages_needed(const sim_request& r) const {
    return static_cast<int32_t>((r.tokens.size() + static_cast<size_t>(s_.page_size) - 1) /
                                static_cast<size_t>(s_.page_size));
  }

  void start(const operation& op) {
    if (requests_.size() >= 6) return;
    sim_request r;
    r.owner = next_owner_++;
    r.ns = 1 + op.a % 2;
    r.tokens = prompt(op.b);
    const int32_t peeked = cache_.trie().cached_prefix_pages(r.ns, r.tokens);
    const match_result real = cache_.match(r.ns, r.tokens, now_);
    EXPECT_SAME(peeked, static_cast<int32_t>(real.pages.size()), "read-only match");
    const auto expected = reference_.match(r.ns, r.tokens, now_);
    EXPECT_SAME(real.pages, expected.pages, "match pages");
    EXPECT_SAME(real.cached_tokens, static_cast<int32_t>(expected.pages.size()) * s_.page_size, "cached_tokens");
    EXPECT_SAME(real.handle != 0, expected.locked, "match handle presence");
    if (real.handle != 0) ++totals.match_hits;
    if (real.handle != 0) {
      reference_.add_handle(real.handle, r.ns, reference_.prefix_key(r.ns, r.tokens, real.pages.size()).second);
      r.handles.push_back(real.handle);
    }
    r.block = real.pages;
    r.owned.assign(r.block.size(), false);
    requests_.push_back(std::move(r));
  }

  void grow(const operation& op) {
    sim_request* r = pick(op.a);
    if (!r) return;
    const int32_t missing = std::max(0, pages_needed(*r) - static_cast<int32_t>(r->block.size()));
    const int32_t n = static_cast<int32_t>(op.b % static_cast<uint32_t>(missing + 1));
    allocate_into(r, n);
  }

  void allocate_into(sim_request* r, int32_t n) {
    std::vector<page_id> expected_evicted;
    const kv_errc expected = reference_.plan_allocate(n, expected_evicted);
    const std::vector<uint8_t> cached_before = cache_.trie().cached_states();
    std::vector<page_id> got;
    const kv_errc real = cache_.allocate(n, got, r->owner);
    EXPECT_SAME(real, expected, "allocate status");
    if (real == kv_errc::no_capacity) ++totals.no_capacity;
    if (!expected_evicted.empty()) ++totals.allocate_evictions;
    if (real != kv_errc::ok) {
      EXPECT_SAME(got.empty(), true, "failed allocate returned pages");
      return;
    }
    // The pages paged_cache evicted to make room are exactly the reference's.
    const std::vector<uint8_t> cached_after = cache_.trie().cached_states();
    std::vector<page_id> real_evicted;
    for (size_t p = 0; p < cached_before.size(); ++p)
      if (cached_before[p] != 0 && cached_after[p] == 0) real_evicted.push_back(static_cast<page_id>(p));
    std::sort(expected_evicted.begin(), expected_evicted.end());
    EXPECT_SAME(real_evicted, expected_evicted, "pages evicted by allocate");
    EXPECT_SAME(static_cast<int32_t>(got.size()), n, "allocate count");
    EXPECT_SAME(reference_.take(got), true, "allocate handed out a page that was not free");
    for (page_id p : got) {
      r->block.push_back(p);
      r->owned.push_back(true);
    }
  }

  void publish(sim_request* r, bool with_handle) {
    if (!r) return;
    const uint64_t handle = with_handle && !r->handles.empty() ? r->handles.back() : 0;
    const auto expected = reference_.publish(r->ns, r->tokens, r->block, handle, now_);
    const publish_result real = cache_.publish(r->ns, r->tokens, r->block, handle, now_, r->owner);
    EXPECT_SAME(real.status, expected.status, "publish status");
    if (real.status != kv_errc::ok) return;
    EXPECT_SAME(real.pages, expected.pages, "publish canonical pages");
    EXPECT_SAME(real.duplicates, expected.duplicates, "publish duplicates");
    EXPECT_SAME(real.inserted, expected.inserted, "publish inserted");
    totals.publish_inserts += real.inserted;
    totals.publish_duplicates += static_cast<long>(real.duplicates.size());
    if (handle != 0 && real.inserted > 0) ++totals.handle_extensions;
    const size_t count = real.pages.size();
    if (handle != 0) {
      EXPECT_SAME(real.handle, handle, "publish keeps the handle");
      reference_.extend_handle(handle, r->ns, r->tokens, count);
    } else if (count > 0) {
      EXPECT_SAME(real.handle != 0, true, "publish without handle returns a fresh one");
      reference_.add_handle(real.handle, r->ns, reference_.prefix_key(r->ns, r->tokens, count).second);
      r->handles.push_back(real.handle);
    } else {
      EXPECT_SAME(real.handle, uint64_t{0}, "empty publish returns no handle");
    }
    for (size_t i = 0; i < count; ++i) {
      r->block[i] = real.pages[i];
      r->owned[i] = false;
    }
  }

  void finish(const operation& op) {
    sim_request* r = pick(op.a);
    if (!r) return;
    if (op.b % 3 != 0) publish(r, true);
    for (uint64_t h : r->handles) {
      EXPECT_SAME(cache_.unlock(h), reference_.unlock(h), "unlock at finish");
      dead_handles_.push_back(h);
    }
    std::vector<page_id> mine;
    for (size_t i = 0; i < r->block.size(); ++i)
      if (r->owned[i]) mine.push_back(r->block[i]);
    if (op.c % 2 == 0) {
      EXPECT_SAME(cache_.release(mine, r->owner), reference_.release(mine), "release at finish");
    } else {  // the owner goes away: everything private it holds goes back
      EXPECT_SAME(reference_.release(mine), kv_errc::ok, "reference release at drop");
      EXPECT_SAME(cache_.drop(r->owner), static_cast<int32_t>(mine.size()), "pages freed by drop");
      ++totals.drops;
    }
    requests_.erase(requests_.begin() + (r - requests_.data()));
  }

  void drop_lock(const operation& op) {
    // A request may end a hold early only if its other holds still cover every
    // cached page in its block table (otherwise it would read pages it no longer
    // locks: the simulated client, not the cache, would be wrong).
    sim_request* r = pick(op.a);
    if (!r || r->handles.size() < 2) return;
    const size_t which = op.b % r->handles.size();
    size_t cached_prefix = 0;
    while (cached_prefix < r->block.size() && !r->owned[cached_prefix]) ++cached_prefix;
    size_t covered = 0;
    for (size_t i = 0; i < r->handles.size(); ++i)
      if (i != which) covered = std::max(covered, cache_.trie().handle_pages(r->handles[i]).size());
    if (covered < cached_prefix) return;
    const uint64_t h = r->handles[which];
    EXPECT_SAME(cache_.unlock(h), reference_.unlock(h), "unlock");
    r->handles.erase(r->handles.begin() + static_cast<std::ptrdiff_t>(which));
    dead_handles_.push_back(h);
  }

  void evict(const operation& op) {
    const int32_t n = static_cast<int32_t>(op.a % 6) - 1;  // -1 .. 4: n <= 0 evicts nothing
    const std::vector<page_id> expected = n > 0 ? reference_.evict(n) : std::vector<page_id>{};
    EXPECT_SAME(cache_.evict(n), expected, "evicted pages, in order");
    totals.evictions += static_cast<long>(expected.size());
  }

  void bad_release(const operation& op) {
    std::vector<page_id> ids;
    const auto& free_pages = reference_.free_pages();
    std::vector<page_id> cached;
    for (const auto& [key, entry] : reference_.nodes()) cached.push_back(entry.page);
    std::vector<page_id> owned;
    std::vector<owner_id> owners;  // owners[i] holds owned[i]
    for (const auto& r : requests_)
      for (size_t i = 0; i < r.block.size(); ++i)
        if (r.owned[i]) {
          owned.push_back(r.block[i]);
          owners.push_back(r.owner);
        }
    owner_id owner = requests_.empty() ? 1 : requests_[op.a % requests_.size()].owner;
    switch (op.b % 5) {
      case 0:
        if (free_pages.empty()) return;
        ids.push_back(*std::next(free_pages.begin(), static_cast<std::ptrdiff_t>(op.c % free_pages.size())));
        break;
      case 1:
        if (cached.empty()) return;
        ids.push_back(cached[op.c % cached.size()]);
        break;
      case 2:
        ids.push_back(op.c % 2 ? -1 - static_cast<page_id>(op.c % 5) : s_.num_pages + static_cast<page_id>(op.c % 5));
        break;
      case 3:
        if (owned.empty()) return;
        ids = {owned[op.c % owned.size()], owned[op.c % owned.size()]};
        owner = owners[op.c % owned.size()];
        break;
      default:
        if (owned.empty() || free_pages.empty()) return;
        ids = {owned[op.c % owned.size()], *free_pages.begin()};
        owner = owners[op.c % owned.size()];
        break;
    }
    const kv_errc expected = reference_.release(ids);
    EXPECT_SAME(cache_.release(ids, owner), expected, "bad release status");
    EXPECT_SAME(expected != kv_errc::ok, true, "bad release was accepted by the reference");
    ++totals.rejected_releases;
  }

  void bad_publish(const operation& op) {
    sim_request* r = pick(op.a);
    if (!r) return;
    std::vector<page_id> pages = r->block;
    uint64_t handle = r->handles.empty() ? 0 : r->handles.back();
    switch (op.b % 4) {
      case 0:
        handle = dead_handles_.empty() ? (uint64_t{op.c} << 32 | 7) : dead_handles_[op.c % dead_handles_.size()];
        break;
      case 1: {  // a page some trie node holds, at a position where it does not belong
        std::vector<page_id> cached;
        for (const auto& [key, entry] : reference_.nodes()) cached.push_back(entry.page);
        if (cached.empty() || pages.empty()) return;
        pages[op.c % pages.size()] = cached[(op.c / 7) % cached.size()];
        break;
      }
      case 2:
        if (pages.size() < 2) return;
        pages[1 + op.c % (pages.size() - 1)] = pages[0];
        break;
      default: {  // another request's handle
        if (requests_.size() < 2) return;
        const sim_request& other = requests_[op.c % requests_.size()];
        if (other.handles.empty()) return;
        handle = other.handles.back();
        break;
      }
    }
    // Only calls the reference rejects are made: some "misuse" is legal (another
    // request's handle covering a prefix of this path, or the swapped-in page being
    // the canonical one), and performing it would desynchronise the simulated
    // client's own bookkeeping, not the cache.
    const kv_errc expected = reference_.check_publish(r->ns, r->tokens, pages, handle);
    if (expected == kv_errc::ok) return;
    const publish_result real = cache_.publish(r->ns, r->tokens, pages, handle, now_, r->owner);
    EXPECT_SAME(real.status, expected, "misused publish status");
    ++totals.rejected_publishes[static_cast<int>(expected)];
    EXPECT_SAME(real.pages.empty() && real.duplicates.empty() && real.handle == 0, true,
                "rejected publish returned data");
  }

  void bad_unlock(const operation& op) {
    const uint64_t h = (op.b & 1) && !dead_handles_.empty() ? dead_handles_[op.c % dead_handles_.size()]
                                                            : (uint64_t{op.c} << 32 | (op.a % 64));
    const kv_errc expected = reference_.unlock(h);
    EXPECT_SAME(cache_.unlock(h), expected, "unlock of a stale or invented handle");
    if (expected != kv_errc::ok) ++totals.rejected_unlocks;
  }

  void over_allocate() {
    std::vector<page_id> got;
    EXPECT_SAME(cache_.allocate(s_.num_pages + 1, got), kv_errc::no_capacity, "over-allocate");
    EXPECT_SAME(cache_.allocate(-1, got), kv_errc::invalid_argument, "negative allocate");
    EXPECT_SAME(got.empty(), true, "failed allocate returned pages");
  }

  void compare_state() {
    cache_.check_invariants();
    const page_ownership& pages = cache_.ownership();
    const std::vector<uint8_t> states = cache_.trie().cached_states();
    std::vector<int32_t> expected_locks(static_cast<size_t>(s_.num_pages), -1);
    for (const auto& [key, entry] : reference_.nodes()) expected_locks[entry.page] = reference_.lock_count(key);
    std::vector<int32_t> private_owner(static_cast<size_t>(s_.num_pages), 0);
    std::vector<owner_id> expected_owner(static_cast<size_t>(s_.num_pages), 0);
    for (const auto& r : requests_)
      for (size_t i = 0; i < r.block.size(); ++i)
        if (r.owned[i]) {
          ++private_owner[r.block[i]];
          expected_owner[r.block[i]] = r.owner;
        }
    for (page_id p = 0; p < s_.num_pages; ++p) {
      const std::string page = " (page " + std::to_string(p) + ")";
      const bool is_free = pages.state_of(p) == page_state::free;
      EXPECT_SAME(is_free, reference_.is_free(p), "free state" + page);
      EXPECT_SAME(pages.state_of(p) == page_state::cached, states[p] != 0, "cached in pool and trie" + page);
      EXPECT_SAME(pages.owner_of(p), expected_owner[p], "owner" + page);
      const uint8_t expected_state = expected_locks[p] < 0 ? 0 : expected_locks[p] > 0 ? 1 : 2;
      EXPECT_SAME(states[p], expected_state, "cached state" + page);
      // Exactly one of free / private (one owner) / cached.
      const int holders = (is_free ? 1 : 0) + private_owner[p] + (states[p] != 0);
      EXPECT_SAME(holders, 1, "page in exactly one place" + page);
    }
    EXPECT_SAME(pages.pending_publishes(), 0, "publishes left pending");
    const page_accounting counts = cache_.accounting();
    EXPECT_SAME(counts.cached_locked, reference_.locked_count(), "locked count");
    EXPECT_SAME(counts.cached_evictable, reference_.evictable_count(), "evictable count");
    EXPECT_SAME(cache_.trie().live_handles(), static_cast<int32_t>(reference_.handles().size()), "live handles");
    // Per-node usage statistics, through the snapshot the inspector renders.
    const trie_snapshot view = cache_.trie().snapshot(1 << 30, 1 << 30);
    EXPECT_SAME(view.truncated, false, "unbounded snapshot truncated");
    int32_t seen = 0;
    for (const trie_snapshot_node& n : view.nodes) {
      if (n.page < 0) continue;
      ++seen;
      const auto key = reference_.key_of_page(n.page);
      EXPECT_SAME(key.has_value(), true, "snapshot shows a page the reference does not cache");
      const auto& entry = reference_.nodes().at(*key);
      EXPECT_SAME(n.lock_count, expected_locks[n.page], "snapshot lock count");
      EXPECT_SAME(n.hit_count, entry.hits, "snapshot hit count");
      EXPECT_SAME(n.last_access, entry.last_access, "snapshot last access");
      EXPECT_SAME(n.depth, static_cast<int32_t>(key->second.size()) / s_.page_size, "snapshot depth");
    }
    EXPECT_SAME(seen, reference_.cached_count(), "snapshot node count");
  }

  scenario s_;
  paged_cache cache_;
  testing::reference_cache reference_;
  std::vector<sim_request> requests_;
  std::vector<uint64_t> dead_handles_;
  uint64_t now_ = 1;
  owner_id next_owner_ = 1;
};

// Runs `ops`; returns the failure message, or "" if every step agreed.
std::string failure_of(uint64_t seed, const std::vector<operation>& ops) {
  try {
    simulation sim(scenario_for(seed));
    for (const operation& op : ops) sim.run(op);
  } catch (const std::exception& e) {
    return e.what();
  }
  return {};
}

// Delta debugging: drop ever smaller chunks while `fails` still holds.
template <class Fails>
std::vector<operation> shrink(std::vector<operation> ops, Fails&& fails) {
  for (size_t chunk = ops.size() / 2; chunk >= 1; chunk /= 2) {
    for (size_t start = 0; start + chunk <= ops.size();) {
      std::vector<operation> candidate(ops.begin(), ops.begin() + static_cast<std::ptrdiff_t>(start));
      candidate.insert(candidate.end(), ops.begin() + static_cast<std::ptrdiff_t>(start + chunk), ops.end());
      if (fails(candidate))
        ops = std::move(candidate);
      else
        start += chunk;
    }
  }
  return ops;
}

void run_seeds(uint64_t first_seed, int seeds, size_t length) {
  for (int i = 0; i < seeds; ++i) {
    const uint64_t seed = first_seed + static_cast<uint64_t>(i);
    const std::vector<operation> ops = operations_for(seed, length);
    const std::string failure = failure_of(seed, ops);
    if (failure.empty()) continue;
    const std::vector<operation> shortest =
        shrink(ops, [seed](const std::vector<operation>& candidate) { return !failure_of(seed, candidate).empty(); });
    const scenario s = scenario_for(seed);
    FAIL("seed " << seed << " (pages " << s.num_pages << ", page size " << s.page_size << ", "
                 << (s.lfu ? "lfu" : "lru") << "): " << failure << "\nshortest failing sequence (" << shortest.size()
                 << " of " << ops.size() << " ops), last error: " << failure_of(seed, shortest) << "\n"
                 << describe(shortest));
  }
}

}  // namespace

// KVCACHE_PROPERTY_SEEDS=N runs N seeds instead of the default (for a deeper soak).
int seed_count(int default_count) {
  const char* env = std::getenv("KVCACHE_PROPERTY_SEEDS");
  return env && std::atoi(env) > 0 ? std::atoi(env) : default_count;
}

TEST_CASE("property: page_ownership + prefix_trie agree with the brute-force reference on random operation sequences") {
  run_seeds(1, seed_count(3000), 150);
  MESSAGE("match hits " << totals.match_hits << ", inserted " << totals.publish_inserts << ", duplicates "
                        << totals.publish_duplicates << ", handle extensions " << totals.handle_extensions
                        << ", evicted " << totals.evictions << ", allocations that evicted "
                        << totals.allocate_evictions << ", no_capacity " << totals.no_capacity);
  CHECK(totals.match_hits > 1000);
  CHECK(totals.publish_inserts > 1000);
  CHECK(totals.publish_duplicates > 100);
  CHECK(totals.handle_extensions > 100);
  CHECK(totals.evictions > 100);
  CHECK(totals.allocate_evictions > 100);
  CHECK(totals.no_capacity > 100);
  CHECK(totals.rejected_releases > 100);
  CHECK(totals.rejected_unlocks > 100);
  CHECK(totals.drops > 100);
  for (kv_errc code :
       {kv_errc::unknown_handle, kv_errc::repeated_page, kv_errc::page_already_cached, kv_errc::handle_mismatch})
    CHECK_MESSAGE(totals.rejected_publishes[static_cast<int>(code)] > 10, std::string(to_string(code)));
}

TEST_CASE("property: long sequences keep agreeing") { run_seeds(1000000, 40, 2000); }

TEST_CASE("property: the shrinker finds a short failing sequence") {
  // A stand-in for a bug: a sequence "fails" once it has two start operations.
  // The shrinker must cut 300 operations down to exactly those two.
  const uint64_t seed = 77;
  std::vector<operation> ops = operations_for(seed, 300);
  const auto fails = [](const std::vector<operation>& candidate) {
    int handles = 0;
    for (const operation& op : candidate)
      if (op.kind == op_kind::start) ++handles;
    return handles >= 2;
  };
  REQUIRE(fails(ops));
  ops = shrink(ops, fails);
  CHECK(ops.size() == 2);
  CHECK(describe(ops).find("start") != std::string::npos);
}

}  // namespace kvactor
