// The HTTP layer's Beast-free view of a connection: handlers build http_reply values
// or stream through a reply_sink, and only session.cpp knows how bytes are written.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "http/api_error.hpp"

namespace kvactor::http {

struct http_reply {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers
};

http_reply json_reply(int status, std::string body);
http_reply error_reply(const api_error& e);

// The request's x-request-id: the client's when it sent a usable one (1 to 128
// visible ASCII characters), else a fresh "req-" + 16 hex digits. Every answer echoes it.
std::string choose_request_id(std::string_view given);

// One connection's output. post() may be called from any thread (engine callbacks
// use it to get back onto the connection's executor); every other member must be
// called on that executor. After the client is gone, output is silently dropped.
class reply_sink {
 public:
  virtual ~reply_sink() = default;
  virtual void post(std::function<void()> fn) = 0;
  virtual void send(http_reply reply) = 0;
  // Server-sent events: status 200, text/event-stream, chunked transfer encoding.
  virtual void begin_stream() = 0;
  virtual void stream(std::string data) = 0;  // one or more complete "data: ...\n\n" events
  virtual void end_stream() = 0;
};

}  // namespace kvactor::http
