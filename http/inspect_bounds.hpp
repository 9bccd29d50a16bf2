// Bounds the trie dump of /v1/inspect/cache to a depth and a node count, so a huge
// cache never produces a huge response. Pure JSON-to-JSON.
#pragma once

#include <string>

namespace kvactor::http {

// `cache_json` follows http/API.md's "cache" shape; its "tree" is cut below `depth`
// levels and after `max_nodes` nodes (breadth-first), and "truncated" set to true
// where something was cut. Anything that is not that shape is returned unchanged.
std::string bound_cache_tree(const std::string& cache_json, int depth, int max_nodes);

}  // namespace kvactor::http
