// What crosses a node boundary survives CAF's binary serialization unchanged, and the
// conversions to and from the engine's types lose nothing.
#include <doctest/doctest.h>

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include "cluster/cluster_messages.hpp"

using namespace kvactor;
using namespace kvactor::cluster;

namespace {
template <class T>
T round_trip(caf::actor_system& sys, T value) {
  std::vector<char> buf;
  caf::binary_serializer sink(sys, buf);
  REQUIRE_FALSE(sink(value));
  T out;
  caf::binary_deserializer source(sys, buf);
  REQUIRE_FALSE(source(out));
  return out;
}
}  // namespace

TEST_CASE("node_request and node_event round-trip through the binary serializer") {
  caf::actor_system_config cfg;
  add_cluster_types(cfg);
  caf::actor_system sys(cfg);

  generation_request req;
  req.rid = "r\xc3\xa9-1";
  req.prompt = {1, 400, 7, 511};
  req.max_tokens = 33;
  req.sampling.temperature = 0.7f;
  req.sampling.top_k = 5;
  req.sampling.top_p = 0.9f;
  req.sampling.seed = 1234567890123ULL;
  req.stop_at_eos = false;
  req.sampling.min_p = 0.25f;
  req.sampling.presence_penalty = 0.5f;
  req.sampling.frequency_penalty = -1.0f;
  req.sampling.repetition_penalty = 1.5f;
  req.sampling.bias_ids = {3, 9};
  req.sampling.bias_values = {-100.0f, 2.5f};
  req.sampling.logprobs = 4;
  req.stop_token_ids = {13, 2};
  req.cache_prompt = false;
  req.deadline = std::chrono::milliseconds(2500);
  req.ns = (uint64_t{3} << 32) | 0xdeadbeefu;  // tenant 3, a salt
  req.tenant = 3;
  req.tenant_weight = 4;
  const auto back = from_node_request(round_trip(sys, to_node_request(req)));
  CHECK(back.ns == req.ns);  // the node matches and publishes in the tenant's namespace only
  CHECK(back.tenant == 3);
  CHECK(back.tenant_weight == 4);
  CHECK(back.rid == req.rid);
  CHECK(back.prompt == req.prompt);
  CHECK(back.max_tokens == 33);
  CHECK(back.sampling.temperature == doctest::Approx(0.7f));
  CHECK(back.sampling.top_k == 5);
  CHECK(back.sampling.top_p == doctest::Approx(0.9f));
  CHECK(back.sampling.seed == 1234567890123ULL);
  CHECK_FALSE(back.stop_at_eos);
  CHECK(back.sampling.min_p == 0.25f);
  CHECK(back.sampling.presence_penalty == 0.5f);
  CHECK(back.sampling.frequency_penalty == -1.0f);
  CHECK(back.sampling.repetition_penalty == 1.5f);
  CHECK(back.sampling.bias_ids == req.sampling.bias_ids);
  CHECK(back.sampling.bias_values == req.sampling.bias_values);
  CHECK(back.sampling.logprobs == 4);
  CHECK(back.stop_token_ids == req.stop_token_ids);
  CHECK_FALSE(back.cache_prompt);
  CHECK(back.deadline == std::chrono::milliseconds(2500));

  for (auto kind : {generation_event::kind::token, generation_event::kind::finished, generation_event::kind::error}) {
    generation_event ev;
    ev.type = kind;
    ev.rid = "x";
    ev.token = 42;
    ev.logprob = -1.25f;
    ev.top_ids = {42, 7};
    ev.top_logprobs = {-1.25f, -2.0f};
    ev.finish_reason = "length";
    ev.error = engine_errc::device_error;
    ev.error_message = "boom";
    ev.usage = {10, 8, 3};
    const auto got = from_node_event(round_trip(sys, to_node_event(ev)));
    CHECK(got.type == kind);
    CHECK(got.rid == "x");
    CHECK(got.token == 42);
    CHECK(got.logprob == -1.25f);
    CHECK(got.top_ids == ev.top_ids);
    CHECK(got.top_logprobs == ev.top_logprobs);
    CHECK(got.finish_reason == "length");
    // The code travels by its wire name, and only on an error event.
    CHECK(got.error == (kind == generation_event::kind::error ? engine_errc::device_error : engine_errc::ok));
    CHECK(got.error_message == "boom");
    CHECK(got.usage.prompt_tokens == 10);
    CHECK(got.usage.cached_tokens == 8);
    CHECK(got.usage.completion_tokens == 3);
  }
}

TEST_CASE("every engine error crosses a node by its wire name, and an unknown name stays in the message") {
  for (auto code : all_engine_errcs) {
    if (code == engine_errc::ok) continue;
    generation_event ev;
    ev.type = generation_event::kind::error;
    ev.error = code;
    ev.error_message = "m";
    CAPTURE(to_string(code));
    CHECK(from_node_event(to_node_event(ev)).error == code);
  }
  node_event newer;
  newer.type = 2;
  newer.error_code = "SOMETHING_NEW";
  newer.error_message = "from a newer node";
  const auto got = from_node_event(newer);
  CHECK(got.error == engine_errc::internal);
  CHECK(got.error_message == "SOMETHING_NEW: from a newer node");
}

TEST_CASE("the router's tree keys: a namespace never shares a branch with another") {
  const std::vector<int32_t> prompt = {1, 2, 3, 4, 5};
  const auto a = namespaced_key(uint64_t{1} << 32, prompt, 100);
  const auto b = namespaced_key(uint64_t{2} << 32, prompt, 100);
  const auto salted = namespaced_key((uint64_t{1} << 32) | 7u, prompt, 100);
  REQUIRE(a.size() == prompt.size() + namespace_tokens);
  CHECK(std::vector<int32_t>(a.begin() + namespace_tokens, a.end()) == prompt);
  CHECK(a[0] != b[0]);
  CHECK(a[0] == salted[0]);
  CHECK(a[1] != salted[1]);
  CHECK(namespaced_key(0, prompt, 3).size() == 3 + namespace_tokens);
}

TEST_CASE("the cluster's type-ID block follows the engine's without overlap") {
  CHECK(caf::id_block::kvactor_cluster::begin == caf::id_block::kvactor::end);
  CHECK(caf::id_block::kvactor_cluster::end > caf::id_block::kvactor_cluster::begin);
  CHECK(caf::type_id<node_request>::value >= caf::id_block::kvactor_cluster::begin);
  CHECK(caf::type_id<node_event>::value < caf::id_block::kvactor_cluster::end);
}
