// `kvactor inspect`: reads a running server's /v1/inspect/* snapshots (contract: http/API.md)
// and prints them as aligned tables, once or every few seconds (--watch).
//
// The HTTP client is Boost.Beast driven to completion on a private io_context: each call
// blocks like a synchronous client, but asynchronous operations are what honour the
// tcp_stream timeout, so a stuck server cannot hang the command.
#include <unistd.h>
#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <nlohmann/json.hpp>

#include "cli/command.hpp"

namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using json = nlohmann::json;

const char* const usage_text =
    "usage: kvactor inspect [--url U] [actors|cache|requests [RID]|cluster] [--watch [--interval S]]\n"
    "\n"
    "Prints a running kvactor server's inspection snapshots as tables: the actors\n"
    "(kind, state, mailbox, messages), the KV cache (page pool totals, page map, prefix\n"
    "trie) and the requests (phase, tokens, cached tokens, pages, time to first token).\n"
    "With no view named, prints all three. `requests RID` shows one request.\n"
    "`cluster` (a `kvactor route` router only) shows its nodes: state, load, cache size,\n"
    "hit rate and how many requests each got.\n"
    "\n"
    "  --url U          server base URL (default http://127.0.0.1:8000)\n"
    "  --watch          reprint every --interval seconds until interrupted (or --count)\n"
    "  --interval S     seconds between refreshes, 0.1..3600 (default 2)\n"
    "  --count N        with --watch: stop after N refreshes (default: until Ctrl-C)\n"
    "  --depth D        cache view: trie levels to fetch, 1..64 (default 8)\n"
    "  --max-nodes N    cache view: trie nodes to fetch, 1..4096 (default 256)\n"
    "  --timeout S      seconds to wait for the server, 0.1..600 (default 5)\n"
    "  --help           this text\n"
    "\n"
    "Flags take their value as the next argument or after '=' (--interval=1).\n"
    "Exit status: 0 success, 1 server unreachable or bad reply, 2 bad arguments.\n";

struct usage_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};
struct server_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct inspect_options {
  std::string url = "http://127.0.0.1:8000";
  std::vector<std::string> views;  // actors, cache, requests
  std::string rid;                 // requests RID
  bool watch = false;
  double interval_s = 2.0;
  long count = 0;  // 0 = unbounded
  long depth = 8;
  long max_nodes = 256;
  double timeout_s = 5.0;
};

// ---- arguments --------------------------------------------------------------------------------

double parse_seconds(const std::string& flag, const std::string& text, double min, double max) {
  char* end = nullptr;
  errno = 0;
  const double v = std::strtod(text.c_str(), &end);
  if (text.empty() || *end != '\0' || errno == ERANGE || !(v >= min && v <= max))
    throw usage_error(flag + " needs a number of seconds in [" + std::to_string(min).substr(0, 3) + ", " +
                      std::to_string(static_cast<long>(max)) + "], got '" + text + "'");
  return v;
}

long parse_count(const std::string& flag, const std::string& text, long min, long max) {
  char* end = nullptr;
  errno = 0;
  const long v = std::strtol(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || errno == ERANGE || v < min || v > max)
    throw usage_error(flag + " needs an integer in [" + std::to_string(min) + ", " + std::to_string(max) + "], got '" +
                      text + "'");
  return v;
}

// Returns nullopt for --help.
std::optional<inspect_options> parse_arguments(int argc, char** argv) {
  inspect_options o;
  bool interval_given = false, count_given = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    std::optional<std::string> inline_value;
    if (arg.rfind("--", 0) == 0) {
      const auto eq = arg.find('=');
      if (eq != std::string::npos) {
        inline_value = arg.substr(eq + 1);
        arg = arg.substr(0, eq);
      }
    }
    auto value = [&]() -> std::string {
      if (inline_value) return *inline_value;
      if (i + 1 >= argc) throw usage_error(arg + " needs a value");
      return argv[++i];
    };
    auto no_value = [&] {
      if (inline_value) throw usage_error(arg + " takes no value");
    };
    if (arg == "--help" || arg == "-h") return std::nullopt;
    if (arg == "--url") {
      o.url = value();
    } else if (arg == "--watch") {
      no_value();
      o.watch = true;
    } else if (arg == "--interval") {
      o.interval_s = parse_seconds(arg, value(), 0.1, 3600);
      interval_given = true;
    } else if (arg == "--count") {
      o.count = parse_count(arg, value(), 1, 1000000);
      count_given = true;
    } else if (arg == "--depth") {
      o.depth = parse_count(arg, value(), 1, 64);
    } else if (arg == "--max-nodes") {
      o.max_nodes = parse_count(arg, value(), 1, 4096);
    } else if (arg == "--timeout") {
      o.timeout_s = parse_seconds(arg, value(), 0.1, 600);
    } else if (arg.rfind("-", 0) == 0) {
      throw usage_error("unknown flag '" + arg + "'");
    } else if (arg == "actors" || arg == "cache" || arg == "requests" || arg == "cluster") {
      if (std::find(o.views.begin(), o.views.end(), arg) == o.views.end()) o.views.push_back(arg);
    } else if (!o.views.empty() && o.views.back() == "requests" && o.rid.empty()) {
      o.rid = arg;
    } else {
      throw usage_error("unknown view '" + arg + "' (expected actors, cache, requests or cluster)");
    }
  }
  if ((interval_given || count_given) && !o.watch) throw usage_error("--interval and --count need --watch");
  if (o.views.empty()) o.views = {"actors", "cache", "requests"};
  return o;
}

// ---- HTTP ---------------------------------------------------------------------------------------

struct server_address {
  std::string host, port, base_path;
};

server_address parse_url(const std::string& url) {
  const std::string scheme = "http://";
  if (url.rfind(scheme, 0) != 0) throw usage_error("--url must start with http:// (got '" + url + "')");
  std::string rest = url.substr(scheme.size());
  const auto slash = rest.find('/');
  server_address a;
  if (slash != std::string::npos) {
    a.base_path = rest.substr(slash);
    rest = rest.substr(0, slash);
    while (!a.base_path.empty() && a.base_path.back() == '/') a.base_path.pop_back();
  }
  if (!rest.empty() && rest.front() == '[') {  // [::1]:8000
    const auto close = rest.find(']');
    if (close == std::string::npos) throw usage_error("bad IPv6 address in --url '" + url + "'");
    a.host = rest.substr(1, close - 1);
    rest = rest.substr(close + 1);
    if (!rest.empty() && rest.front() != ':') throw usage_error("bad --url '" + url + "'");
    a.port = rest.empty() ? "80" : rest.substr(1);
  } else {
    const auto colon = rest.rfind(':');
    a.host = rest.substr(0, colon);
    a.port = colon == std::string::npos ? "80" : rest.substr(colon + 1);
  }
  if (a.host.empty()) throw usage_error("no host in --url '" + url + "'");
  parse_count("port in --url", a.port, 1, 65535);
  return a;
}

struct http_result {
  unsigned status = 0;
  std::string body;
};

http_result http_get(const server_address& a, const std::string& target, std::chrono::milliseconds timeout) {
  net::io_context ioc;
  net::ip::tcp::resolver resolver(ioc);
  beast::tcp_stream stream(ioc);
  beast::flat_buffer buffer;
  http::request<http::empty_body> req{http::verb::get, a.base_path + target, 11};
  req.set(http::field::host, a.host);
  req.set(http::field::user_agent, "kvactor-inspect");
  req.set(http::field::connection, "close");
  http::response<http::string_body> res;
  beast::error_code failure;
  const char* failed_step = nullptr;
  auto fail = [&](beast::error_code ec, const char* step) {
    failure = ec;
    failed_step = step;
  };

  resolver.async_resolve(a.host, a.port, [&](beast::error_code ec, net::ip::tcp::resolver::results_type results) {
    if (ec) return fail(ec, "resolve");
    stream.expires_after(timeout);
    stream.async_connect(results, [&](beast::error_code ec2, const net::ip::tcp::endpoint&) {
      if (ec2) return fail(ec2, "connect");
      stream.expires_after(timeout);
      http::async_write(stream, req, [&](beast::error_code ec3, std::size_t) {
        if (ec3) return fail(ec3, "send");
        stream.expires_after(timeout);
        http::async_read(stream, buffer, res, [&](beast::error_code ec4, std::size_t) {
          if (ec4) return fail(ec4, "read");
          beast::error_code ignored;
          stream.socket().shutdown(net::ip::tcp::socket::shutdown_both, ignored);
        });
      });
    });
  });
  ioc.run();
  if (failed_step) {
    const std::string why = failure == beast::error::timeout ? "timed out" : failure.message();
    throw server_error(std::string("cannot reach http://") + a.host + ":" + a.port + " (" + failed_step + "): " + why);
  }
  return {res.result_int(), res.body()};
}

json get_json(const inspect_options& o, const server_address& a, const std::string& target) {
  const auto timeout = std::chrono::milliseconds(static_cast<long>(o.timeout_s * 1000));
  const http_result r = http_get(a, target, timeout);
  json doc = json::parse(r.body, nullptr, /*allow_exceptions=*/false);
  if (r.status != 200) {
    std::string detail = r.body.substr(0, 200);
    if (doc.is_object() && doc.contains("error") && doc["error"].is_object()) {
      // Not json::value(key, string): it throws a json type_error when another server
      // sends a numeric code, and that would replace this message.
      const json& e = doc["error"];
      const auto text = [&](const char* key, const char* absent) {
        if (!e.contains(key)) return std::string(absent);
        return e[key].is_string() ? e[key].get<std::string>() : e[key].dump();
      };
      detail = text("code", "?") + ": " + text("message", "");
    }
    throw server_error("GET " + target + " answered HTTP " + std::to_string(r.status) + ": " + detail);
  }
  if (doc.is_discarded() || !doc.is_object()) throw server_error("GET " + target + " did not return a JSON object");
  return doc;
}

// ---- tables -------------------------------------------------------------------------------------

// Cell text of a JSON value: integers plain, reals with one decimal, null as "-".
std::string cell(const json& v) {
  if (v.is_null()) return "-";
  if (v.is_string()) return v.get<std::string>();
  if (v.is_boolean()) return v.get<bool>() ? "yes" : "no";
  if (v.is_number_integer() || v.is_number_unsigned()) return v.dump();
  if (v.is_number_float()) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.1f", v.get<double>());
    return buf;
  }
  return v.dump();
}

std::string field(const json& obj, const char* key) {
  return obj.is_object() && obj.contains(key) ? cell(obj[key]) : "-";
}

class text_table {
 public:
  explicit text_table(std::vector<std::string> headers, std::vector<bool> right_aligned)
      : headers_(std::move(headers)), right_(std::move(right_aligned)) {}
  void add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  void print(std::ostream& out) const {
    std::vector<std::size_t> width(headers_.size());
    for (std::size_t c = 0; c < headers_.size(); ++c) width[c] = headers_[c].size();
    for (const auto& r : rows_)
      for (std::size_t c = 0; c < r.size() && c < width.size(); ++c) width[c] = std::max(width[c], r[c].size());
    auto line = [&](const std::vector<std::string>& r) {
      std::string s;
      for (std::size_t c = 0; c < headers_.size(); ++c) {
        const std::string& v = c < r.size() ? r[c] : std::string();
        const std::string pad(width[c] - std::min(width[c], v.size()), ' ');
        const bool last = c + 1 == headers_.size();
        s += right_[c] ? pad + v : (last ? v : v + pad);
        if (!last) s += "  ";
      }
      out << s << '\n';
    };
    line(headers_);
    for (const auto& r : rows_) line(r);
  }

 private:
  std::vector<std::string> headers_;
  std::vector<bool> right_;
  std::vector<std::vector<std::string>> rows_;
};

// messages_handled of the previous refresh, for messages per second in --watch.
struct actor_rates {
  long long time_ms = 0;
  std::map<std::string, long long> handled;
};

std::string details_text(const json& details) {
  if (!details.is_object()) return "";
  std::string s;
  for (const auto& [k, v] : details.items()) {
    if (!s.empty()) s += ", ";
    s += k + " " + (v.is_array() ? std::to_string(v.size()) + " items" : cell(v));
  }
  return s;
}

void print_actors(const json& snap, actor_rates& prev, std::ostream& out) {
  const json& actors = snap.value("actors", json::array());
  out << "ACTORS (" << actors.size() << ")\n";
  text_table t({"KIND", "ID", "STATE", "MAILBOX", "MESSAGES", "MSG/S", "DETAILS"},
               {false, false, false, true, true, true, false});
  const long long now = snap.value("time_ms", 0LL);
  actor_rates next{now, {}};
  for (const auto& a : actors) {
    const std::string id = field(a, "id");
    const long long handled = a.value("messages_handled", 0LL);
    next.handled[id] = handled;
    std::string rate = "-";
    const auto it = prev.handled.find(id);
    if (it != prev.handled.end() && now > prev.time_ms) {
      char buf[32];
      std::snprintf(
          buf, sizeof buf, "%.1f",
          std::max(0.0, static_cast<double>(handled - it->second) * 1000.0 / static_cast<double>(now - prev.time_ms)));
      rate = buf;
    }
    t.add({field(a, "kind"), id, field(a, "state"), field(a, "mailbox_depth"), field(a, "messages_handled"), rate,
           details_text(a.value("details", json::object()))});
  }
  t.print(out);
  prev = std::move(next);
}

void print_tree(const json& node, const std::string& indent, bool last, text_table& t) {
  const std::string branch = indent + (last ? "`- " : "|- ");
  std::string first;
  if (node.contains("first_tokens") && node["first_tokens"].is_array()) {
    for (const auto& tok : node["first_tokens"]) first += (first.empty() ? "" : ",") + cell(tok);
    first = "[" + first + "]";
  }
  t.add({branch + field(node, "page"), field(node, "tokens"), first, field(node, "lock_count"),
         field(node, "hit_count"), field(node, "pages_below"), field(node, "age_ms")});
  const json& kids = node.value("children", json::array());
  for (std::size_t i = 0; i < kids.size(); ++i)
    print_tree(kids[i], indent + (last ? "   " : "|  "), i + 1 == kids.size(), t);
}

void print_cache(const json& snap, std::ostream& out) {
  const json& pages = snap.value("pages", json::object());
  const json& trie = snap.value("trie", json::object());
  out << "CACHE  page size " << field(snap, "page_size") << " tokens, invariants "
      << (snap.value("invariants_ok", false) ? "ok" : "BROKEN") << "\n";
  text_table p({"PAGES", "TOTAL", "FREE", "PRIVATE", "CACHED_LOCKED", "CACHED_EVICTABLE"},
               {false, true, true, true, true, true});
  p.add({"", field(pages, "total"), field(pages, "free"), field(pages, "private"), field(pages, "cached_locked"),
         field(pages, "cached_evictable")});
  p.print(out);
  text_table s({"TRIE", "NODES", "CACHED_PAGES", "LOCKED_NODES", "MAX_DEPTH", "HITS", "EVICTIONS", "POLICY"},
               {false, true, true, true, true, true, true, false});
  s.add({"", field(trie, "nodes"), field(trie, "cached_pages"), field(trie, "locked_nodes"), field(trie, "max_depth"),
         field(trie, "hits"), field(trie, "evictions"), field(trie, "policy")});
  s.print(out);

  // Page map: one character per page (f free, p private, L cached-locked, e evictable).
  const std::string states = snap.value("page_states", std::string());
  constexpr std::size_t per_row = 64, max_rows = 16;
  out << "page map (f free, p private, L cached-locked, e cached-evictable):\n";
  for (std::size_t row = 0; row * per_row < states.size() && row < max_rows; ++row) {
    char label[32];
    std::snprintf(label, sizeof label, "%6zu ", row * per_row);
    out << label << states.substr(row * per_row, per_row) << '\n';
  }
  if (states.size() > per_row * max_rows) out << "       ... " << states.size() - per_row * max_rows << " more pages\n";

  const json& tree = snap.value("tree", json::object());
  const json& kids = tree.value("children", json::array());
  out << "prefix trie (" << kids.size() << " roots" << (tree.value("truncated", false) ? ", dump truncated" : "")
      << "):\n";
  text_table t({"PAGE", "TOKENS", "FIRST", "LOCKS", "HITS", "BELOW", "AGE_MS"},
               {false, true, false, true, true, true, true});
  for (std::size_t i = 0; i < kids.size(); ++i) print_tree(kids[i], "", i + 1 == kids.size(), t);
  t.print(out);
}

void print_request_rows(const json& list, std::ostream& out) {
  text_table t(
      {"RID", "PHASE", "PROMPT", "GENERATED", "MAX", "CACHED", "PAGES", "LOCKED", "TTFT_MS", "AGE_MS", "PREEMPT"},
      {false, false, true, true, true, true, true, true, true, true, true});
  for (const auto& r : list)
    t.add({field(r, "rid"), field(r, "phase"), field(r, "prompt_tokens"), field(r, "generated_tokens"),
           field(r, "max_tokens"), field(r, "cached_tokens"), field(r, "pages_held"), field(r, "locked_pages"),
           field(r, "ttft_ms"), field(r, "age_ms"), field(r, "preemptions")});
  t.print(out);
}

void print_requests(const json& snap, std::ostream& out) {
  const json& list = snap.value("requests", json::array());
  std::size_t live = 0;
  for (const auto& r : list) {
    const std::string phase = field(r, "phase");
    live += phase == "queued" || phase == "prefill" || phase == "decode";
  }
  out << "REQUESTS (" << live << " live, " << list.size() - live << " recent finished)\n";
  print_request_rows(list, out);
}

std::string percent_text(const json& obj, const char* key) {
  if (!obj.is_object() || !obj.contains(key) || !obj[key].is_number()) return "-";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f%%", obj[key].get<double>() * 100.0);
  return buf;
}

// GET /v1/inspect/cluster of a router (docs/cluster.md).
void print_cluster(const json& snap, std::ostream& out) {
  const json& nodes = snap.value("nodes", json::array());
  const json& req = snap.value("requests", json::object());
  std::size_t up = 0;
  for (const auto& n : nodes) up += field(n, "state") == "up";
  out << "CLUSTER (policy " << field(snap, "policy") << ", " << up << "/" << nodes.size() << " nodes up; routed "
      << field(req, "routed") << ", by prefix " << field(req, "prefix_routed") << ", retried " << field(req, "retried")
      << ", node lost " << field(req, "node_lost") << ", no node " << field(req, "no_node") << "; hit rate "
      << percent_text(snap, "hit_rate") << ")\n";
  text_table t({"NODE", "STATE", "IN_FLIGHT", "RUNNING", "QUEUED", "CACHED_PAGES", "FREE_PAGES", "HIT_RATE", "ROUTED",
                "BY_PREFIX", "TREE_TOKENS", "LAST_ERROR"},
               {false, false, true, true, true, true, true, true, true, true, true, false});
  for (const auto& n : nodes) {
    const json pages = n.is_object() && n.contains("pages") ? n["pages"] : json::object();
    t.add({field(n, "address"), field(n, "state"), field(n, "in_flight"), field(n, "running"), field(n, "queue_depth"),
           field(n, "cached_pages"), field(pages, "free"), percent_text(n, "hit_rate"), field(n, "routed"),
           field(n, "prefix_routed"), field(n, "tree_tokens"), field(n, "last_error")});
  }
  t.print(out);
}

// A rid goes into the path: escape everything outside RFC 3986's unreserved set.
std::string percent_encode(const std::string& s) {
  std::string out;
  for (const unsigned char ch : s) {
    if (std::isalnum(ch) || ch == '-' || ch == '_' || ch == '.' || ch == '~') {
      out += static_cast<char>(ch);
    } else {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", ch);
      out += buf;
    }
  }
  return out;
}

// Fetches every view first, then prints: a failure leaves no half-printed screen.
std::string render(const inspect_options& o, const server_address& a, actor_rates& rates) {
  std::ostringstream out;
  bool first = true;
  for (const auto& view : o.views) {
    if (!first) out << '\n';
    first = false;
    if (view == "actors") {
      print_actors(get_json(o, a, "/v1/inspect/actors"), rates, out);
    } else if (view == "cache") {
      print_cache(
          get_json(o, a,
                   "/v1/inspect/cache?depth=" + std::to_string(o.depth) + "&max_nodes=" + std::to_string(o.max_nodes)),
          out);
    } else if (view == "cluster") {
      print_cluster(get_json(o, a, "/v1/inspect/cluster"), out);
    } else if (!o.rid.empty()) {
      out << "REQUEST " << o.rid << '\n';
      print_request_rows(json::array({get_json(o, a, "/v1/inspect/requests/" + percent_encode(o.rid))}), out);
    } else {
      print_requests(get_json(o, a, "/v1/inspect/requests"), out);
    }
  }
  return out.str();
}

int run_inspect(int argc, char** argv) {
  std::optional<inspect_options> opts;
  server_address address;
  try {
    opts = parse_arguments(argc, argv);
    if (!opts) {
      std::fputs(usage_text, stdout);
      return 0;
    }
    address = parse_url(opts->url);
  } catch (const usage_error& e) {
    std::fprintf(stderr, "kvactor inspect: %s\n(see kvactor inspect --help)\n", e.what());
    return 2;
  }
  const bool tty = isatty(STDOUT_FILENO) == 1;
  actor_rates rates;
  try {
    for (long n = 1;; ++n) {
      const std::string screen = render(*opts, address, rates);
      if (opts->watch && tty)
        std::fputs("\033[H\033[2J", stdout);  // clear, cursor home
      else if (opts->watch && n > 1)
        std::fputs("\n----\n", stdout);
      std::fputs(screen.c_str(), stdout);
      std::fflush(stdout);
      if (!opts->watch || (opts->count > 0 && n >= opts->count)) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(static_cast<long>(opts->interval_s * 1000)));
    }
  } catch (const server_error& e) {
    std::fprintf(stderr, "kvactor inspect: %s\n", e.what());
    return 1;
  }
  return 0;
}

const kvactor::cli::register_command reg("inspect",
                                         {"print a running server's actors, cache and requests", run_inspect});

}  // namespace
