// HTTP request framing as the server does it (http/session.cpp): Beast's
// request_parser with the session's header limit and the server's body limit, one
// request after another on a keep-alive connection; each complete request goes to
// the server's own dispatch() (routing, query strings, inspect bounds, body parsing,
// console files, generation exchanges) over a synchronous stand-in engine. Checked:
// every dispatched request is answered exactly once, never with a 500, and a
// console answer is always one of the console directory's own files.
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <memory>
#include <set>
#include <string>
#include <string_view>

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

#include "actors/gateway.hpp"
#include "fuzz/fuzz_target.hpp"
#include "http/request_dispatch.hpp"
#include "model/model.hpp"
#include "model/tokenizer.hpp"

namespace {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using namespace kvactor;
using namespace kvactor::http;

// session.cpp's header_limit (a file-local constant there).
constexpr std::size_t session_header_limit = 16 * 1024;
constexpr int max_requests_per_input = 8;

// Stands in for an io_context: everything the engine or the sink posts runs here,
// in order, after dispatch() returns (as the connection's strand would run it).
std::deque<std::function<void()>> pending;

class synchronous_engine final : public generation_service {
 public:
  synchronous_engine() : tok_(tokenizer::load_llama2c(KVACTOR_MODELS_DIR "/tok512.bin", 512)) {
    model_.vocab_size = tok_.vocab_size();
    model_.max_seq_len = 512;
  }
  const tokenizer& tok() const override { return tok_; }
  const model_config& model() const override { return model_; }
  const engine_config& config() const override { return config_; }

  // A few tokens derived from the prompt, then "length": enough to drive text
  // streaming, stop strings and usage without a model.
  std::string submit(generation_request req, generation_callback cb) override {
    const std::string rid = req.rid.empty() ? "fuzz-" + std::to_string(next_rid_++) : req.rid;
    const int n = std::min(req.max_tokens, 4);
    const int32_t first = req.prompt.empty() ? 3 : req.prompt.back();
    pending.emplace_back([rid, n, first, prompt = static_cast<int>(req.prompt.size()), cb = std::move(cb)] {
      for (int k = 0; k < n; ++k) {
        generation_event ev;
        ev.rid = rid;
        ev.token = 3 + (first * 31 + k * 17) % 509;
        cb(ev);
      }
      generation_event done;
      done.type = generation_event::kind::finished;
      done.rid = rid;
      done.finish_reason = "length";
      done.usage = {prompt, 0, n};
      cb(done);
    });
    return rid;
  }
  void cancel(const std::string&) override {}
  void inspect(const std::string& what, std::function<void(std::string json)> cb) override {
    pending.emplace_back([what, cb = std::move(cb)] { cb(snapshot(what)); });
  }
  void shutdown(std::chrono::milliseconds) override {}

 private:
  static std::string snapshot(const std::string& what) {
    using nlohmann::json;
    if (what.rfind("cache", 0) == 0) {
      static const std::string tree = cache_tree();
      return tree;
    }
    if (what.rfind("request:", 0) == 0)
      return json{{"error", {{"code", "NOT_FOUND"}, {"message", "no such request"}}}}.dump();
    return json{{"requests", json::array()}, {"actors", json::array()}, {"time_ms", 0}}.dump();
  }

  // A cache tree deeper (a chain of 10 levels) and wider (one node with 300 leaves)
  // than the default bounds (8 levels, 256 nodes), so both cuts are exercised; kept
  // small because every cache request parses and prints it.
  static std::string cache_tree() {
    using nlohmann::json;
    auto node = [](int page, json children) {
      return json{{"page", page}, {"tokens", 16},     {"lock_count", page % 2},         {"hit_count", 1},
                  {"age_ms", 5},  {"pages_below", 1}, {"children", std::move(children)}};
    };
    json leaves = json::array();
    for (int i = 0; i < 300; ++i) leaves.push_back(node(1000 + i, json::array()));
    json tree = node(10, std::move(leaves));
    for (int level = 9; level >= 0; --level) tree = node(level, json::array({tree}));
    const json pages = {{"total", 64}, {"free", 10}, {"private", 0}, {"cached_locked", 4}, {"cached_evictable", 50}};
    return json{{"page_size", 16}, {"pages", pages}, {"invariants_ok", true}, {"tree", tree}}.dump();
  }

  tokenizer tok_;
  model_config model_;
  engine_config config_;
  int next_rid_ = 0;
};

// Counts what one request got back.
class recording_sink final : public reply_sink {
 public:
  void post(std::function<void()> fn) override { pending.push_back(std::move(fn)); }
  void send(http_reply reply) override {
    ++answers;
    last_status = reply.status;
    last_body = std::move(reply.body);
  }
  void begin_stream() override { streaming = true; }
  void stream(std::string data) override {
    FUZZ_CHECK(streaming, "stream data before the stream began");
    (void)data;
  }
  void end_stream() override {
    FUZZ_CHECK(streaming, "a stream ended that never began");
    streaming = false;
    ++answers;
    last_status = 200;
  }
  int answers = 0;
  int last_status = 0;
  std::string last_body;
  bool streaming = false;
};

struct fuzz_server {
  fuzz_server() : ctx(make_config(), engine) {
    for (const auto& entry : std::filesystem::recursive_directory_iterator(ctx.cfg.console_dir)) {
      if (!entry.is_regular_file()) continue;
      std::ifstream in(entry.path(), std::ios::binary);
      console_files.insert(std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>()));
    }
  }
  static server_config make_config() {
    server_config cfg;
    cfg.console_dir = KVACTOR_CONSOLE_DIR;
    cfg.model_name = "stories260K";
    return cfg;
  }
  synchronous_engine engine;
  server_context ctx;
  std::set<std::string> console_files;
};

fuzz_server& server() {
  static fuzz_server s;
  return s;
}

// One request from the front of `rest`, as async_read_header + async_read would
// frame it. Returns false when the connection ends (error, close, or no more bytes).
bool serve_one(fuzz_server& s, std::string_view& rest) {
  bhttp::request_parser<bhttp::string_body> parser;
  parser.header_limit(session_header_limit);
  parser.body_limit(s.ctx.cfg.body_limit_bytes);
  beast::error_code ec;
  std::size_t used = 0;
  while (!parser.is_done()) {
    const std::size_t n = parser.put(boost::asio::buffer(rest.data() + used, rest.size() - used), ec);
    used += n;
    if (ec == bhttp::error::need_more) ec = {};
    if (ec || parser.is_done()) break;
    // Beast takes a header only once it is complete: nothing consumed means it needs
    // bytes this connection will never send.
    if (n == 0) {
      parser.put_eof(ec);
      if (!ec && !parser.is_done()) ec = bhttp::error::partial_message;
      break;
    }
  }
  FUZZ_CHECK(used <= rest.size(), "the parser consumed more than it was given");
  rest.remove_prefix(used);
  if (ec) return false;  // the session answers 400/413 and closes

  auto req = parser.release();
  const bool keep_alive = req.keep_alive();
  incoming_request in;
  in.method = std::string(req.method_string());
  in.target = std::string(req.target());
  in.body = std::move(req.body());
  in.received = std::chrono::steady_clock::now();
  in.authorization = std::string(req[bhttp::field::authorization]);
  auto sink = std::make_shared<recording_sink>();
  auto exchange = dispatch(s.ctx, in, sink);
  for (int steps = 0; !pending.empty() && steps < 10000; ++steps) {
    auto fn = std::move(pending.front());
    pending.pop_front();
    fn();
  }
  if (std::getenv(
          "KVACTOR_FUZZ_TRACE"))  // to see what a saved input does: KVACTOR_FUZZ_TRACE=1 http_request_replay FILE
    std::fprintf(stderr, "%s %s -> %d (%zu body bytes)\n", in.method.c_str(), in.target.c_str(), sink->last_status,
                 sink->last_body.size());
  FUZZ_CHECK(pending.empty(), "the exchange never settled");
  FUZZ_CHECK(sink->answers == 1, "a request must be answered exactly once");
  FUZZ_CHECK(!sink->streaming, "a stream was left open");
  FUZZ_CHECK(sink->last_status != 500, "a request from a client made the server fail (500)");
  if (sink->last_status == 200 && in.method == "GET" && in.target.rfind("/console", 0) == 0)
    FUZZ_CHECK(s.console_files.count(sink->last_body) == 1, "a console answer that is not a console file");
  FUZZ_CHECK(!exchange || exchange->done(), "an exchange left unanswered");
  return keep_alive && !rest.empty();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz_server& s = server();
  std::string_view rest(reinterpret_cast<const char*>(data), size);
  for (int n = 0; n < max_requests_per_input && serve_one(s, rest); ++n) {}
  return 0;
}
