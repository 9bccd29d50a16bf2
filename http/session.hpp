// One client connection (Beast internals; included only by session.cpp and
// server.cpp). Reads requests under deadlines a slow client cannot stretch (idle wait
// for the first byte, then the whole head, then the whole body), hands them to
// dispatch(), and writes answers from one queue, all on the connection's strand. It
// reports its state (idle, reading, answering) to ctx.connections, which may ask it to
// close (shed) to make room.
// While an answer is being produced it keeps a read open so a client that goes
// away is noticed at once and its engine requests are cancelled.
#pragma once

#include <deque>
#include <memory>
#include <optional>
#include <string>

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "http/request_dispatch.hpp"

namespace kvactor::http {

namespace beast = boost::beast;
namespace net = boost::asio;
using tcp = net::ip::tcp;

class session : public std::enable_shared_from_this<session>, public reply_sink, public sheddable {
 public:
  // `id`: the connection's entry in ctx.connections (0: not registered).
  // `refusal`: the server or this client is over its connection limit; the first
  // request is read (so the client sees the answer rather than a reset) and answered
  // with it, then the connection is closed.
  session(tcp::socket&& socket, server_context& ctx, connection_registry::id_type id,
          std::optional<api_error> refusal = std::nullopt);
  ~session() override;
  void run();

  // sheddable: close now if idle or still reading a request (from any thread).
  void shed() override;

  // reply_sink
  void post(std::function<void()> fn) override;
  void send(http_reply reply) override;
  void begin_stream() override;
  void stream(std::string data) override;
  void end_stream() override;

 private:
  // One queued write: a whole response, or raw bytes (stream head, chunks).
  struct outgoing {
    std::shared_ptr<beast::http::response<beast::http::string_body>> full;
    std::string bytes;
    bool end_of_response = false;
    bool close_after = false;
  };

  void do_read();
  void on_first_byte(beast::error_code ec, std::size_t n);
  void do_read_header();
  void enter(connection_state state);
  void on_shed();
  void on_read_header(beast::error_code ec, std::size_t);
  void do_read_body();
  void on_read(beast::error_code ec, std::size_t);
  void handle_request();
  bool answered_by_gate(const beast::http::request<beast::http::string_body>& req);
  void add_common_headers(std::string& head) const;
  void do_watch();
  void on_watch(beast::error_code ec, std::size_t n);
  void enqueue(outgoing item);
  void do_write();
  void on_write(beast::error_code ec, std::size_t);
  void answer_and_close(const api_error& e);
  void client_gone();
  void do_close();
  void fail(beast::error_code ec, const char* what);

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<beast::http::request_parser<beast::http::string_body>> parser_;
  server_context& ctx_;
  std::deque<outgoing> queue_;
  std::shared_ptr<generation_exchange> exchange_;
  std::chrono::steady_clock::time_point received_;
  unsigned version_ = 11;
  bool keep_alive_ = true;
  bool chunked_ = true;  // stream with chunked encoding (HTTP/1.1) or until close (1.0)
  bool writing_ = false;
  bool watching_ = false;
  bool answering_ = false;  // a request was read and its answer is not fully written
  bool closed_ = false;
  std::optional<api_error> refusal_;
  connection_registry::id_type id_ = 0;
  connection_state state_ = connection_state::idle;
  bool request_counted_ = false;  // counted in the client's requests in flight
  char first_byte_ = 0;           // an idle connection waits for one byte, holding no buffer
  int requests_ = 0;              // requests read on this connection (max_requests_per_connection)
  // Of the request being answered: HEAD (headers only), its x-request-id, CORS headers.
  bool head_ = false;
  std::string request_id_;
  std::vector<std::pair<std::string, std::string>> cors_headers_;
};

}  // namespace kvactor::http
