#include "tests/http/http_client.hpp"

#include <sys/socket.h>
#include <sys/time.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace kvactor::test {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

struct http_connection::impl {
  net::io_context ioc;
  tcp::socket socket{ioc};
  beast::flat_buffer buffer;
  bool ok = false;

  void set_read_timeout(std::chrono::milliseconds t) {
    timeval tv{};
    tv.tv_sec = static_cast<time_t>(t.count() / 1000);
    tv.tv_usec = static_cast<suseconds_t>((t.count() % 1000) * 1000);
    ::setsockopt(socket.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
};

http_connection::http_connection(unsigned short port) : impl_(std::make_unique<impl>()) {
  beast::error_code ec;
  impl_->socket.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port), ec);
  impl_->ok = !ec;
  if (impl_->ok) {
    impl_->socket.set_option(tcp::no_delay(true), ec);
    impl_->set_read_timeout(std::chrono::milliseconds(30000));
  }
}
http_connection::~http_connection() = default;
http_connection::http_connection(http_connection&&) noexcept = default;

bool http_connection::connected() const { return impl_ && impl_->ok; }

http_result http_connection::call(const std::string& method, const std::string& target, const std::string& body,
                                  const header_list& headers) {
  http_result out;
  if (!connected()) {
    out.error = "not connected";
    return out;
  }
  http::request<http::string_body> req{http::string_to_verb(method), target, 11};
  if (req.method() == http::verb::unknown) req.method_string(method);
  req.set(http::field::host, "127.0.0.1");
  req.set(http::field::content_type, "application/json");
  for (const auto& [k, v] : headers) req.set(k, v);
  req.body() = body;
  req.prepare_payload();
  beast::error_code ec;
  http::write(impl_->socket, req, ec);
  if (ec) {
    out.error = "write: " + ec.message();
    return out;
  }
  http::response_parser<http::string_body> parser;
  parser.body_limit(64u << 20);
  http::read(impl_->socket, impl_->buffer, parser, ec);
  if (ec) {
    out.error = "read: " + ec.message();
    return out;
  }
  auto res = parser.release();
  out.status = static_cast<int>(res.result_int());
  out.body = std::move(res.body());
  out.keep_alive = res.keep_alive();
  for (const auto& field : res) {
    std::string name(field.name_string());
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    out.headers[name] = std::string(field.value());
  }
  return out;
}

void http_connection::send_raw(const std::string& bytes) {
  beast::error_code ec;
  net::write(impl_->socket, net::buffer(bytes), ec);
}

std::string http_connection::read_raw(std::chrono::milliseconds timeout, const std::string& until) {
  std::string got;
  const auto end = std::chrono::steady_clock::now() + timeout;
  impl_->set_read_timeout(std::chrono::milliseconds(20));
  while (std::chrono::steady_clock::now() < end) {
    char buf[4096];
    beast::error_code ec;
    const std::size_t n = impl_->socket.read_some(net::buffer(buf), ec);
    if (n > 0) got.append(buf, n);
    if (!until.empty() && got.find(until) != std::string::npos) break;
    if (ec && ec != net::error::would_block && ec != net::error::try_again) break;
  }
  impl_->set_read_timeout(std::chrono::milliseconds(30000));
  return got;
}

bool http_connection::closed_by_peer(std::chrono::milliseconds timeout) {
  const auto end = std::chrono::steady_clock::now() + timeout;
  impl_->set_read_timeout(std::chrono::milliseconds(20));
  bool closed = false;
  while (std::chrono::steady_clock::now() < end) {
    char buf[512];
    beast::error_code ec;
    impl_->socket.read_some(net::buffer(buf), ec);
    if (ec == net::error::eof || ec == net::error::connection_reset) {
      closed = true;
      break;
    }
  }
  impl_->set_read_timeout(std::chrono::milliseconds(30000));
  return closed;
}

void http_connection::close() {
  beast::error_code ec;
  impl_->socket.shutdown(tcp::socket::shutdown_both, ec);
  impl_->socket.close(ec);
  impl_->ok = false;
}

http_result http_call(unsigned short port, const std::string& method, const std::string& target,
                      const std::string& body, const header_list& headers) {
  http_connection c(port);
  header_list h = headers;
  h.emplace_back("Connection", "close");
  return c.call(method, target, body, h);
}

std::vector<std::string> sse_data(const std::string& body) {
  std::vector<std::string> out;
  std::size_t pos = 0;
  while ((pos = body.find("data: ", pos)) != std::string::npos) {
    const auto end = body.find("\n\n", pos);
    if (end == std::string::npos) break;
    out.push_back(body.substr(pos + 6, end - pos - 6));
    pos = end + 2;
  }
  return out;
}

}  // namespace kvactor::test
