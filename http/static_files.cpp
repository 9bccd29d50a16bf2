#include "http/static_files.hpp"

#include <filesystem>
#include <fstream>
#include <iterator>

namespace kvactor::http {
namespace {

namespace fs = std::filesystem;

constexpr std::uintmax_t max_file_bytes = 32u << 20;

api_error missing(std::string_view name) {
  return {404, "NOT_FOUND", "no such console file: " + std::string(name), 0, {}};
}

// Letters, digits, '-', '_', '.', '/' only; no empty, "." or ".." segment.
bool safe_relative_path(std::string_view p) {
  if (p.empty() || p.front() == '/') return false;
  std::size_t start = 0;
  while (start <= p.size()) {
    const auto slash = p.find('/', start);
    const std::string_view seg =
        p.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
    if (seg.empty() || seg == "." || seg == "..") return false;
    for (char c : seg) {
      const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
                      c == '_' || c == '.';
      if (!ok) return false;
    }
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return true;
}

}  // namespace

std::string content_type_for(std::string_view name) {
  auto ends = [&](std::string_view ext) {
    return name.size() >= ext.size() && name.substr(name.size() - ext.size()) == ext;
  };
  if (ends(".html") || ends(".htm")) return "text/html; charset=utf-8";
  if (ends(".js") || ends(".mjs")) return "text/javascript; charset=utf-8";
  if (ends(".css")) return "text/css; charset=utf-8";
  if (ends(".png")) return "image/png";
  if (ends(".svg")) return "image/svg+xml";
  if (ends(".json")) return "application/json";
  if (ends(".ico")) return "image/x-icon";
  if (ends(".txt")) return "text/plain; charset=utf-8";
  return "application/octet-stream";
}

std::variant<http_reply, api_error> console_file(const std::string& root_dir, std::string_view relative) {
  const std::string name = relative.empty() ? "index.html" : std::string(relative);
  if (!safe_relative_path(name)) return missing(relative);
  std::error_code ec;
  const fs::path root = fs::canonical(root_dir, ec);
  if (ec) return missing(name);
  const fs::path file = fs::canonical(root / name, ec);
  if (ec) return missing(name);
  // A symlink inside the directory must not lead outside it.
  const auto rel = file.lexically_relative(root);
  if (rel.empty() || *rel.begin() == "..") return missing(name);
  if (!fs::is_regular_file(file, ec) || fs::file_size(file, ec) > max_file_bytes) return missing(name);

  std::ifstream in(file, std::ios::binary);
  if (!in) return missing(name);
  http_reply r;
  r.status = 200;
  r.content_type = content_type_for(name);
  r.body.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  r.headers.emplace_back("Cache-Control", "no-cache");
  return r;
}

}  // namespace kvactor::http
