// librdkafka statistics documents become per-client gauges.
#include <boost/test/unit_test.hpp>

#include "pipeline/kafka/kafka_stats.hpp"

using cotflow::kafka_stats;

namespace {

// The shape of librdkafka's statistics JSON (trimmed to what is read, plus
// neighbours that must be ignored).
const char* consumer_doc = R"({
  "name": "cotflow#consumer-1", "client_id": "cotflow", "type": "consumer",
  "ts": 1, "time": 1, "msg_cnt": 12, "msg_size": 3400,
  "brokers": {
    "127.0.0.1:9092/bootstrap": {"nodeid": -1, "waitresp_cnt": 0,
                                 "rtt": {"avg": 0}},
    "127.0.0.1:9092/1": {"nodeid": 1, "waitresp_cnt": 2,
                         "rtt": {"min": 100, "max": 900, "avg": 2500}},
    "GroupCoordinator": {"nodeid": -1, "waitresp_cnt": 0}
  },
  "topics": {
    "detections": {"topic": "detections", "partitions": {
      "0": {"partition": 0, "fetch_state": "active", "consumer_lag": 42},
      "1": {"partition": 1, "fetch_state": "none", "consumer_lag": 7},
      "2": {"partition": 2, "fetch_state": "active", "consumer_lag": -1},
      "-1": {"partition": -1, "fetch_state": "none", "consumer_lag": -1}
    }}
  }
})";

} // namespace

BOOST_AUTO_TEST_CASE(a_consumer_report_gives_lag_queues_and_round_trips) {
  auto& ks = kafka_stats::instance();
  BOOST_REQUIRE(ks.update(consumer_doc));
  auto snap = ks.snapshot();
  BOOST_REQUIRE(snap.count("cotflow#consumer-1") == 1);
  auto& c = snap["cotflow#consumer-1"];
  BOOST_TEST(c.type == "consumer");
  BOOST_TEST(c.queue_messages == 12);
  BOOST_TEST(c.queue_bytes == 3400);
  // Only partitions being fetched with a known lag.
  BOOST_TEST(c.lag.size() == 1u);
  BOOST_TEST((c.lag[{"detections", 0}] == 42));
  // Only real brokers.
  BOOST_TEST(c.waiting_requests.size() == 1u);
  BOOST_TEST(c.waiting_requests["127.0.0.1:9092/1"] == 2);
  BOOST_TEST(c.rtt_seconds["127.0.0.1:9092/1"] == 0.0025,
             boost::test_tools::tolerance(1e-9));
  ks.forget("cotflow#consumer-1");
  BOOST_TEST(ks.snapshot().count("cotflow#consumer-1") == 0u);
}

BOOST_AUTO_TEST_CASE(what_is_not_a_report_is_refused) {
  auto& ks = kafka_stats::instance();
  BOOST_TEST(!ks.update(""));
  BOOST_TEST(!ks.update("[1,2]"));
  BOOST_TEST(!ks.update("{\"type\":\"producer\"}"));
  BOOST_TEST(!ks.update("{\"name\":"));
}
