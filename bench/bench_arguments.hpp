// Strict parsing of the benchmark tools' numeric flags. A bad value ends the tool
// with exit status 2 and a message naming the flag, never a silent 0 or a partial
// parse ("5x" as 5) or undefined behaviour on overflow (atoi's habits), and never
// an uncaught exception (std::stod's).
#pragma once

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace kvactor::bench {

// A decimal integer in [1, max]; exits with status 2 on anything else.
inline int parse_positive_int(const char* tool, const std::string& flag, const std::string& text, long max = 1L << 30) {
  char* end = nullptr;
  errno = 0;
  const long v = std::strtol(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || errno == ERANGE || v <= 0 || v > max) {
    std::fprintf(stderr, "%s: %s needs a positive integer up to %ld, got '%s'\n", tool, flag.c_str(), max,
                 text.c_str());
    std::exit(2);
  }
  return static_cast<int>(v);
}

// A finite number > 0; exits with status 2 on anything else.
inline double parse_positive_number(const char* tool, const std::string& flag, const std::string& text) {
  char* end = nullptr;
  errno = 0;
  const double v = std::strtod(text.c_str(), &end);
  if (text.empty() || *end != '\0' || errno == ERANGE || !std::isfinite(v) || !(v > 0.0)) {
    std::fprintf(stderr, "%s: %s needs a positive number, got '%s'\n", tool, flag.c_str(), text.c_str());
    std::exit(2);
  }
  return v;
}

// "1,2,4" -> {1, 2, 4}, each in [1, 2^24]; exits with status 2 on anything else.
inline std::vector<int> parse_int_list(const char* tool, const std::string& flag, const std::string& text) {
  std::vector<int> out;
  std::size_t at = 0;
  while (at <= text.size()) {
    const std::size_t comma = text.find(',', at);
    const std::string item = text.substr(at, comma == std::string::npos ? std::string::npos : comma - at);
    char* end = nullptr;
    errno = 0;
    const long v = std::strtol(item.c_str(), &end, 10);
    if (item.empty() || *end != '\0' || errno == ERANGE || v <= 0 || v > (1 << 24)) {
      std::fprintf(stderr, "%s: %s needs positive integers separated by commas, got '%s'\n", tool, flag.c_str(),
                   text.c_str());
      std::exit(2);
    }
    out.push_back(static_cast<int>(v));
    if (comma == std::string::npos) break;
    at = comma + 1;
  }
  return out;
}

}  // namespace kvactor::bench
