#include <cstdio>
#include <cstring>
#include <exception>

#include "cli/command.hpp"

namespace kvactor::cli {
std::map<std::string, command>& commands() {
  static std::map<std::string, command> table;
  return table;
}
}  // namespace kvactor::cli

namespace {
void print_usage(FILE* out) {
  std::fprintf(out, "usage: kvactor <command> [options]\n\ncommands:\n");
  for (const auto& [name, cmd] : kvactor::cli::commands())
    std::fprintf(out, "  %-10s %s\n", name.c_str(), cmd.summary.c_str());
  std::fprintf(out, "\n`kvactor <command> --help` documents each command's flags.\n");
}
}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    print_usage(stderr);
    return 2;
  }
  if (!std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h") || !std::strcmp(argv[1], "help")) {
    print_usage(stdout);
    return 0;
  }
  auto& table = kvactor::cli::commands();
  auto it = table.find(argv[1]);
  if (it == table.end()) {
    std::fprintf(stderr, "kvactor: unknown command '%s'\n\n", argv[1]);
    print_usage(stderr);
    return 2;
  }
  try {
    return it->second.run(argc - 1, argv + 1);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "kvactor %s: %s\n", argv[1], e.what());
    return 1;
  }
}
