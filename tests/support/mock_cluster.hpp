#pragma once

#include <boost/test/unit_test.hpp>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <string>

namespace cotflow::test {

/// librdkafka's mock cluster of one broker in this process, with one topic;
/// `mc` lets a test inject faults (rd_kafka_mock_broker_set_down, ...).
struct mock_cluster {
  rd_kafka_t* rk = nullptr;
  rd_kafka_mock_cluster_t* mc = nullptr;

  explicit mock_cluster(const std::string& topic, int partitions = 1) {
    char err[256];
    auto conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "log_level", "3", nullptr, 0);
    rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
    BOOST_TEST_REQUIRE(rk != nullptr, err);
    mc = rd_kafka_mock_cluster_new(rk, 1);
    BOOST_TEST_REQUIRE(mc != nullptr);
    BOOST_TEST_REQUIRE(
      rd_kafka_mock_topic_create(mc, topic.c_str(), partitions, 1)
      == RD_KAFKA_RESP_ERR_NO_ERROR);
  }

  ~mock_cluster() {
    rd_kafka_mock_cluster_destroy(mc);
    rd_kafka_destroy(rk);
  }

  mock_cluster(const mock_cluster&) = delete;
  mock_cluster& operator=(const mock_cluster&) = delete;

  std::string bootstraps() const {
    return rd_kafka_mock_cluster_bootstraps(mc);
  }
};

} // namespace cotflow::test
