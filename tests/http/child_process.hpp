// A child process for tests that run the real `kvactor serve`: its stderr is read
// through a pipe (searchable while it runs), extra environment variables can be
// given, and the destructor kills what is still running.
#pragma once

#include <doctest/doctest.h>

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <regex>
#include <string>
#include <vector>

extern char** environ;

namespace kvactor::test {

struct child {
  pid_t pid = -1;
  int err_fd = -1;
  std::string err;  // stdout and stderr, as read so far

  // `env`: "NAME=value" entries added to (or replacing) this process's environment.
  explicit child(std::vector<std::string> args, std::vector<std::string> env = {}) {
    std::vector<std::string> environment = env;
    for (char** e = environ; *e != nullptr; ++e) {
      const std::string entry(*e);
      bool replaced = false;
      for (const auto& mine : env)
        replaced = replaced || entry.substr(0, entry.find('=') + 1) == mine.substr(0, mine.find('=') + 1);
      if (!replaced) environment.push_back(entry);
    }
    int fds[2];
    REQUIRE(pipe(fds) == 0);
    pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      dup2(fds[1], 1);
      dup2(fds[1], 2);
      close(fds[0]);
      close(fds[1]);
      std::vector<char*> argv, envp;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      for (auto& e : environment) envp.push_back(e.data());
      envp.push_back(nullptr);
      execve(argv[0], argv.data(), envp.data());
      _exit(127);
    }
    close(fds[1]);
    err_fd = fds[0];
  }
  ~child() {
    if (pid > 0) {
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
    }
    if (err_fd >= 0) close(err_fd);
  }
  child(const child&) = delete;
  child& operator=(const child&) = delete;

  // Reads output until `pattern` matches or the time is up.
  std::smatch wait_for(const std::regex& pattern, std::chrono::milliseconds within) {
    std::smatch m;
    const auto end = std::chrono::steady_clock::now() + within;
    while (std::chrono::steady_clock::now() < end) {
      if (std::regex_search(err, m, pattern)) return m;
      pollfd p{err_fd, POLLIN, 0};
      if (poll(&p, 1, 50) > 0) {
        char buf[512];
        const ssize_t n = read(err_fd, buf, sizeof buf);
        if (n <= 0) break;
        err.append(buf, static_cast<std::size_t>(n));
      }
    }
    std::regex_search(err, m, pattern);
    return m;
  }
  // Reads whatever output is left (until the pipe closes or `within` passes).
  void read_rest(std::chrono::milliseconds within) {
    const auto end = std::chrono::steady_clock::now() + within;
    while (std::chrono::steady_clock::now() < end) {
      pollfd p{err_fd, POLLIN, 0};
      if (poll(&p, 1, 50) <= 0) continue;
      char buf[512];
      const ssize_t n = read(err_fd, buf, sizeof buf);
      if (n <= 0) return;
      err.append(buf, static_cast<std::size_t>(n));
    }
  }
  int wait_exit() {
    int status = 0;
    waitpid(pid, &status, 0);
    pid = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  // The port from "http://127.0.0.1:PORT" in the serve command's banner; 0 if none came.
  unsigned short wait_for_port(std::chrono::milliseconds within = std::chrono::seconds(30)) {
    const auto m = wait_for(std::regex("http://127\\.0\\.0\\.1:([0-9]+)"), within);
    return m.empty() ? 0 : static_cast<unsigned short>(std::stoi(m[1].str()));
  }
};

}  // namespace kvactor::test
