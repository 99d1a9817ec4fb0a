// Supervised restarts: encoder workers that crash are restarted with their
// batches redelivered; past the restart intensity the process exits
// non-zero naming the actor.
#include <boost/test/unit_test.hpp>

#include "tests/support/broker_fixture.hpp"
#include "tests/support/http_get.hpp"
#include "tests/support/kafka_client.hpp"

#include <map>

using namespace cotflow::test;
using namespace std::chrono_literals;

namespace {

void read_log(child& c, std::string& log) {
  while (auto line = c.read_line(1ms))
    log += *line + "\n";
}

size_t count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (auto pos = text.find(what); pos != std::string::npos;
       pos = text.find(what, pos + 1))
    ++n;
  return n;
}

} // namespace

BOOST_FIXTURE_TEST_SUITE(supervision, broker_fixture)

BOOST_AUTO_TEST_CASE(crashing_encoders_are_restarted_and_lose_nothing) {
  auto run = this->run("sup",
                       {{"COTFLOW_FAULTS_ENCODER_THROW_RATE", "0.001"},
                        {"COTFLOW_SUPERVISION_MAX_RESTARTS", "100000"},
                        {"COTFLOW_SUPERVISION_BACKOFF_MIN_MS", "1"},
                        {"COTFLOW_SUPERVISION_BACKOFF_MAX_MS", "20"}},
                       true);
  auto inputs = publish_generated(bootstrap, input_topic, 20000, 0.01);
  std::string log;
  BOOST_REQUIRE(eventually(
    [&] {
      read_log(*run, log);
      return all_committed("sup");
    },
    180s));
  auto restarts = count(log, "restarting in");
  BOOST_TEST_MESSAGE("restarts: " << restarts);
  BOOST_CHECK_GT(restarts, 0u);
  run->signal(SIGTERM);
  auto rc = run->wait(60s);
  BOOST_REQUIRE(rc);
  BOOST_CHECK_EQUAL(*rc, 0);
  std::map<uint64_t, int> cot, dead;
  for (auto& r : read_topic(bootstrap, "cot"))
    cot[*seq_of(r.payload)] += 1;
  for (auto& r : read_topic(bootstrap, "cot-dead-letter"))
    dead[*seq_of(r.payload)] += 1;
  size_t missing = 0;
  for (auto& p : inputs)
    missing += (p.valid ? cot : dead).count(p.seq) == 0;
  BOOST_CHECK_EQUAL(missing, 0u);
}

BOOST_AUTO_TEST_CASE(exceeding_the_restart_intensity_exits_non_zero) {
  auto run = this->run("sup-escalate",
                       {{"COTFLOW_FAULTS_ENCODER_THROW_RATE", "0.05"},
                        {"COTFLOW_SUPERVISION_MAX_RESTARTS", "2"},
                        {"COTFLOW_SUPERVISION_BACKOFF_MIN_MS", "1"}},
                       true);
  publish_generated(bootstrap, input_topic, 2000, 0.0);
  std::string log;
  std::optional<int> rc;
  BOOST_REQUIRE(eventually(
    [&] {
      read_log(*run, log);
      return (rc = run->wait(1ms)).has_value();
    },
    120s));
  read_log(*run, log);
  BOOST_CHECK_NE(*rc, 0);
  BOOST_CHECK_MESSAGE(log.find("encoder-") != std::string::npos
                        && log.find("escalating") != std::string::npos,
                      log);
  // Nothing past an undelivered record was committed: the next run
  // delivers everything.
  auto again = this->run("sup-escalate");
  BOOST_CHECK(eventually([&] { return all_committed("sup-escalate"); },
                         120s));
  again->signal(SIGTERM);
  BOOST_CHECK_EQUAL(*again->wait(60s), 0);
}

BOOST_AUTO_TEST_SUITE_END()
