#include <boost/test/unit_test.hpp>

#include "config/config.hpp"
#include "pipeline/kafka.hpp"
#include "tests/support/kafka_client.hpp"
#include "tests/support/mock_cluster.hpp"

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

// tracked_producer against librdkafka's mock cluster in this process: what
// it produced arrives as it was, whether librdkafka copied the payload or
// read it from the producer's own slot (produce_owned), also when a
// delivery fails and the producer produces it again.

namespace {

using namespace std::chrono_literals;

/// Payloads of every size class: short enough for std::string's inline
/// buffer (its bytes live inside the slot itself) and heap-allocated ones.
std::string payload(size_t i) {
  std::string p = "p" + std::to_string(i);
  if (i % 3 != 0)
    p += std::string(20 + i % 700, static_cast<char>('a' + i % 26));
  return p;
}

/// Polls until nothing is outstanding or `limit` passes.
std::vector<cotflow::delivered_ref> drain(cotflow::tracked_producer& p,
                                          std::chrono::seconds limit) {
  std::vector<cotflow::delivered_ref> out;
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (p.outstanding() > 0 && std::chrono::steady_clock::now() < deadline)
    p.poll(50, out);
  return out;
}

/// The topic's records by key; a key written twice must carry the same
/// payload both times, and only where `twice_ok`.
std::map<std::string, std::string> read_back(const std::string& bootstrap,
                                             bool twice_ok) {
  std::map<std::string, std::string> by_key;
  for (auto& r : cotflow::test::read_topic(bootstrap, "cot")) {
    auto [it, fresh] = by_key.emplace(r.key, r.payload);
    BOOST_TEST((fresh || twice_ok), "key " << r.key << " twice");
    BOOST_TEST(it->second == r.payload);
  }
  return by_key;
}

} // namespace

BOOST_AUTO_TEST_CASE(owned_and_copied_payloads_arrive_as_they_were) {
  cotflow::test::mock_cluster c{"cot"};
  auto cfg = cotflow::default_config();
  cfg.kafka.brokers = c.bootstraps();
  std::string err;
  auto p = cotflow::tracked_producer::make(cfg, err);
  BOOST_TEST_REQUIRE(bool(p), err);
  auto pool = std::make_shared<cotflow::string_pool>(1 << 20, 4096);
  p->recycle_into(pool);
  constexpr size_t n = 3000;
  std::map<std::string, std::string> sent;
  for (size_t i = 0; i < n; ++i) {
    auto key = "k" + std::to_string(i);
    sent[key] = payload(i);
    if (i % 4 == 0) {
      p->produce("cot", key, sent[key], 0, static_cast<int64_t>(i), -1);
    } else {
      auto moved = payload(i);
      p->produce_owned("cot", key, std::move(moved), 0,
                       static_cast<int64_t>(i), -1);
    }
    // Serve reports now and then, so that slots are reused meanwhile.
    if (i % 500 == 499) {
      std::vector<cotflow::delivered_ref> ignored;
      p->poll(0, ignored);
    }
  }
  drain(*p, 30s);
  BOOST_TEST_REQUIRE(p->outstanding() == 0u);
  BOOST_TEST(p->failure() == "");
  BOOST_TEST((read_back(c.bootstraps(), false) == sent));
  // The delivered owned payloads' buffers went to the pool (the copied
  // ones belong to librdkafka).
  BOOST_TEST(pool->bytes() > 0u);
}

BOOST_AUTO_TEST_CASE(an_owned_payload_is_produced_again_after_a_failure) {
  cotflow::test::mock_cluster c{"cot"};
  auto cfg = cotflow::default_config();
  cfg.kafka.brokers = c.bootstraps();
  // Deliveries time out while the broker is down: each comes back as a
  // failed delivery report, which the producer answers by producing the
  // message again, from the slot that still owns it.
  cfg.kafka.properties["message.timeout.ms"] = "300";
  std::string err;
  auto p = cotflow::tracked_producer::make(cfg, err);
  BOOST_TEST_REQUIRE(bool(p), err);
  rd_kafka_mock_broker_set_down(c.mc, 1);
  std::map<std::string, std::string> sent;
  for (size_t i = 0; i < 200; ++i) {
    auto key = "k" + std::to_string(i);
    sent[key] = payload(i);
    auto moved = payload(i);
    p->produce_owned("cot", key, std::move(moved), 0,
                     static_cast<int64_t>(i), -1);
  }
  std::vector<cotflow::delivered_ref> out;
  auto deadline = std::chrono::steady_clock::now() + 20s;
  while (p->retries() < 200 && std::chrono::steady_clock::now() < deadline)
    p->poll(50, out);
  BOOST_TEST_REQUIRE(p->retries() >= 200u);
  BOOST_TEST(out.empty());
  rd_kafka_mock_broker_set_up(c.mc, 1);
  auto delivered = drain(*p, 30s);
  BOOST_TEST_REQUIRE(p->outstanding() == 0u);
  BOOST_TEST(p->failure() == "");
  BOOST_TEST(delivered.size() == sent.size());
  // Producing again may write a message twice (at least once).
  BOOST_TEST((read_back(c.bootstraps(), true) == sent));
}
