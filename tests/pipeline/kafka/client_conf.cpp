// The Kafka client configurations as `config check` builds them: every
// property set as `run` sets it, without connecting; and the embedded
// broker's settings, for brokers that answer as one.
#include <boost/test/unit_test.hpp>

#include "config/config.hpp"
#include "pipeline/kafka/kafka.hpp"

#include <chrono>
#include <string>
#include <vector>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

using cotflow::check_client_confs;
using namespace std::chrono_literals;

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

BOOST_AUTO_TEST_CASE(an_embedded_broker_is_recognized_by_its_answer) {
  std::string err;
  auto broker = cotflow::embedded_broker::start(1, err);
  BOOST_REQUIRE_MESSAGE(broker, err);
  auto cfg = cotflow::default_config();
  cfg.kafka.brokers = broker->bootstraps();
  BOOST_CHECK(cotflow::answers_as_embedded_broker(cfg, 5s));
}

BOOST_AUTO_TEST_CASE(brokers_that_do_not_answer_are_taken_for_a_real_cluster) {
  // A port bound but not listening: connects are refused.
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  BOOST_REQUIRE_EQUAL(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)),
                      0);
  socklen_t len = sizeof(a);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  auto cfg = cotflow::default_config();
  cfg.kafka.brokers = "127.0.0.1:" + std::to_string(ntohs(a.sin_port));
  BOOST_CHECK(!cotflow::answers_as_embedded_broker(cfg, 300ms));
  ::close(fd);
}

BOOST_AUTO_TEST_CASE(consumers_take_the_embedded_settings_only_there) {
  auto fetch_wait = [](const cotflow::config& cfg, cotflow::client_role r) {
    std::string err, v;
    auto conf = cotflow::make_client_conf(cfg, r, err);
    BOOST_REQUIRE_MESSAGE(conf, err);
    conf->get("fetch.wait.max.ms", v);
    return v;
  };
  using cotflow::client_role;
  auto cfg = cotflow::default_config();
  cfg.kafka.brokers = "127.0.0.1:9092";
  // A real cluster: librdkafka's default, which costs a real broker nothing.
  BOOST_CHECK_EQUAL(fetch_wait(cfg, client_role::consumer), "500");
  cfg.kafka.embedded = true;
  BOOST_CHECK_EQUAL(fetch_wait(cfg, client_role::consumer), "10");
  // kafka.properties have the last word.
  cfg.kafka.properties["fetch.wait.max.ms"] = "50";
  BOOST_CHECK_EQUAL(fetch_wait(cfg, client_role::consumer), "50");
}
