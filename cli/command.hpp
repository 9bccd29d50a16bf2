// Subcommands of the `kvactor` executable register themselves here, one file each
// (cli/<name>_command.cpp), so areas add commands without touching main.cpp.
#pragma once

#include <functional>
#include <map>
#include <string>

namespace kvactor::cli {

struct command {
  std::string summary;                  // one line for `kvactor --help`
  std::function<int(int, char**)> run;  // argv[0] is the subcommand name
};

std::map<std::string, command>& commands();

struct register_command {
  register_command(const std::string& name, command c) { commands()[name] = std::move(c); }
};

}  // namespace kvactor::cli
