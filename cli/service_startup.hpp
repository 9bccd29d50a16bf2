// What `kvactor serve` and `kvactor route` share before and after they serve: reading
// `--key value` flags, finding and loading the JSON configuration, and waiting for the
// stop signal.
#pragma once

#include <signal.h>

#include <string>
#include <utility>
#include <vector>

#include "http/server_config.hpp"

namespace kvactor::cli {

// `--key value` or `--key=value`, dashes in keys turned into underscores, in order.
struct key_value_flags {
  std::vector<std::pair<std::string, std::string>> pairs;
  bool help = false;  // --help or -h was given (parsing stopped there)
  std::string error;  // non-empty: what is wrong, for "kvactor <command>: <error>"
};
key_value_flags parse_key_value_flags(int argc, char** argv);

// The configuration file (a relative path is looked up in the current directory, then the
// repository) with `overrides` applied and the model files checked. Throws config_error.
http::server_config load_service_config(const std::string& config_path,
                                        const std::vector<std::pair<std::string, std::string>>& overrides);

// Blocks SIGINT and SIGTERM in the calling thread (call before any thread starts, so every
// thread inherits the mask and none is interrupted) and ignores SIGPIPE.
sigset_t block_stop_signals();
// Waits for one of the blocked signals; returns its number.
int wait_for_stop_signal(const sigset_t& stop_signals);

}  // namespace kvactor::cli
