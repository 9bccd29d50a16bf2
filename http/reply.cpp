#include "http/reply.hpp"

#include <algorithm>
#include <cstdio>
#include <random>

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

std::string choose_request_id(std::string_view given) {
  const bool usable = !given.empty() && given.size() <= 128 &&
                      std::all_of(given.begin(), given.end(), [](char c) { return c > 0x20 && c < 0x7f; });
  if (usable) return std::string(given);
  thread_local std::mt19937_64 rng{std::random_device{}()};
  char id[24];
  std::snprintf(id, sizeof id, "req-%016llx", static_cast<unsigned long long>(rng()));
  return id;
}

}  // namespace kvactor::http
