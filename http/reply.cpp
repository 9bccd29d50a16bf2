#include "http/reply.hpp"

namespace kvactor::http {

http_reply json_reply(int status, std::string body) {
  http_reply r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

http_reply error_reply(const api_error& e) {
  http_reply r = json_reply(e.status, error_body(e));
  if (e.retry_after_s > 0) r.headers.emplace_back("Retry-After", std::to_string(e.retry_after_s));
  if (!e.allow.empty()) r.headers.emplace_back("Allow", e.allow);
  return r;
}

}  // namespace kvactor::http
