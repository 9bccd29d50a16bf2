// JSON text of an inspection snapshot (http/API.md), written by actors/inspection.cpp
// and the cluster router from the actors' typed answers (actors/interfaces.hpp).
#pragma once

#include <nlohmann/json.hpp>

#include <string>

namespace kvactor {

// Snapshots carry caller data (request ids) that need not be UTF-8; a strict dump
// would throw and lose the inspection reply.
inline std::string snapshot_text(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace kvactor
