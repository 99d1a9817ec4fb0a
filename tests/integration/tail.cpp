// `cotflow tail` against a running pipeline: the events as they pass,
// filtered; the dead letters; the token.
#include <boost/test/unit_test.hpp>

#include "pipeline/ops/top.hpp"

#include "tests/support/broker_fixture.hpp"
#include "tests/support/http_get.hpp"
#include "tests/support/kafka_client.hpp"

#include <csignal>

using namespace cotflow::test;
using namespace std::chrono_literals;

namespace {

using env_list = std::vector<std::pair<std::string, std::string>>;

/// `cotflow run` and the port of its operations endpoints.
struct running {
  std::unique_ptr<child> run;
  int port = 0;
};

running start(const broker_fixture& f, const std::string& group,
              env_list extra = {}) {
  running r;
  r.run = f.run(group, extra, true);
  for (int i = 0; i < 200 && r.port == 0; ++i) {
    auto line = r.run->read_line(30s);
    BOOST_REQUIRE_MESSAGE(line, "cotflow said nothing of its endpoints");
    if (line->find("operations endpoints on") != std::string::npos)
      r.port = http_port_in(*line);
  }
  BOOST_REQUIRE(r.port > 0);
  return r;
}

/// `cotflow tail` with `args` against `port`.
std::unique_ptr<child> tail(int port, std::vector<std::string> args) {
  std::vector<std::string> argv{cotflow_bin(), "tail", "--url",
                                "http://127.0.0.1:" + std::to_string(port)};
  argv.insert(argv.end(), args.begin(), args.end());
  return std::make_unique<child>(argv, env_list{}, false);
}

size_t lines_starting(const std::string& text, const std::string& prefix) {
  size_t n = 0, at = 0;
  while (at < text.size()) {
    auto nl = text.find('\n', at);
    if (text.compare(at, prefix.size(), prefix) == 0)
      ++n;
    if (nl == std::string::npos)
      break;
    at = nl + 1;
  }
  return n;
}

void stop(running& r) {
  r.run->signal(SIGTERM);
  auto rc = r.run->wait(60s);
  BOOST_REQUIRE(rc);
  BOOST_CHECK_EQUAL(*rc, 0);
}

} // namespace

BOOST_FIXTURE_TEST_SUITE(cotflow_tail, broker_fixture)

BOOST_AUTO_TEST_CASE(tail_prints_the_events_as_they_pass_filtered) {
  auto r = start(*this, "tail");
  auto hostile = tail(r.port, {"--type", "a-h", "--count", "5"});
  auto dead = tail(r.port, {"--dead-letters", "--count", "2"});
  // Both viewers are attached before records flow.
  BOOST_REQUIRE(eventually(
    [&] {
      auto m = http_get(r.port, "/metrics");
      return m
             && cotflow::parse_prometheus(m->body)["cotflow_tail_viewers"] == 2;
    },
    20s));
  publish_generated(bootstrap, input_topic, 2000, 0.05);
  auto events = hostile->read_all(60s);
  BOOST_CHECK_EQUAL(hostile->wait(10s).value_or(-1), 0);
  BOOST_CHECK_EQUAL(lines_starting(events, "<event"), 5u);
  BOOST_CHECK_EQUAL(lines_starting(events, "<event version=\"2.0\" uid="), 5u);
  BOOST_CHECK_EQUAL(lines_starting(events, ""), 5u);
  // Only hostile types.
  size_t at = 0, typed = 0;
  while ((at = events.find(" type=\"a-h-", at)) != std::string::npos)
    ++typed, ++at;
  BOOST_CHECK_EQUAL(typed, 5u);
  auto letters = dead->read_all(60s);
  BOOST_CHECK_EQUAL(dead->wait(10s).value_or(-1), 0);
  BOOST_CHECK_EQUAL(lines_starting(letters, "<event"), 0u);
  BOOST_CHECK_MESSAGE(letters.find(" (") != std::string::npos
                        && letters.find("detections/") != std::string::npos,
                      letters);
  // The viewers went away with their commands.
  BOOST_CHECK(eventually(
    [&] {
      auto m = http_get(r.port, "/metrics");
      return m
             && cotflow::parse_prometheus(m->body)["cotflow_tail_viewers"] == 0;
    },
    20s));
  stop(r);
}

BOOST_AUTO_TEST_CASE(tail_without_the_token_says_how_to_pass_it) {
  auto r = start(*this, "tail-token", {{"COTFLOW_HTTP_TOKEN", "s3cret"}});
  child refused{{cotflow_bin(), "tail", "--url",
                 "http://127.0.0.1:" + std::to_string(r.port)},
                env_list{},
                true};
  auto said = refused.read_all(30s);
  BOOST_CHECK_EQUAL(refused.wait(10s).value_or(-1), 2);
  BOOST_CHECK(said.find("--token") != std::string::npos);
  auto ok = tail(r.port, {"--token", "s3cret", "--count", "1"});
  publish_generated(bootstrap, input_topic, 50, 0.0);
  auto one = ok->read_all(60s);
  BOOST_CHECK_EQUAL(ok->wait(10s).value_or(-1), 0);
  BOOST_CHECK_EQUAL(lines_starting(one, "<event"), 1u);
  stop(r);
}

BOOST_AUTO_TEST_SUITE_END()
