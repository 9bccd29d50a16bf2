#include "http/connection_registry.hpp"

namespace kvactor::http {

connection_registry::admit_result connection_registry::admit(const std::string& address) {
  std::lock_guard<std::mutex> lock(mutex_);
  admit_result r;
  auto found = clients_.find(address);
  if (found != clients_.end() && found->second.connections >= limits_.max_connections_per_client) {
    r.verdict = admission::client_full;
    return r;
  }
  if (entries_.size() >= static_cast<std::size_t>(limits_.max_connections)) {
    r.shed = pick_victim();
    if (!r.shed) {
      r.verdict = admission::server_full;
      return r;
    }
  }
  r.id = next_id_++;
  entry& e = entries_[r.id];
  e.address = address;
  e.state = connection_state::idle;
  join_line(r.id, e, reading_);  // a newcomer waits as a reader until it is first answered
  ++clients_[address].connections;
  return r;
}

std::shared_ptr<sheddable> connection_registry::pick_victim() {
  // The oldest idle connection, else the one reading its request for the longest time.
  // A victim leaves its line at once, so it is never picked twice; its entry stays (and
  // counts) until the session ends. Entries whose session is already gone are skipped.
  for (auto* line : {&idle_, &reading_}) {
    while (!line->empty()) {
      entry& e = entries_.at(line->front());
      leave_line(e);
      e.picked = true;
      if (auto owner = e.owner.lock()) return owner;
    }
  }
  return nullptr;
}

void connection_registry::attach(id_type id, std::weak_ptr<sheddable> owner) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = entries_.find(id);
  if (it != entries_.end()) it->second.owner = std::move(owner);
}

void connection_registry::leave_line(entry& e) {
  if (!e.line) return;
  e.line->erase(e.place);
  e.line = nullptr;
}

void connection_registry::join_line(id_type id, entry& e, std::list<id_type>& line) {
  e.place = line.insert(line.end(), id);
  e.line = &line;
}

void connection_registry::set_state(id_type id, connection_state state) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = entries_.find(id);
  if (it == entries_.end()) return;
  entry& e = it->second;
  e.state = state;
  if (state == connection_state::answering) {
    leave_line(e);
    e.answered = true;
    e.picked = false;  // a shed that raced this one is ignored
    return;
  }
  // A connection picked as a victim stays out of the lines: it is on its way out.
  if (e.picked) return;
  // Until its first answer a connection keeps its place in the reading line (its age
  // counts from the accept); after that, idle and reading each start a new wait.
  auto& line = state == connection_state::idle && e.answered ? idle_ : reading_;
  if (e.line == &line && !e.answered) return;
  leave_line(e);
  join_line(id, e, line);
}

bool connection_registry::begin_request(id_type id) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = entries_.find(id);
  if (it == entries_.end()) return true;
  client& c = clients_[it->second.address];
  if (c.requests >= limits_.max_requests_per_client) return false;
  ++c.requests;
  return true;
}

void connection_registry::end_request(id_type id) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = entries_.find(id);
  if (it == entries_.end()) return;
  auto c = clients_.find(it->second.address);
  if (c != clients_.end() && c->second.requests > 0) --c->second.requests;
}

void connection_registry::remove(id_type id) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = entries_.find(id);
  if (it == entries_.end()) return;
  leave_line(it->second);
  auto c = clients_.find(it->second.address);
  if (c != clients_.end() && --c->second.connections <= 0 && c->second.requests <= 0) clients_.erase(c);
  entries_.erase(it);
}

std::size_t connection_registry::size() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return entries_.size();
}

int connection_registry::connections_of(const std::string& address) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto c = clients_.find(address);
  return c == clients_.end() ? 0 : c->second.connections;
}

int connection_registry::requests_of(const std::string& address) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto c = clients_.find(address);
  return c == clients_.end() ? 0 : c->second.requests;
}

}  // namespace kvactor::http
