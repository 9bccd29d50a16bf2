#include "cli/service_startup.hpp"

#include <pthread.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace kvactor::cli {

namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw http::config_error("config: cannot read " + path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string find_config(const std::string& given) {
  namespace fs = std::filesystem;
  if (fs::path(given).is_absolute() || fs::exists(given)) return given;
  const auto in_repo = fs::path(http::repository_dir()) / given;
  if (fs::exists(in_repo)) return in_repo.string();
  throw http::config_error("config: file not found: " + given);
}

}  // namespace

key_value_flags parse_key_value_flags(int argc, char** argv) {
  key_value_flags flags;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      flags.help = true;
      return flags;
    }
    if (arg.rfind("--", 0) != 0) {
      flags.error = "unexpected argument '" + arg + "' (see --help)";
      return flags;
    }
    std::string key = arg.substr(2), value;
    const auto eq = key.find('=');
    if (eq != std::string::npos) {
      value = key.substr(eq + 1);
      key.resize(eq);
    } else if (i + 1 < argc) {
      value = argv[++i];
    } else {
      flags.error = arg + " needs a value";
      return flags;
    }
    for (auto& c : key)
      if (c == '-') c = '_';
    flags.pairs.emplace_back(std::move(key), std::move(value));
  }
  return flags;
}

http::server_config load_service_config(const std::string& config_path,
                                        const std::vector<std::pair<std::string, std::string>>& overrides) {
  http::server_config cfg =
      http::load_server_config(read_file(find_config(config_path)), overrides, http::repository_dir());
  http::check_model_files(cfg);
  return cfg;
}

sigset_t block_stop_signals() {
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);
  return stop_signals;
}

int wait_for_stop_signal(const sigset_t& stop_signals) {
  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  return signal_number;
}

}  // namespace kvactor::cli
