// HTTP overhead on the real engine (stories260K, CPU): requests per second with
// max_tokens 1 through HTTP versus submitting to the in-process gateway, and the
// streaming cost per token. Writes Markdown to bench/results/http.md (or --out FILE).
//
//   build/bench/http_bench [OUT.md] [--seconds S]
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <fstream>
#include <future>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "actors/gateway.hpp"
#include "bench/bench_arguments.hpp"
#include "bench/machine_description.hpp"
#include "http/server.hpp"
#include "model/tokenizer.hpp"
#include "tests/http/http_client.hpp"

namespace {

using clock_type = std::chrono::steady_clock;
using nlohmann::json;

double seconds_since(clock_type::time_point t0) {
  return std::chrono::duration<double>(clock_type::now() - t0).count();
}

// Runs one generation in process and waits for its end; returns generated tokens.
int run_in_process(kvactor::generation_service& g, const std::vector<int32_t>& prompt, int max_tokens) {
  std::promise<int> done;
  auto f = done.get_future();
  auto tokens = std::make_shared<std::atomic<int>>(0);
  kvactor::generation_request req;
  req.prompt = prompt;
  req.max_tokens = max_tokens;
  g.submit(req, [&done, tokens](const kvactor::generation_event& ev) {
    if (ev.type == kvactor::generation_event::kind::token)
      ++*tokens;
    else
      done.set_value(tokens->load());
  });
  return f.get();
}

// `concurrency` closed-loop workers for `seconds`; returns completed requests per second.
template <class F>
double closed_loop(int concurrency, double seconds, F one_request) {
  std::atomic<long> completed{0};
  const auto t0 = clock_type::now();
  std::vector<std::thread> workers;
  for (int w = 0; w < concurrency; ++w)
    workers.emplace_back([&, w] {
      long i = 0;
      while (seconds_since(t0) < seconds) {
        one_request(w, i++);
        ++completed;
      }
    });
  for (auto& t : workers) t.join();
  return static_cast<double>(completed.load()) / seconds_since(t0);
}

std::string load_average() {
  std::ifstream in("/proc/loadavg");
  std::string one, five;
  in >> one >> five;
  return one + " (1 min), " + five + " (5 min)";
}

}  // namespace

int main(int argc, char** argv) {
  std::string out_path = std::string(KVACTOR_SOURCE_DIR) + "/bench/results/http.md";
  double seconds = 3.0;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--seconds" && i + 1 < argc) {
      seconds = kvactor::bench::parse_positive_number("http_bench", a, argv[++i]);
    } else if (a == "--out" && i + 1 < argc) {
      out_path = argv[++i];
    } else if (a == "--help" || a == "-h") {
      std::printf("usage: http_bench [--seconds S] [--out FILE]   (default bench/results/http.md)\n");
      return 0;
    } else {
      std::fprintf(stderr, "http_bench: unknown argument '%s' (try --help)\n", a.c_str());
      return 2;
    }
  }

  kvactor::http::server_config cfg;
  cfg.engine.model_path = std::string(KVACTOR_MODELS_DIR) + "/stories260K.bin";
  cfg.engine.tokenizer_path = std::string(KVACTOR_MODELS_DIR) + "/tok512.bin";
  cfg.host = "127.0.0.1";
  cfg.port = 0;
  cfg.io_threads = 2;
  cfg.model_name = "stories260K";
  kvactor::gateway engine(cfg.engine);
  kvactor::http::http_server server(cfg, engine);
  const unsigned short port = server.port();
  const auto prompt = engine.tok().encode("Once upon a time", true, false);
  const std::string one_token_body =
      R"({"input_ids":[1,403,407,261,378],"sampling_params":{"max_completion_tokens":1}})";

  std::ostringstream md;
  md << "# HTTP overhead (bench/http_bench.cpp)\n\n"
     << "Machine: " << kvactor::bench::cpu_model_name() << ", " << std::thread::hardware_concurrency()
     << " hardware threads; load average at start " << load_average()
     << " (the machine is shared: other builds and tests ran meanwhile, so treat ratios as rough). Model: stories260K "
        "(CPU backend, 1 device "
        "thread), 2 HTTP io threads, loopback, keep-alive connections, "
     << seconds << " s per closed-loop point.\n\n"
     << "Command: `build/bench/http_bench` (writes this file).\n\n"
     << "## Requests per second, max_tokens 1 (prompt of 5 tokens)\n\n"
     << "| concurrency | in-process gateway (req/s) | HTTP POST /generate (req/s) | HTTP / in-process |\n"
     << "| ---: | ---: | ---: | ---: |\n";

  for (int c : {1, 8, 32}) {
    const double inproc = closed_loop(c, seconds, [&](int, long) { run_in_process(engine, prompt, 1); });
    std::vector<kvactor::test::http_connection> conns;
    for (int w = 0; w < c; ++w) conns.emplace_back(port);
    const double over_http = closed_loop(c, seconds, [&](int w, long) {
      auto r = conns[static_cast<std::size_t>(w)].call("POST", "/generate", one_token_body);
      if (r.status != 200) std::fprintf(stderr, "http_bench: status %d: %s\n", r.status, r.body.c_str());
    });
    char row[256];
    std::snprintf(row, sizeof row, "| %d | %.0f | %.0f | %.2f |\n", c, inproc, over_http, over_http / inproc);
    md << row;
    std::fprintf(stderr, "%s", row);
  }

  // Streaming: the same 128-token generation in process, over HTTP whole, and as SSE.
  const int n = 128, reps = 10;
  const json body = {{"input_ids", prompt}, {"sampling_params", {{"max_completion_tokens", n}}}};
  json stream_body = body;
  stream_body["stream"] = true;
  double t_in = 0, t_http = 0, t_sse = 0;
  int tokens = 0;
  kvactor::test::http_connection conn(port);
  for (int r = 0; r < reps; ++r) {
    auto t0 = clock_type::now();
    tokens = run_in_process(engine, prompt, n);
    t_in += seconds_since(t0);
    t0 = clock_type::now();
    conn.call("POST", "/generate", body.dump());
    t_http += seconds_since(t0);
    t0 = clock_type::now();
    auto sse = conn.call("POST", "/generate", stream_body.dump());
    t_sse += seconds_since(t0);
    if (r == 0) std::fprintf(stderr, "stream events: %zu\n", kvactor::test::sse_data(sse.body).size());
  }
  t_in /= reps;
  t_http /= reps;
  t_sse /= reps;
  char rows[1024];
  std::snprintf(rows, sizeof rows,
                "\n## Streaming overhead (one request, %d generated tokens, mean of %d)\n\n"
                "| path | request time (ms) | per token (us) |\n| --- | ---: | ---: |\n"
                "| in-process gateway | %.2f | %.1f |\n"
                "| HTTP, whole answer | %.2f | %.1f |\n"
                "| HTTP, server-sent events | %.2f | %.1f |\n\n"
                "Streaming overhead per token vs in-process: %.1f us (vs a whole HTTP answer: %.1f us).\n",
                tokens, reps, t_in * 1e3, t_in * 1e6 / tokens, t_http * 1e3, t_http * 1e6 / tokens, t_sse * 1e3,
                t_sse * 1e6 / tokens, (t_sse - t_in) * 1e6 / tokens, (t_sse - t_http) * 1e6 / tokens);
  md << rows;
  std::fprintf(stderr, "%s", rows);

  md << "\nLoad average at the end: " << load_average() << ".\n\n"
     << "Reading: HTTP adds a fixed cost per request (parse, route, JSON, one loopback round trip, one\n"
        "hop from the engine's callback thread onto the connection's strand per token); with max_tokens 1\n"
        "that fixed cost is the whole difference. Streaming adds one chunked SSE write per token (coalesced\n"
        "when tokens arrive faster than the client reads).\n";
  server.shutdown(std::chrono::seconds(5));
  std::ofstream(out_path) << md.str();
  std::fprintf(stderr, "wrote %s\n", out_path.c_str());
  return 0;
}
