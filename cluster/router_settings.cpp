#include "cluster/router_settings.hpp"

#include <set>

namespace kvactor::cluster {

std::variant<std::vector<node_address>, std::string> parse_node_list(const std::string& text) {
  std::vector<node_address> out;
  std::set<std::string> seen;
  std::size_t pos = 0;
  if (text.empty()) return std::string("--nodes is empty: give HOST:PORT[,HOST:PORT...]");
  while (pos <= text.size()) {
    const auto comma = text.find(',', pos);
    const std::string item = text.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    const auto colon = item.rfind(':');
    if (item.empty() || colon == std::string::npos || colon == 0 || colon + 1 == item.size())
      return "node '" + item + "' is not HOST:PORT";
    node_address a;
    a.host = item.substr(0, colon);
    if (a.host.size() > 2 && a.host.front() == '[' && a.host.back() == ']')
      a.host = a.host.substr(1, a.host.size() - 2);
    const std::string port = item.substr(colon + 1);
    if (port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos)
      return "node '" + item + "': port must be a number in 1..65535";
    const long value = std::stol(port);
    if (value < 1 || value > 65535) return "node '" + item + "': port must be a number in 1..65535";
    a.port = static_cast<uint16_t>(value);
    if (!seen.insert(a.text()).second) return "node '" + item + "' is listed twice";
    out.push_back(a);
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  return out;
}

}  // namespace kvactor::cluster
