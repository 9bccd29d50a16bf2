// What every benchmark writes about the machine it ran on: the CPU's model name and the
// 1-minute load average (the machine is shared; a number means little without it).
#pragma once

#include <fstream>
#include <string>

namespace kvactor::bench {

inline std::string cpu_model_name() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  return "unknown";
}

inline std::string load_average() {
  std::ifstream in("/proc/loadavg");
  std::string one;
  in >> one;
  return one.empty() ? "unknown" : one;
}

}  // namespace kvactor::bench
