#include "kvcache/page_ownership.hpp"

#include <algorithm>
#include <stdexcept>

#include "kvcache/prefix_trie.hpp"

namespace kvactor {

const char* to_string(page_state state) noexcept {
  switch (state) {
    case page_state::free: return "free";
    case page_state::private_page: return "private";
    case page_state::publishing: return "publishing";
    case page_state::cached: return "cached";
  }
  return "unknown";
}

page_ownership::page_ownership(int32_t num_pages)
    : pool_(num_pages),
      state_(static_cast<size_t>(num_pages), page_state::free),
      owner_(static_cast<size_t>(num_pages), 0) {}

void page_ownership::set_state(page_id page, page_state state) noexcept {
  auto& cur = state_[static_cast<size_t>(page)];
  if (cur == page_state::private_page) --private_;
  if (cur == page_state::publishing) --publishing_count_;
  if (cur == page_state::cached) --cached_;
  cur = state;
  if (cur == page_state::private_page) ++private_;
  if (cur == page_state::publishing) ++publishing_count_;
  if (cur == page_state::cached) ++cached_;
}

void page_ownership::forget(owner_id owner, page_id page) {
  owner_[static_cast<size_t>(page)] = 0;
  auto it = owned_.find(owner);
  if (it == owned_.end()) return;
  it->second.erase(page);
  if (it->second.empty()) owned_.erase(it);
}

void page_ownership::free_now(const std::vector<page_id>& pages) {
  if (pages.empty()) return;
  const kv_errc rc = pool_.release(pages);
  if (rc != kv_errc::ok)
    throw invariant_error(std::string("page_ownership: pool rejected a release: ") + to_string(rc));
}

kv_errc page_ownership::allocate(owner_id owner, int32_t n, std::vector<page_id>& out) {
  if (n < 0 || owner == 0) return kv_errc::invalid_argument;
  const size_t first = out.size();
  const kv_errc rc = pool_.allocate(n, out);
  if (rc != kv_errc::ok) return rc;
  if (n == 0) return kv_errc::ok;
  auto& mine = owned_[owner];
  for (size_t i = first; i < out.size(); ++i) {
    set_state(out[i], page_state::private_page);
    owner_[static_cast<size_t>(out[i])] = owner;
    mine.insert(out[i]);
  }
  return kv_errc::ok;
}

kv_errc page_ownership::release(owner_id owner, const std::vector<page_id>& ids) {
  for (const page_id page : ids)
    if (in_range(page) && state_of(page) == page_state::cached) return kv_errc::page_in_use;
  std::set<page_id> seen;
  for (const page_id page : ids) {
    if (!in_range(page)) return kv_errc::unknown_page;
    if (state_of(page) == page_state::free) return kv_errc::double_release;
    if (!seen.insert(page).second) return kv_errc::repeated_page;
    if (state_of(page) != page_state::private_page || owner_of(page) != owner) return kv_errc::not_owner;
  }
  for (const page_id page : ids) {
    set_state(page, page_state::free);
    forget(owner, page);
  }
  free_now(ids);
  return kv_errc::ok;
}

int32_t page_ownership::drop_owner(owner_id owner) {
  std::vector<page_id> to_free;
  auto it = owned_.find(owner);
  if (it != owned_.end())
    for (const page_id page : it->second)
      if (state_of(page) == page_state::private_page) to_free.push_back(page);
  for (const page_id page : to_free) {
    set_state(page, page_state::free);
    forget(owner, page);
  }
  free_now(to_free);
  for (auto& [ticket, pending] : publishing_)
    if (pending.owner == owner) pending.orphaned = true;
  return static_cast<int32_t>(to_free.size());
}

page_ownership::publish_ticket page_ownership::begin_publish(owner_id owner, const std::vector<page_id>& pages) {
  publish_ticket ticket;
  std::vector<page_id> mine;
  for (const page_id page : pages) {
    if (!in_range(page) || state_of(page) == page_state::free) {
      ticket.status = kv_errc::unknown_page;
    } else if (state_of(page) == page_state::cached) {
      continue;
    } else if (state_of(page) != page_state::private_page || owner_of(page) != owner) {
      ticket.status = kv_errc::not_owner;
    } else {
      mine.push_back(page);
      continue;
    }
    ticket.page = page;
    return ticket;
  }
  std::sort(mine.begin(), mine.end());
  mine.erase(std::unique(mine.begin(), mine.end()), mine.end());
  for (const page_id page : mine) set_state(page, page_state::publishing);
  ticket.id = next_ticket_++;
  publishing_[ticket.id] = pending_publish{owner, std::move(mine), false};
  return ticket;
}

std::vector<page_id> page_ownership::finish_publish(uint64_t ticket, bool accepted,
                                                    const std::vector<page_id>& canonical,
                                                    const std::vector<page_id>& duplicates) {
  std::vector<page_id> to_free;
  auto it = publishing_.find(ticket);
  if (it == publishing_.end()) return to_free;
  const pending_publish pending = std::move(it->second);
  publishing_.erase(it);
  const std::set<page_id> now_cached(canonical.begin(), canonical.end());
  const std::set<page_id> duplicate(duplicates.begin(), duplicates.end());
  for (const page_id page : pending.pages) {
    if (accepted && now_cached.count(page)) {
      set_state(page, page_state::cached);
      forget(pending.owner, page);
    } else if ((accepted && duplicate.count(page)) || pending.orphaned) {
      set_state(page, page_state::free);
      forget(pending.owner, page);
      to_free.push_back(page);
    } else {
      set_state(page, page_state::private_page);  // rejected, or not part of what the trie took
    }
  }
  free_now(to_free);
  return to_free;
}

kv_errc page_ownership::release_evicted(const std::vector<page_id>& pages) {
  std::set<page_id> seen;
  for (const page_id page : pages) {
    if (!in_range(page)) return kv_errc::unknown_page;
    if (state_of(page) != page_state::cached) return kv_errc::not_cached;
    if (!seen.insert(page).second) return kv_errc::repeated_page;
  }
  for (const page_id page : pages) set_state(page, page_state::free);
  free_now(pages);
  return kv_errc::ok;
}

ownership_counts page_ownership::counts() const noexcept {
  ownership_counts c;
  c.total = pool_.total();
  c.free = pool_.free_count();
  c.private_pages = private_ + publishing_count_;
  c.publishing = publishing_count_;
  c.cached = cached_;
  c.owners = static_cast<int32_t>(owned_.size());
  return c;
}

page_state page_ownership::state_of(page_id page) const noexcept {
  return in_range(page) ? state_[static_cast<size_t>(page)] : page_state::free;
}

owner_id page_ownership::owner_of(page_id page) const noexcept {
  return in_range(page) ? owner_[static_cast<size_t>(page)] : 0;
}

namespace {
std::string page_text(page_id page) { return "page_ownership: page " + std::to_string(page); }
}  // namespace

void page_ownership::check_invariants() const {
  pool_.check_invariants();
  const int32_t total = pool_.total();
  if (static_cast<int32_t>(state_.size()) != total || static_cast<int32_t>(owner_.size()) != total)
    throw invariant_error("page_ownership: per-page tables do not cover the pool's " + std::to_string(total) +
                          " pages");
  int32_t count[4] = {0, 0, 0, 0};
  int32_t with_owner = 0;
  for (page_id page = 0; page < total; ++page) {
    const page_state s = state_[static_cast<size_t>(page)];
    const owner_id owner = owner_[static_cast<size_t>(page)];
    ++count[static_cast<int>(s)];
    if ((s == page_state::free) == pool_.is_allocated(page))
      throw invariant_error(page_text(page) + " is " + to_string(s) + " but " +
                            (pool_.is_allocated(page) ? "allocated" : "free") + " in the pool");
    const bool held = s == page_state::private_page || s == page_state::publishing;
    if (held != (owner != 0))
      throw invariant_error(page_text(page) + " is " + to_string(s) +
                            (held ? " without an owner" : " but has an owner"));
    if (!held) continue;
    ++with_owner;
    const auto record = owned_.find(owner);
    if (record == owned_.end() || record->second.count(page) == 0)
      throw invariant_error(page_text(page) + " is missing from its owner's record");
  }
  // Owner records, counted on their own: every listed page must be held by that owner.
  int32_t in_records = 0;
  for (const auto& [owner, pages] : owned_) {
    if (owner == 0 || pages.empty()) throw invariant_error("page_ownership: an empty or nameless owner record");
    for (const page_id page : pages) {
      if (!in_range(page) || owner_[static_cast<size_t>(page)] != owner)
        throw invariant_error(page_text(page) + " is listed for an owner that does not hold it");
      ++in_records;
    }
  }
  // The publishing table, counted on its own: each publishing page in exactly one entry.
  int32_t in_table = 0;
  std::set<page_id> seen;
  for (const auto& [ticket, pending] : publishing_)
    for (const page_id page : pending.pages) {
      if (!in_range(page) || state_[static_cast<size_t>(page)] != page_state::publishing)
        throw invariant_error(page_text(page) + " is in the publishing table but not publishing");
      if (owner_[static_cast<size_t>(page)] != pending.owner && !pending.orphaned)
        throw invariant_error(page_text(page) + " is published for an owner that does not hold it");
      if (!seen.insert(page).second) throw invariant_error(page_text(page) + " is in two pending publishes");
      ++in_table;
    }
  const auto mismatch = [](const char* what, int32_t counter, int32_t recount) {
    if (counter != recount)
      throw invariant_error(std::string("page_ownership: ") + what + " counter " + std::to_string(counter) +
                            " disagrees with the recount " + std::to_string(recount));
  };
  mismatch("free", pool_.free_count(), count[0]);
  mismatch("private", private_, count[1]);
  mismatch("publishing", publishing_count_, count[2]);
  mismatch("cached", cached_, count[3]);
  mismatch("owned (records)", with_owner, in_records);
  mismatch("publishing (table)", count[2], in_table);
  if (pool_.free_count() + in_records + cached_ != total)
    throw invariant_error("page_ownership: free " + std::to_string(pool_.free_count()) + " + owned " +
                          std::to_string(in_records) + " + cached " + std::to_string(cached_) + " != total " +
                          std::to_string(total));
}

std::string page_state_map(const page_ownership& pages, const std::vector<uint8_t>& trie_states) {
  std::string map(static_cast<size_t>(pages.total()), 'f');
  for (page_id page = 0; page < pages.total(); ++page) {
    const auto trie = static_cast<size_t>(page) < trie_states.size() ? static_cast<cached_state>(trie_states[page])
                                                                     : cached_state::not_cached;
    const bool cached = pages.state_of(page) == page_state::cached;
    char& c = map[static_cast<size_t>(page)];
    if (cached != (trie != cached_state::not_cached))
      c = '!';
    else if (cached)
      c = trie == cached_state::locked ? 'L' : 'e';
    else
      c = pages.state_of(page) == page_state::free ? 'f' : 'p';
  }
  return map;
}

std::string cross_check(const page_ownership& pages, const std::vector<uint8_t>& trie_states) {
  if (static_cast<int32_t>(trie_states.size()) != pages.total())
    return "trie and pool disagree on the page count (" + std::to_string(trie_states.size()) + " vs " +
           std::to_string(pages.total()) + ")";
  for (page_id page = 0; page < pages.total(); ++page) {
    const bool in_pool = pages.state_of(page) == page_state::cached;
    const bool in_trie = static_cast<cached_state>(trie_states[static_cast<size_t>(page)]) != cached_state::not_cached;
    if (in_pool != in_trie)
      return "page " + std::to_string(page) + ": pool says " + (in_pool ? "cached" : "not cached") + ", trie disagrees";
  }
  return {};
}

}  // namespace kvactor
