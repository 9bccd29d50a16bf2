// The engine outlives the HTTP server (the server only borrows it), but the callbacks the
// server hands it hold connections, and a connection must not outlive the server: its
// destructor updates the server's counters and closes a socket on the server's io_context.
// fenced_service passes every call through to the engine and keeps each callback in a slot
// the engine can only call through. sever() (at shutdown, once the I/O threads have
// stopped) empties every slot on the calling thread, so what the callbacks held is released
// while the server is alive, and a callback that fires later does nothing. Without it, an
// inspection or request actor that let go of its callback after the server was gone
// destroyed a connection into freed memory (seen under ASan in http_tests).
#pragma once

#include <memory>
#include <mutex>
#include <vector>

#include "actors/generation_service.hpp"

namespace kvactor::http {

class fenced_service final : public generation_service {
 public:
  explicit fenced_service(generation_service& inner) : inner_(inner) {}

  const tokenizer& tok() const override { return inner_.tok(); }
  const model_config& model() const override { return inner_.model(); }
  const engine_config& config() const override { return inner_.config(); }
  std::string submit(generation_request req, generation_callback cb) override;
  void cancel(const std::string& rid) override { inner_.cancel(rid); }
  void inspect(const std::string& what, std::function<void(std::string json)> cb) override;
  void shutdown(std::chrono::milliseconds drain) override { inner_.shutdown(drain); }

  // Empties every slot; callbacks handed out afterwards start empty. Blocks while a
  // callback is running (each slot's call holds its lock), never inside one.
  void sever();

  struct slot {
    virtual ~slot() = default;
    virtual void clear() = 0;
  };

 private:
  // Registers a slot (pruning dropped ones); false once severed.
  bool enlist(const std::shared_ptr<slot>& s);

  generation_service& inner_;
  std::mutex mutex_;
  std::vector<std::weak_ptr<slot>> slots_;
  std::size_t prune_at_ = 64;
  bool severed_ = false;
};

}  // namespace kvactor::http
