// Tenants (issue 20): the keys file, authentication, cache namespaces, what a tenant may
// inspect, and the per-tenant in-flight gate. Pure functions: no socket, no engine.
#include <doctest/doctest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "http/request_parsing.hpp"
#include "http/server_config.hpp"
#include "http/tenant_view.hpp"
#include "http/tenants.hpp"

using namespace kvactor::http;
using nlohmann::json;

namespace {

const std::string key_a = "aaaaaaaaaaaaaaaaaaaa-key-a";
const std::string key_b = "bbbbbbbbbbbbbbbbbbbb-key-b";
const std::string key_c = "cccccccccccccccccccc-key-c";

std::string error_of(const std::string& text) {
  try {
    parse_keys_file(text);
  } catch (const config_error& e) {
    return e.what();
  }
  return "";
}

bool mentions(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

}  // namespace

TEST_CASE("keys file: lines with comments, admin and weight") {
  const auto t = parse_keys_file("# tenants\n\nalice " + key_a + "\nbob " + key_b + " admin weight=3  # ops\n");
  REQUIRE(t.tenants.size() == 2);
  CHECK(t.tenants[0].name == "alice");
  CHECK(t.tenants[0].key == key_a);
  CHECK_FALSE(t.tenants[0].admin);
  CHECK(t.tenants[0].weight == 1);
  CHECK(t.tenants[0].id == 1);
  CHECK(t.tenants[1].admin);
  CHECK(t.tenants[1].weight == 3);
  CHECK(t.tenants[1].id == 2);
}

TEST_CASE("keys file: a JSON object, plain keys or objects") {
  const auto t = parse_keys_file(R"({"alice": ")" + key_a + R"(", "ops": {"key": ")" + key_b +
                                 R"(", "admin": true, "weight": 2}})");
  REQUIRE(t.tenants.size() == 2);
  CHECK(t.tenants[0].name == "alice");
  CHECK(t.tenants[1].name == "ops");
  CHECK(t.tenants[1].admin);
  CHECK(t.tenants[1].weight == 2);
}

TEST_CASE("keys file: errors name the line and never the key") {
  const auto dup_key = error_of("alice " + key_a + "\nbob " + key_b + "\ncarol " + key_a + "\n");
  CHECK(mentions(dup_key, "line 3"));
  CHECK(mentions(dup_key, "same key"));
  CHECK_FALSE(mentions(dup_key, key_a));
  const auto dup_name = error_of("alice " + key_a + "\n\nalice " + key_b + "\n");
  CHECK(mentions(dup_name, "line 3"));
  CHECK(mentions(dup_name, "listed twice"));
  CHECK(mentions(error_of("alice\n"), "line 1"));
  CHECK(mentions(error_of("alice " + key_a + " root\n"), "unknown option"));
  CHECK(mentions(error_of("alice " + key_a + " weight=0\n"), "weight"));
  const auto short_key = error_of("x " + key_a + "\nalice short\n");
  CHECK(mentions(short_key, "line 2"));
  CHECK(mentions(short_key, "16 to 4096"));
  CHECK(mentions(error_of("al/ice " + key_a + "\n"), "tenant name"));
  CHECK(mentions(error_of("# nothing\n"), "no tenant"));
  const auto json_dup = error_of("{\"alice\": \"" + key_a + "\",\n \"alice\": \"" + key_b + "\"}");
  CHECK(mentions(json_dup, "line 2"));
  CHECK(mentions(json_dup, "listed twice"));
  CHECK(mentions(error_of("{\"alice\": 5}"), "alice"));
  CHECK(mentions(error_of("{\"alice\": {\"key\": \"" + key_a + "\", \"root\": true}}"), "root"));
  CHECK(mentions(error_of("{\"alice\": "), "not valid JSON"));
  CHECK_THROWS_AS(load_keys_file("/nonexistent/keys.txt"), config_error);
}

TEST_CASE("authenticate: the key picks its tenant, an unknown key none") {
  const auto t = parse_keys_file("alice " + key_a + "\nbob " + key_b + "\n");
  REQUIRE(t.authenticate("Bearer " + key_b) != nullptr);
  CHECK(t.authenticate("Bearer " + key_b)->name == "bob");
  CHECK(t.authenticate("bearer  " + key_a + " ")->name == "alice");
  CHECK(t.authenticate("Bearer " + key_c) == nullptr);
  CHECK(t.authenticate("") == nullptr);
  CHECK(t.authenticate("Bearer " + key_a.substr(0, key_a.size() - 1)) == nullptr);
  const auto single = single_key_table(key_c);
  REQUIRE(single.tenants.size() == 1);
  CHECK(single.tenants[0].id == 0);
  CHECK(single.tenants[0].admin);
  CHECK(single_key_table("").empty());
}

TEST_CASE("cache namespaces: per tenant, a salt narrows, never crosses tenants") {
  CHECK(cache_namespace(0, "") == 0);  // a server without tenants shares as before
  CHECK(cache_namespace(1, "") != cache_namespace(2, ""));
  CHECK(cache_namespace(1, "s") != cache_namespace(1, ""));
  CHECK(cache_namespace(1, "s") != cache_namespace(1, "t"));
  CHECK(cache_namespace(1, "s") == cache_namespace(1, "s"));
  CHECK(cache_namespace(1, "s") != cache_namespace(2, "s"));
  for (const char* salt : {"", "a", "b", "salt", "another salt"}) {
    CHECK(tenant_of_namespace(cache_namespace(7, salt)) == 7);
    CHECK(tenant_of_namespace(cache_namespace(8, salt)) == 8);
  }
}

TEST_CASE("inspection: a tenant sees only its requests; admin sees all") {
  const std::string snap = R"({"requests":[{"rid":"a1","tenant":1},{"rid":"b1","tenant":2},{"rid":"a2","tenant":1}]})";
  const json own = json::parse(requests_for(snap, viewer{1, false}));
  REQUIRE(own["requests"].size() == 2);
  CHECK(own["requests"][0]["rid"] == "a1");
  CHECK(own["requests"][1]["rid"] == "a2");
  CHECK(json::parse(requests_for(snap, viewer{2, false}))["requests"].size() == 1);
  CHECK(json::parse(requests_for(snap, viewer{2, true}))["requests"].size() == 3);
  CHECK(request_visible(R"({"rid":"b1","tenant":2})", viewer{2, false}));
  CHECK_FALSE(request_visible(R"({"rid":"b1","tenant":2})", viewer{1, false}));
  CHECK(request_visible(R"({"rid":"b1","tenant":2})", viewer{1, true}));
}

TEST_CASE("inspection: cache nodes and accounting per tenant") {
  const auto tenants = parse_keys_file("alice " + key_a + "\nbob " + key_b + "\n");
  const uint64_t a = cache_namespace(1, ""), a_salted = cache_namespace(1, "s"), b = cache_namespace(2, "");
  const json cache = {
      {"page_size", 16},
      {"pages", {{"total", 64}, {"free", 50}}},
      {"page_states", "fffL"},
      {"trie", {{"cached_pages", 6}}},
      {"tree",
       {{"page", -1},
        {"pages_below", 6},
        {"children",
         {{{"page", 3}, {"ns", a}, {"pages_below", 1}, {"first_tokens", {1, 2}}, {"children", json::array()}},
          {{"page", 4}, {"ns", b}, {"pages_below", 2}, {"first_tokens", {9, 9}}, {"children", json::array()}},
          {{"page", 5}, {"ns", a_salted}, {"pages_below", 0}, {"children", json::array()}}}},
        {"namespaces",
         {{{"ns", a}, {"cached_pages", 2}},
          {{"ns", b}, {"cached_pages", 3}},
          {{"ns", a_salted}, {"cached_pages", 1}}}}}}};
  const json alice = json::parse(cache_for(cache.dump(), viewer{1, false}, tenants));
  REQUIRE(alice["tree"]["children"].size() == 2);
  for (const auto& c : alice["tree"]["children"]) CHECK(tenant_of_namespace(c["ns"].get<uint64_t>()) == 1);
  CHECK(alice["tree"]["pages_below"] == 3);
  CHECK(alice["trie"]["cached_pages"] == 3);
  REQUIRE(alice["tenants"].size() == 1);
  CHECK(alice["tenants"][0]["tenant"] == "alice");
  CHECK_FALSE(alice.contains("pages"));  // pool-wide counters move with others' traffic
  CHECK_FALSE(alice.contains("page_states"));
  CHECK(alice.dump().find("[9,9]") == std::string::npos);
  const json admin = json::parse(cache_for(cache.dump(), viewer{0, true}, tenants));
  CHECK(admin["tree"]["children"].size() == 3);
  REQUIRE(admin["tenants"].size() == 2);
  CHECK(admin["tenants"][1]["tenant"] == "bob");
  CHECK(admin["tenants"][1]["cached_pages"] == 3);
  CHECK(admin.contains("pages"));
}

TEST_CASE("tenant gate: a limit per tenant, slots come back") {
  tenant_gate gate;
  auto a1 = gate.enter(1, 2), a2 = gate.enter(1, 2);
  REQUIRE(a1);
  REQUIRE(a2);
  CHECK_FALSE(gate.enter(1, 2));
  CHECK(gate.enter(2, 2));  // another tenant is not affected
  CHECK(gate.in_flight(1) == 2);
  a1.reset();
  CHECK(gate.in_flight(1) == 1);
  CHECK(gate.enter(1, 2));
  auto unlimited = gate.enter(3, 0);
  CHECK(unlimited);
}

TEST_CASE("cache_salt: read on /generate and completions, refused unless a non-empty string") {
  prompt_limits l;
  l.vocab_size = 512;
  l.max_seq_len = 512;
  l.encode = [](const std::string& text) { return std::vector<int32_t>(text.size() % 7 + 2, 5); };
  l.decode = [](const std::vector<int32_t>&) { return std::string("x"); };
  auto gen = parse_generate(R"({"text": ["a", "b"], "cache_salt": "s1"})", l);
  REQUIRE(std::holds_alternative<generate_call>(gen));
  for (const auto& p : std::get<generate_call>(gen).params) CHECK(p.cache_salt == "s1");
  auto plain = parse_completion(R"({"prompt": "a"})", l);
  REQUIRE(std::holds_alternative<completion_call>(plain));
  CHECK(std::get<completion_call>(plain).params.cache_salt.empty());
  for (const char* body : {R"({"prompt": "a", "cache_salt": ""})", R"({"prompt": "a", "cache_salt": 5})"}) {
    auto bad = parse_completion(body, l);
    REQUIRE(std::holds_alternative<api_error>(bad));
    CHECK(std::get<api_error>(bad).status == 400);
    CHECK(mentions(std::get<api_error>(bad).message, "cache_salt"));
  }
}

TEST_CASE("config: api_keys_file loads tenants; with the single key as well it is refused") {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("kvactor-tenants-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  std::ofstream(dir / "keys.txt") << "alice " << key_a << "\nops " << key_b << " admin\n";
  std::ofstream(dir / "key.txt") << key_c << "\n";
  const std::string model = (dir / "model.bin").string();
  const json base = {{"model", model}, {"api_keys_file", (dir / "keys.txt").string()}};
  const auto cfg = load_server_config(base.dump(), {}, dir.string());
  REQUIRE(cfg.tenants.tenants.size() == 2);
  CHECK(cfg.tenants.tenants[1].admin);
  CHECK(cfg.max_requests_per_tenant == 0);  // off by default
  json both = base;
  both["api_key_file"] = (dir / "key.txt").string();
  try {
    load_server_config(both.dump(), {}, dir.string());
    FAIL("a keys file and a single key were both accepted");
  } catch (const config_error& e) {
    CHECK(mentions(e.what(), "api_keys_file"));
    CHECK_FALSE(mentions(e.what(), key_c));
  }
  const auto single =
      load_server_config(json{{"model", model}, {"api_key_file", (dir / "key.txt").string()}}.dump(), {}, dir.string());
  REQUIRE(single.tenants.tenants.size() == 1);
  CHECK(single.tenants.tenants[0].name == "default");
  fs::remove_all(dir);
}
