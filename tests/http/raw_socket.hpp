// A plain blocking TCP socket for attack tests: connects to 127.0.0.1:port from a
// chosen loopback source address (127.0.0.2, ... are distinct clients to the server),
// optionally with a small receive buffer (a slow reader), and sends or reads raw bytes.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <string>

namespace kvactor::test {

class raw_socket {
 public:
  // `receive_buffer` > 0: SO_RCVBUF before connecting (bounds the TCP window).
  raw_socket(const std::string& source, unsigned short port, int receive_buffer = 0) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd_ < 0) return;
    if (receive_buffer > 0) ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof receive_buffer);
    sockaddr_in from{};
    from.sin_family = AF_INET;
    ::inet_pton(AF_INET, source.c_str(), &from.sin_addr);
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(port);
    ::inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
    int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    ok_ = ::bind(fd_, reinterpret_cast<sockaddr*>(&from), sizeof from) == 0 &&
          ::connect(fd_, reinterpret_cast<sockaddr*>(&to), sizeof to) == 0;
  }
  ~raw_socket() { close(); }
  raw_socket(raw_socket&& o) noexcept : fd_(o.fd_), ok_(o.ok_) { o.fd_ = -1; }
  raw_socket& operator=(raw_socket&&) = delete;
  raw_socket(const raw_socket&) = delete;

  bool connected() const { return ok_; }
  // Wakes a send blocked in another thread (close would not); the fd stays open.
  void shutdown() {
    if (fd_ >= 0) ::shutdown(fd_, SHUT_RDWR);
  }
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  // False once the peer has closed (or the send failed).
  bool send(const std::string& bytes) {
    std::size_t done = 0;
    while (fd_ >= 0 && done < bytes.size()) {
      const ssize_t n = ::send(fd_, bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL);
      if (n <= 0) return false;
      done += static_cast<std::size_t>(n);
    }
    return fd_ >= 0;
  }
  // Up to `max` bytes that arrive within `timeout`; sets eof() when the peer closed.
  std::string read_some(std::chrono::milliseconds timeout, std::size_t max = 65536) {
    if (fd_ < 0 || eof_) return {};
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(timeout.count())) <= 0) return {};
    std::string buf(max, '\0');
    const ssize_t n = ::recv(fd_, buf.data(), max, 0);
    if (n <= 0) {
      eof_ = true;
      return {};
    }
    buf.resize(static_cast<std::size_t>(n));
    return buf;
  }
  // Reads until `until` appears in what was read, EOF, or the time is up.
  std::string read_until(const std::string& until, std::chrono::milliseconds within) {
    std::string got;
    const auto end = std::chrono::steady_clock::now() + within;
    while (!eof_ && got.find(until) == std::string::npos && std::chrono::steady_clock::now() < end)
      got += read_some(std::chrono::milliseconds(50));
    return got;
  }
  // True when the server closes within `within` (bytes it sends meanwhile are dropped).
  bool closed_by_peer(std::chrono::milliseconds within) {
    const auto end = std::chrono::steady_clock::now() + within;
    while (!eof_ && std::chrono::steady_clock::now() < end) read_some(std::chrono::milliseconds(50));
    return eof_;
  }
  bool eof() const { return eof_; }

 private:
  int fd_ = -1;
  bool ok_ = false;
  bool eof_ = false;
};

}  // namespace kvactor::test
