// Who holds the server's connections, for fair use (issue 22): every admitted
// connection is registered with its client address and what it is doing (idle between
// requests, reading a request, answering one). The registry enforces the per-client
// limits on open connections and requests in flight, and when the server is full it
// picks a connection to shed: the oldest idle keep-alive one, else the one that has spent
// longest reading its request (the slowest). A new connection that has not been answered
// yet counts as reading from the moment it was accepted, so a burst of newcomers sheds
// the oldest slow readers, never a fresh client whose first bytes are still in flight. No Beast here; thread-safe (one
// mutex, O(1) calls).
#pragma once

#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

namespace kvactor::http {

// A connection the registry may ask to close (called from any thread: it must hop
// onto its own executor and close only if it is still idle or reading).
class sheddable {
 public:
  virtual ~sheddable() = default;
  virtual void shed() = 0;
};

enum class connection_state { idle, reading, answering };

struct client_limits {
  int max_connections = 1024;  // whole server
  int max_connections_per_client = 256;
  int max_requests_per_client = 256;  // requests in flight from one address
};

class connection_registry {
 public:
  using id_type = uint64_t;

  explicit connection_registry(client_limits limits) : limits_(limits) {}

  enum class admission { admitted, client_full, server_full };
  struct admit_result {
    admission verdict = admission::admitted;
    id_type id = 0;                   // when admitted
    std::shared_ptr<sheddable> shed;  // call shed() on it (outside any lock) when set
  };
  // A new connection from `address`. Over the client's limit: client_full. Server full:
  // picks a victim to shed and admits, or server_full when every connection is answering.
  // The connection starts idle (nothing received yet) but waits in the reading line from
  // now on, until its first answer. `owner` is attached with attach().
  admit_result admit(const std::string& address);
  void attach(id_type id, std::weak_ptr<sheddable> owner);
  // Entering `answering` also clears a pending shed pick (the shed lost the race).
  void set_state(id_type id, connection_state state);
  // A request starts: false (and nothing counted) when its client is at its limit.
  bool begin_request(id_type id);
  void end_request(id_type id);
  void remove(id_type id);

  std::size_t size() const;
  int connections_of(const std::string& address) const;
  int requests_of(const std::string& address) const;
  const client_limits& limits() const { return limits_; }

 private:
  struct client {
    int connections = 0;
    int requests = 0;
  };
  struct entry {
    std::string address;
    connection_state state = connection_state::idle;
    bool answered = false;               // has entered `answering` at least once
    std::list<id_type>* line = nullptr;  // idle_ or reading_ while a shedding candidate
    bool picked = false;                 // chosen as a victim: stays out of the lines
    std::list<id_type>::iterator place;  // its position there
    std::weak_ptr<sheddable> owner;
  };
  void leave_line(entry& e);
  void join_line(id_type id, entry& e, std::list<id_type>& line);
  std::shared_ptr<sheddable> pick_victim();  // under the lock

  client_limits limits_;
  mutable std::mutex mutex_;
  id_type next_id_ = 1;
  std::unordered_map<id_type, entry> entries_;
  std::unordered_map<std::string, client> clients_;
  std::list<id_type> idle_;     // answered at least once, now idle: oldest idle first
  std::list<id_type> reading_;  // reading, or new and not yet answered: longest first
};

}  // namespace kvactor::http
