// A small blocking HTTP/1.1 client for the tests (Beast inside http_client.cpp,
// not here, so test files compile quickly). Loopback only.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace kvactor::test {

struct http_result {
  int status = 0;  // 0 = no response (error says why)
  std::string body;
  std::map<std::string, std::string> headers;  // lower-case names
  bool keep_alive = false;
  std::string error;
  std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? std::string() : it->second;
  }
};

using header_list = std::vector<std::pair<std::string, std::string>>;

// One request on a fresh connection.
http_result http_call(unsigned short port, const std::string& method, const std::string& target,
                      const std::string& body = "", const header_list& headers = {});

// A connection kept open across requests (keep-alive), or used byte by byte.
class http_connection {
 public:
  explicit http_connection(unsigned short port);
  ~http_connection();
  http_connection(http_connection&&) noexcept;
  bool connected() const;
  http_result call(const std::string& method, const std::string& target, const std::string& body = "",
                   const header_list& headers = {});
  void send_raw(const std::string& bytes);
  // Reads what arrives within `timeout`; stops early once `until` appears (if given).
  std::string read_raw(std::chrono::milliseconds timeout, const std::string& until = "");
  // True when the server has closed the connection (a read sees EOF or reset).
  bool closed_by_peer(std::chrono::milliseconds timeout);
  void close();

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

// The payloads of "data: ..." lines of a server-sent event stream, in order.
std::vector<std::string> sse_data(const std::string& body);

}  // namespace kvactor::test
