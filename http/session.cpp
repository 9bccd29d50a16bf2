#include "http/session.hpp"

#include <algorithm>
#include <cstdio>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>

#include "http/cors.hpp"

namespace kvactor::http {

namespace http = beast::http;

namespace {
constexpr std::size_t header_limit = 16 * 1024;
// A refused connection gets this long to send its request before it is just closed.
constexpr int refused_header_timeout_ms = 1000;

std::string_view sv(beast::string_view v) { return {v.data(), v.size()}; }

bool quiet_error(const beast::error_code& ec) {
  return ec == net::error::operation_aborted || ec == beast::error::timeout || ec == http::error::end_of_stream ||
         ec == net::error::eof || ec == net::error::connection_reset || ec == net::error::broken_pipe ||
         ec == net::error::not_connected || ec == net::error::bad_descriptor;
}
}  // namespace

session::session(tcp::socket&& socket, server_context& ctx, connection_registry::id_type id,
                 std::optional<api_error> refusal)
    : stream_(std::move(socket)), ctx_(ctx), refusal_(std::move(refusal)), id_(id) {
  ++ctx_.metrics.open_connections;
  // Streamed tokens are small writes: without this, Nagle holds each one back until
  // the previous is acknowledged (up to the client's delayed-ACK timeout).
  beast::error_code ec;
  stream_.socket().set_option(tcp::no_delay(true), ec);
}

session::~session() {
  --ctx_.metrics.open_connections;
  if (answering_) --ctx_.answers_in_flight;
  if (exchange_) exchange_->client_gone();
  if (request_counted_) ctx_.connections.end_request(id_);
  if (id_ != 0) ctx_.connections.remove(id_);
}

void session::run() {
  if (id_ != 0) ctx_.connections.attach(id_, std::weak_ptr<sheddable>(shared_from_this()));
  // Start on the connection's strand: every handler of this session runs there.
  net::dispatch(stream_.get_executor(), beast::bind_front_handler(&session::do_read, shared_from_this()));
}

void session::fail(beast::error_code ec, const char* what) {
  if (!quiet_error(ec)) std::fprintf(stderr, "kvactor http: %s: %s\n", what, ec.message().c_str());
}

void session::enter(connection_state state) {
  if (state_ == state) return;
  state_ = state;
  if (id_ != 0) ctx_.connections.set_state(id_, state);
}

void session::shed() {
  net::post(stream_.get_executor(), [self = shared_from_this()] { self->on_shed(); });
}

void session::on_shed() {
  // The registry picked this connection to make room; by now it may be answering.
  if (closed_ || answering_ || state_ == connection_state::answering) return;
  ++(state_ == connection_state::idle ? ctx_.metrics.shed_idle_connections : ctx_.metrics.shed_reading_connections);
  closed_ = true;
  beast::error_code ec;
  stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
  stream_.socket().close(ec);
}

void session::do_read() {
  if (closed_) return;
  if (buffer_.size() > 0) return do_read_header();  // a pipelined request is already here
  // Idle (keep-alive, or connected and silent): wait for one byte with no buffer held,
  // for idle_timeout_ms. The request's own deadlines start with that byte.
  enter(connection_state::idle);
  parser_.reset();
  buffer_.shrink_to_fit();
  stream_.expires_after(std::chrono::milliseconds(
      refusal_ ? std::min(ctx_.cfg.idle_timeout_ms, refused_header_timeout_ms) : ctx_.cfg.idle_timeout_ms));
  stream_.async_read_some(net::buffer(&first_byte_, 1),
                          beast::bind_front_handler(&session::on_first_byte, shared_from_this()));
}

void session::on_first_byte(beast::error_code ec, std::size_t n) {
  if (ec || n == 0) return do_close();  // idle timeout, the client closed, or shed
  if (closed_) return;                  // shed just as the byte arrived
  buffer_.commit(net::buffer_copy(buffer_.prepare(1), net::buffer(&first_byte_, 1)));
  do_read_header();
}

void session::do_read_header() {
  enter(connection_state::reading);
  head_ = false;  // an error answered before the head is parsed belongs to no earlier request
  request_id_.clear();
  cors_headers_.clear();
  parser_.emplace();
  parser_->header_limit(header_limit);
  parser_->body_limit(ctx_.cfg.body_limit_bytes);
  // The whole head within header_timeout_ms of its first byte: the deadline is absolute,
  // so a client dripping a byte at a time cannot extend it.
  stream_.expires_after(std::chrono::milliseconds(
      refusal_ ? std::min(ctx_.cfg.header_timeout_ms, refused_header_timeout_ms) : ctx_.cfg.header_timeout_ms));
  http::async_read_header(stream_, buffer_, *parser_,
                          beast::bind_front_handler(&session::on_read_header, shared_from_this()));
}

void session::on_read_header(beast::error_code ec, std::size_t) {
  if (ec == http::error::body_limit)
    return answer_and_close(
        {413,
         "BODY_TOO_LARGE",
         "request body exceeds the limit of " + std::to_string(ctx_.cfg.body_limit_bytes) + " bytes",
         0,
         {}});
  if (ec == beast::error::timeout && !refusal_) ++ctx_.metrics.head_deadline_closes;
  if (ec == http::error::end_of_stream || ec == beast::error::timeout || quiet_error(ec)) return do_close();
  if (ec) return answer_and_close({400, "BAD_HTTP", "malformed HTTP request: " + ec.message(), 0, {}});
  received_ = std::chrono::steady_clock::now();
  if (refusal_) return answer_and_close(*refusal_);
  auto& head = parser_->get();
  // curl and others wait for this before sending a large body.
  if (beast::iequals(head[http::field::expect], "100-continue") && !parser_->is_done()) {
    auto self = shared_from_this();
    static const std::string go_on = "HTTP/1.1 100 Continue\r\n\r\n";
    stream_.expires_after(std::chrono::milliseconds(ctx_.cfg.write_timeout_ms));
    net::async_write(stream_, net::buffer(go_on), [self](beast::error_code wec, std::size_t) {
      if (wec) return self->do_close();
      self->do_read_body();
    });
    return;
  }
  do_read_body();
}

void session::do_read_body() {
  // The whole body within read_timeout_ms plus its size at body_min_bytes_per_s (the
  // body limit's worth when the size is not announced); like the head's, not reset by
  // each byte received.
  const auto announced = parser_->content_length();
  const uint64_t size = announced ? *announced : static_cast<uint64_t>(ctx_.cfg.body_limit_bytes);
  const uint64_t allowance_ms = size * 1000 / static_cast<uint64_t>(ctx_.cfg.body_min_bytes_per_s);
  stream_.expires_after(std::chrono::milliseconds(static_cast<uint64_t>(ctx_.cfg.read_timeout_ms) + allowance_ms));
  http::async_read(stream_, buffer_, *parser_, beast::bind_front_handler(&session::on_read, shared_from_this()));
}

void session::on_read(beast::error_code ec, std::size_t) {
  if (ec == http::error::body_limit)
    return answer_and_close(
        {413,
         "BODY_TOO_LARGE",
         "request body exceeds the limit of " + std::to_string(ctx_.cfg.body_limit_bytes) + " bytes",
         0,
         {}});
  // On timeout the stream has already closed the socket: nothing can be answered.
  if (ec == beast::error::timeout) ++ctx_.metrics.body_deadline_closes;
  if (quiet_error(ec)) return do_close();
  if (ec) return answer_and_close({400, "BAD_HTTP", "malformed HTTP request: " + ec.message(), 0, {}});
  handle_request();
}

void session::handle_request() {
  auto req = parser_->release();
  version_ = req.version();
  head_ = req.method() == http::verb::head;
  request_id_ = choose_request_id(sv(req["x-request-id"]));
  // Bounded keep-alive: the answer to the last allowed request closes the connection.
  keep_alive_ = req.keep_alive() && ++requests_ < ctx_.cfg.max_requests_per_connection;
  chunked_ = version_ >= 11;
  answering_ = true;
  ++ctx_.answers_in_flight;
  enter(connection_state::answering);
  stream_.expires_never();  // generation takes as long as it takes; writes carry their own timeout
  // Fair use: one client address may have max_requests_per_client requests in flight.
  if (id_ != 0 && !(request_counted_ = ctx_.connections.begin_request(id_))) {
    ++ctx_.metrics.client_refused_requests;
    send(error_reply({429,
                      "TOO_MANY_REQUESTS",
                      "this client has " + std::to_string(ctx_.cfg.max_requests_per_client) +
                          " requests in flight (max_requests_per_client); retry later",
                      1,
                      {}}));
    if (answering_ && !closed_) do_watch();
    return;
  }
  if (answered_by_gate(req)) return;
  incoming_request in{std::string(req.method_string()),
                      std::string(req.target()),
                      std::move(req.body()),
                      received_,
                      std::string(req[http::field::authorization]),
                      request_id_};
  exchange_ = dispatch(ctx_, in, shared_from_this());
  if (exchange_ && exchange_->done()) exchange_.reset();  // answered while starting
  // Engine work in flight: keep reading so a disconnect cancels it at once.
  if (answering_ && !closed_) do_watch();
}

// Cross-origin checks (http/cors.hpp): a preflight or a refused origin is answered here.
bool session::answered_by_gate(const http::request<http::string_body>& req) {
  const cors_request asked{sv(req.method_string()), sv(req[http::field::origin]), sv(req[http::field::host]),
                           sv(req[http::field::access_control_request_headers])};
  cors_decision cors = check_origin(ctx_.cfg.cors_allowed, asked);
  cors_headers_ = std::move(cors.headers);
  if (!cors.answer) return false;
  send(std::move(*cors.answer));
  if (answering_ && !closed_) do_watch();
  return true;
}

void session::do_watch() {
  if (watching_ || closed_) return;
  watching_ = true;
  stream_.async_read_some(buffer_.prepare(4096), beast::bind_front_handler(&session::on_watch, shared_from_this()));
}

void session::on_watch(beast::error_code ec, std::size_t n) {
  watching_ = false;
  if (closed_) return;
  if (ec && ec != net::error::operation_aborted) return client_gone();
  if (!ec) buffer_.commit(n);
  if (!answering_) return do_read();  // answer written (the watch was cancelled or raced it)
  // Pipelined bytes past the limit stay in the kernel (TCP flow control holds the client
  // back) until this answer is written and the next request is read.
  if (!ec && buffer_.size() < static_cast<std::size_t>(ctx_.cfg.pipeline_buffer_bytes)) do_watch();
}

void session::client_gone() {
  closed_ = true;
  // A write in progress still reads its buffers: keep the front item until on_write.
  queue_.erase(queue_.begin() + (writing_ && !queue_.empty() ? 1 : 0), queue_.end());
  if (exchange_) exchange_->client_gone();
  beast::error_code ec;
  stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
  stream_.socket().close(ec);
}

void session::post(std::function<void()> fn) { net::post(stream_.get_executor(), std::move(fn)); }

void session::send(http_reply reply) {
  ctx_.metrics.count_response(reply.status);
  exchange_.reset();  // answered: drop the exchange (it holds this session)
  if (closed_) return;
  auto res = std::make_shared<http::response<http::string_body>>(static_cast<http::status>(reply.status), version_);
  res->set(http::field::server, "kvactor");
  if (!reply.content_type.empty()) res->set(http::field::content_type, reply.content_type);
  if (!request_id_.empty()) res->set("x-request-id", request_id_);
  for (const auto& [name, value] : cors_headers_) res->set(name, value);
  for (const auto& [name, value] : reply.headers) res->set(name, value);
  const bool keep = keep_alive_ && !ctx_.draining;
  res->keep_alive(keep);
  res->body() = std::move(reply.body);
  res->prepare_payload();
  if (head_) res->body().clear();  // HEAD: the headers (Content-Length included) and no body
  outgoing item;
  item.full = std::move(res);
  item.end_of_response = true;
  item.close_after = !keep;
  enqueue(std::move(item));
}

void session::begin_stream() {
  ctx_.metrics.count_response(200);
  if (closed_) return;
  const bool keep = keep_alive_ && chunked_ && !ctx_.draining;
  keep_alive_ = keep;
  std::string head = version_ >= 11 ? "HTTP/1.1 200 OK\r\n" : "HTTP/1.0 200 OK\r\n";
  head += "Server: kvactor\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n";
  add_common_headers(head);
  if (chunked_) head += "Transfer-Encoding: chunked\r\n";
  head += keep ? (version_ >= 11 ? "" : "Connection: keep-alive\r\n") : "Connection: close\r\n";
  head += "\r\n";
  outgoing item;
  item.bytes = std::move(head);
  enqueue(std::move(item));
}

void session::add_common_headers(std::string& head) const {
  if (!request_id_.empty()) head += "x-request-id: " + request_id_ + "\r\n";
  for (const auto& [name, value] : cors_headers_) head += name + ": " + value + "\r\n";
}

void session::stream(std::string data) {
  if (closed_ || data.empty()) return;
  outgoing item;
  if (chunked_) {
    char size[20];
    std::snprintf(size, sizeof size, "%zx\r\n", data.size());
    item.bytes.reserve(data.size() + 24);
    item.bytes.append(size).append(data).append("\r\n");
  } else {
    item.bytes = std::move(data);
  }
  enqueue(std::move(item));
}

void session::end_stream() {
  exchange_.reset();
  if (closed_) return;
  outgoing item;
  if (chunked_) item.bytes = "0\r\n\r\n";
  item.end_of_response = true;
  item.close_after = !keep_alive_;
  enqueue(std::move(item));
}

void session::answer_and_close(const api_error& e) {
  keep_alive_ = false;
  answering_ = true;
  ++ctx_.answers_in_flight;
  send(error_reply(e));
}

void session::enqueue(outgoing item) {
  queue_.push_back(std::move(item));
  if (!writing_) do_write();
}

void session::do_write() {
  if (queue_.empty() || closed_) {
    writing_ = false;
    return;
  }
  writing_ = true;
  stream_.expires_after(std::chrono::milliseconds(ctx_.cfg.write_timeout_ms));
  if (queue_.front().full) {
    http::async_write(stream_, *queue_.front().full, beast::bind_front_handler(&session::on_write, shared_from_this()));
    return;
  }
  // Coalesce queued chunks (tokens that arrived during the last write) into one write.
  outgoing merged = std::move(queue_.front());
  queue_.pop_front();
  while (!queue_.empty() && !queue_.front().full && !merged.end_of_response) {
    merged.bytes += queue_.front().bytes;
    merged.end_of_response = queue_.front().end_of_response;
    merged.close_after = queue_.front().close_after;
    queue_.pop_front();
  }
  // push_front keeps references to the other elements valid (enqueue appends meanwhile).
  queue_.push_front(std::move(merged));
  net::async_write(stream_, net::buffer(queue_.front().bytes),
                   beast::bind_front_handler(&session::on_write, shared_from_this()));
}

void session::on_write(beast::error_code ec, std::size_t) {
  writing_ = false;
  const outgoing done = std::move(queue_.front());
  queue_.pop_front();
  if (ec) {
    if (ec == beast::error::timeout) ++ctx_.metrics.write_timeout_closes;
    fail(ec, "write");
    return client_gone();
  }
  if (closed_) return;
  if (done.end_of_response) {
    answering_ = false;
    --ctx_.answers_in_flight;
    if (request_counted_) ctx_.connections.end_request(id_);
    request_counted_ = false;
    if (done.close_after) return do_close();
    if (watching_) {
      beast::error_code cec;
      stream_.socket().cancel(cec);  // on_watch resumes reading
    } else
      do_read();
    return;
  }
  do_write();
}

void session::do_close() {
  if (closed_) return;
  closed_ = true;
  beast::error_code ec;
  // Send what is written, then let the peer close; the socket goes with the session.
  stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
  if (watching_) stream_.socket().cancel(ec);
}

}  // namespace kvactor::http
