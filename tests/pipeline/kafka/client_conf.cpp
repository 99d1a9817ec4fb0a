// The Kafka client configurations as `config check` builds them: every
// property set as `run` sets it, without connecting.
#include <boost/test/unit_test.hpp>

#include "config/config.hpp"
#include "pipeline/kafka/kafka.hpp"

#include <chrono>
#include <string>
#include <vector>

using cotflow::check_client_confs;

namespace {

std::string joined(const std::vector<std::string>& v) {
  std::string s;
  for (auto& e : v)
    s += "\n  " + e;
  return s;
}

bool mentions(const std::vector<std::string>& problems, const std::string& s) {
  return joined(problems).find(s) != std::string::npos;
}

} // namespace

BOOST_AUTO_TEST_CASE(the_default_configuration_builds_every_client) {
  auto cfg = cotflow::default_config();
  BOOST_TEST(check_client_confs(cfg).empty(), joined(check_client_confs(cfg)));
  cfg.kafka.brokers = "embedded";
  BOOST_TEST(check_client_confs(cfg).empty(), joined(check_client_confs(cfg)));
}

// Issue 22: both passed `config check`; `run` then exited 1, which the
// systemd unit restarted forever.
BOOST_AUTO_TEST_CASE(every_bad_property_is_reported_once_not_only_the_first) {
  auto cfg = cotflow::default_config();
  cfg.kafka.properties = {{"no.such.property", "1"},
                          {"session.timeout.ms", "abc"},
                          {"linger.ms", "-5"}};
  auto problems = check_client_confs(cfg);
  BOOST_TEST(problems.size() == 3u, joined(problems));
  BOOST_TEST(mentions(problems, "kafka property no.such.property"));
  BOOST_TEST(mentions(problems, "kafka property session.timeout.ms"));
  BOOST_TEST(mentions(problems, "kafka property linger.ms"));
}

// What librdkafka checks only when a client is created: found without a
// broker to connect to, and at once.
BOOST_AUTO_TEST_CASE(properties_that_fail_only_at_client_creation_are_found) {
  auto cfg = cotflow::default_config();
  cfg.kafka.brokers = "192.0.2.1:9092"; // TEST-NET: never answers
  cfg.kafka.properties = {{"security.protocol", "SSL"},
                          {"ssl.ca.location", "/nonexistent/ca.pem"}};
  auto start = std::chrono::steady_clock::now();
  auto problems = check_client_confs(cfg);
  BOOST_TEST(
    (std::chrono::steady_clock::now() - start < std::chrono::seconds{5}));
  BOOST_TEST(mentions(problems, "cannot create a Kafka consumer"),
             joined(problems));
  BOOST_TEST(mentions(problems, "cannot create a Kafka producer"),
             joined(problems));
  BOOST_TEST(mentions(problems, "ssl.ca.location"), joined(problems));
  // The producer is idempotent: acks must stay all.
  cfg.kafka.properties = {{"acks", "1"}};
  problems = check_client_confs(cfg);
  BOOST_TEST(problems.size() == 1u, joined(problems));
  BOOST_TEST(mentions(problems, "cannot create a Kafka producer"),
             joined(problems));
}
