#include "tests/faults/scenario.hpp"

#include <future>

#include <doctest/doctest.h>

namespace kvactor::test {

bool starts_with(const std::string& text, const std::string& prefix) {
  return text.size() >= prefix.size() && text.compare(0, prefix.size(), prefix) == 0;
}

std::vector<std::string> solo_texts(faulty_server& s, const std::vector<job>& jobs) {
  std::vector<std::string> out;
  for (const auto& j : jobs) {
    const auto o = generate(s.port(), j);
    REQUIRE_MESSAGE(o.status == 200, j.rid << ": " << o.ending);
    REQUIRE_MESSAGE((o.ending == "length" || o.ending == "stop"), j.rid << ": " << o.ending);
    out.push_back(o.text);
  }
  return out;
}

std::vector<outcome> run_together(faulty_server& s, const std::vector<job>& jobs, const std::function<void()>& during) {
  std::vector<std::future<outcome>> pending;
  const unsigned short port = s.port();
  for (const auto& j : jobs) pending.push_back(std::async(std::launch::async, [port, j] { return generate(port, j); }));
  if (during) during();
  std::vector<outcome> out;
  for (auto& f : pending) out.push_back(f.get());
  return out;
}

bool unchanged(const outcome& o, const std::string& solo) {
  return o.status == 200 && (o.ending == "length" || o.ending == "stop") && o.text == solo;
}

bool cut_short_by(const outcome& o, const std::string& code, const std::string& solo) {
  // Streamed: 200 with an error event (or finish_reason "cancelled") and [DONE].
  // Not streamed: the error's own status, nothing else.
  if (o.ending != code) return false;
  if (o.status == 200) return starts_with(solo, o.text);
  return o.status >= 400 && o.text.empty();
}

}  // namespace kvactor::test
