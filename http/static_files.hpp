// The console's static files (GET /console/*), served from one directory with no
// way out of it: only plain relative names, no "..", no symlinks leading outside.
#pragma once

#include <string>
#include <string_view>
#include <variant>

#include "http/reply.hpp"

namespace kvactor::http {

// `relative` is the decoded path after /console/ ("" = index.html).
std::variant<http_reply, api_error> console_file(const std::string& root_dir, std::string_view relative);

// "text/html; charset=utf-8" for .html, and so on; application/octet-stream if unknown.
std::string content_type_for(std::string_view file_name);

}  // namespace kvactor::http
