#include "http/server.hpp"

#include <cstdio>
#include <future>
#include <stdexcept>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include <nlohmann/json.hpp>

#include "http/fenced_service.hpp"
#include "http/session.hpp"

namespace kvactor::http {

namespace {

// Accepts connections and gives each a session on its own strand.
class listener : public std::enable_shared_from_this<listener> {
 public:
  listener(net::io_context& ioc, tcp::endpoint endpoint, server_context& ctx)
      : ioc_(ioc), acceptor_(net::make_strand(ioc)), retry_(acceptor_.get_executor()), ctx_(ctx) {
    beast::error_code ec;
    acceptor_.open(endpoint.protocol(), ec);
    if (!ec) acceptor_.set_option(net::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(endpoint, ec);
    if (!ec) acceptor_.listen(net::socket_base::max_listen_connections, ec);
    if (ec)
      throw std::runtime_error("cannot listen on " + endpoint.address().to_string() + ":" +
                               std::to_string(endpoint.port()) + ": " + ec.message());
    port_ = acceptor_.local_endpoint().port();
  }

  unsigned short port() const { return port_; }  // still known after the acceptor closes
  void run() {
    net::dispatch(acceptor_.get_executor(), [self = shared_from_this()] { self->do_accept(); });
  }
  void stop() {
    net::post(acceptor_.get_executor(), [self = shared_from_this()] {
      beast::error_code ec;
      self->acceptor_.close(ec);
      self->retry_.cancel();
    });
  }

 private:
  void do_accept() {
    acceptor_.async_accept(net::make_strand(ioc_), beast::bind_front_handler(&listener::on_accept, shared_from_this()));
  }
  void on_accept(beast::error_code ec, tcp::socket socket) {
    if (!acceptor_.is_open()) return;
    if (ec) {
      // Out of file descriptors and the like: wait a little instead of spinning.
      std::fprintf(stderr, "kvactor http: accept: %s\n", ec.message().c_str());
      retry_.expires_after(std::chrono::milliseconds(50));
      retry_.async_wait([self = shared_from_this()](beast::error_code wec) {
        if (!wec) self->do_accept();
      });
      return;
    }
    // Far over max_connections (a flood of refusals): close at once so refusing costs nothing.
    const auto open = ctx_.metrics.open_connections.load();
    const auto limit = static_cast<int64_t>(ctx_.cfg.max_connections);
    if (open >= 2 * limit) {
      ++ctx_.metrics.refused_connections;
      beast::error_code cec;
      socket.close(cec);
      return do_accept();
    }
    admit(std::move(socket));
    do_accept();
  }

  // Fair use: a client over its own connection limit gets 429; a full server sheds its
  // oldest idle (else slowest reading) connection to make room, and answers 503 only
  // when every connection is answering a request. Refusals are short-lived sessions
  // that read one request and answer it.
  void admit(tcp::socket socket) {
    beast::error_code aec;
    const auto remote = socket.remote_endpoint(aec);
    if (aec) return;  // already gone
    auto verdict = ctx_.connections.admit(remote.address().to_string());
    if (verdict.shed) verdict.shed->shed();
    using admission = connection_registry::admission;
    if (verdict.verdict == admission::admitted) {
      std::make_shared<session>(std::move(socket), ctx_, verdict.id)->run();
      return;
    }
    api_error refusal;
    if (verdict.verdict == admission::client_full) {
      ++ctx_.metrics.client_refused_connections;
      refusal = {429,
                 "TOO_MANY_CONNECTIONS",
                 "this client address holds its limit of " + std::to_string(ctx_.cfg.max_connections_per_client) +
                     " connections (max_connections_per_client); retry later",
                 1,
                 {}};
    } else {
      ++ctx_.metrics.refused_connections;
      refusal = {503,
                 "TOO_MANY_CONNECTIONS",
                 "the server holds its limit of " + std::to_string(ctx_.cfg.max_connections) +
                     " connections, all answering requests; retry later",
                 1,
                 {}};
    }
    std::make_shared<session>(std::move(socket), ctx_, 0, std::move(refusal))->run();
  }

  net::io_context& ioc_;
  tcp::acceptor acceptor_;
  net::steady_timer retry_;
  server_context& ctx_;
  unsigned short port_ = 0;
};

// After the drain, one line with the page accounting: an operator (and the SIGTERM
// tests) can see from outside that every page came back (private 0, locked 0).
void log_drained_pages(generation_service& service) {
  auto done = std::make_shared<std::promise<std::string>>();
  auto snapshot = done->get_future();
  service.inspect("metrics", [done](std::string json) { done->set_value(std::move(json)); });
  if (snapshot.wait_for(std::chrono::seconds(2)) != std::future_status::ready) {
    std::fprintf(stderr, "kvactor http: drained; the engine did not report its pages\n");
    return;
  }
  const auto m = nlohmann::json::parse(snapshot.get(), nullptr, false);
  if (!m.is_object() || !m.contains("pages") || !m["pages"].is_object()) return;
  const auto& p = m["pages"];
  auto count = [&p](const char* k) { return p.contains(k) && p[k].is_number_integer() ? p[k].get<long long>() : -1LL; };
  std::fprintf(stderr,
               "kvactor http: drained: pages total=%lld free=%lld private=%lld cached_locked=%lld "
               "cached_evictable=%lld\n",
               count("total"), count("free"), count("private"), count("cached_locked"), count("cached_evictable"));
}

// The configuration as served: max_connections 0 becomes the descriptor-sized default.
server_config resolved(server_config cfg) {
  cfg.max_connections = effective_max_connections(cfg);
  return cfg;
}

}  // namespace

struct http_server::impl {
  impl(const server_config& cfg, generation_service& service)
      : fenced(service), ctx(resolved(cfg), fenced), ioc(cfg.io_threads) {
    beast::error_code ec;
    const auto address = net::ip::make_address(cfg.host, ec);
    if (ec) throw std::runtime_error("host: not an IP address: " + cfg.host);
    accept = std::make_shared<listener>(ioc, tcp::endpoint{address, static_cast<unsigned short>(cfg.port)}, ctx);
    accept->run();
    threads.reserve(static_cast<std::size_t>(cfg.io_threads));
    for (int i = 0; i < cfg.io_threads; ++i)
      threads.emplace_back([this] {
        for (;;) {
          try {
            ioc.run();
            return;
          } catch (const std::exception& e) {  // a handler threw: report it, keep serving
            std::fprintf(stderr, "kvactor http: %s\n", e.what());
          }
        }
      });
  }

  void stop_threads() {
    ioc.stop();
    for (auto& t : threads)
      if (t.joinable()) t.join();
    threads.clear();
  }

  fenced_service fenced;  // every engine callback goes through it (http/fenced_service.hpp)
  server_context ctx;
  net::io_context ioc;
  std::shared_ptr<listener> accept;
  std::vector<std::thread> threads;
  bool shut_down = false;
};

http_server::http_server(const server_config& cfg, generation_service& service)
    : impl_(std::make_unique<impl>(cfg, service)) {}

http_server::~http_server() {
  if (!impl_->shut_down) shutdown(std::chrono::milliseconds(0));
}

unsigned short http_server::port() const { return impl_->accept->port(); }

const server_metrics& http_server::metrics() const { return impl_->ctx.metrics; }
int http_server::max_connections() const { return impl_->ctx.cfg.max_connections; }
const std::string& http_server::chat_template_origin() const { return impl_->ctx.chat.origin(); }

void http_server::shutdown(std::chrono::milliseconds drain) {
  if (impl_->shut_down) return;
  impl_->shut_down = true;
  impl_->ctx.draining = true;
  impl_->accept->stop();
  // Finishes or cancels every engine request; their final events reach the sessions.
  impl_->ctx.service.shutdown(drain);
  log_drained_pages(impl_->ctx.service);
  // Let the sessions write those last answers (bounded: a stuck client cannot hold us).
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(2) + drain;
  while (impl_->ctx.answers_in_flight.load() > 0 && std::chrono::steady_clock::now() < give_up)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  impl_->stop_threads();
  // What the engine still holds of the connections is released now, while they can be.
  impl_->fenced.sever();
}

}  // namespace kvactor::http
