// The real `kvactor serve` with an API key: the key protects generation, it never
// appears in the process's output (banner, request errors, shutdown) nor on its
// command line, and a bad key file is refused without quoting the key.
#include <doctest/doctest.h>

#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include <nlohmann/json.hpp>

#include "tests/http/child_process.hpp"
#include "tests/http/http_client.hpp"

using namespace kvactor::test;

#ifdef KVACTOR_BINARY
namespace {

std::string models(const char* file) { return std::string(KVACTOR_MODELS_DIR) + "/" + file; }

std::vector<std::string> serve_args(std::vector<std::string> extra = {}) {
  std::vector<std::string> args = {
      KVACTOR_BINARY,      "serve", "--port", "0", "--model", models("stories260K.bin"), "--tokenizer",
      models("tok512.bin")};
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

std::string command_line(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/cmdline", std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// Every kind of request a client might send with or without the key; none may make
// the server print it.
void exercise(unsigned short port, const std::string& key) {
  const std::string gen = R"({"text":"Once upon a time","sampling_params":{"max_completion_tokens":4}})";
  CHECK(http_call(port, "POST", "/generate", gen).status == 401);
  CHECK(http_call(port, "POST", "/generate", gen, {{"Authorization", "Bearer " + key + "x"}}).status == 401);
  CHECK(http_call(port, "POST", "/generate", gen, {{"Authorization", "Basic " + key}}).status == 401);
  CHECK(http_call(port, "POST", "/generate", gen, {{"Authorization", "Bearer " + key}}).status == 200);
  CHECK(http_call(port, "POST", "/generate", "{bad json", {{"Authorization", "Bearer " + key}}).status == 400);
  CHECK(http_call(port, "GET", "/v1/inspect/requests", "", {{"Authorization", "Bearer " + key}}).status == 200);
  CHECK(http_call(port, "GET", "/v1/inspect/requests").status == 401);
  CHECK(http_call(port, "GET", "/health").status == 200);
  http_connection raw(port);
  raw.send_raw("POST /generate HTTP/1.1\r\nAuthorization: Bearer " + key + "\r\nContent-Length: zz\r\n\r\n");
  raw.read_raw(std::chrono::milliseconds(500));
}

}  // namespace

TEST_CASE("kvactor serve: the API key from a file or the environment is enforced and never printed") {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("kvactor_serve_key_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const std::string file_key = "file-key-a1b2c3d4e5f6a7b8c9d0";
  const std::string env_key = "env-key-0f9e8d7c6b5a4f3e2d1c";
  std::ofstream(dir / "key") << file_key << "\n";

  for (bool from_file : {true, false}) {
    CAPTURE(from_file);
    const std::string key = from_file ? file_key : env_key;
    child server(from_file ? serve_args({"--api-key-file", (dir / "key").string()}) : serve_args(),
                 {std::string("KVACTOR_API_KEY=") + (from_file ? "" : env_key)});
    const unsigned short port = server.wait_for_port();
    REQUIRE_MESSAGE(port != 0, server.err);
    CHECK(command_line(server.pid).find(key) == std::string::npos);
    exercise(port, key);
    kill(server.pid, SIGTERM);
    CHECK(server.wait_exit() == 0);
    server.read_rest(std::chrono::seconds(2));
    CHECK(server.err.find("stopped") != std::string::npos);
    CHECK_MESSAGE(server.err.find(key) == std::string::npos, server.err);
    CHECK(server.err.find(key.substr(0, 12)) == std::string::npos);
  }

  // A key that is too short is refused at start, naming the key's source, not the key.
  std::ofstream(dir / "short") << "short-key";
  child bad(serve_args({"--api-key-file", (dir / "short").string()}));
  CHECK(bad.wait_exit() == 2);
  bad.read_rest(std::chrono::seconds(2));
  CHECK(bad.err.find("api_key_file") != std::string::npos);
  CHECK(bad.err.find("short-key") == std::string::npos);
  // No plain flag exists: a key typed on the command line would show in ps.
  child flag(serve_args({"--api-key", file_key}));
  CHECK(flag.wait_exit() == 2);
  flag.read_rest(std::chrono::seconds(2));
  CHECK(flag.err.find("api_key: unknown configuration key") != std::string::npos);
  fs::remove_all(dir);
}
#endif
