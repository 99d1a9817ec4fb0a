// Scale-out: several cotflow processes in one consumer group on one broker
// process; one is SIGKILLed mid-stream and another joins later.
#include <boost/test/unit_test.hpp>

#include "tests/support/broker_fixture.hpp"
#include "tests/support/kafka_client.hpp"

#include <algorithm>
#include <map>
#include <thread>

using namespace cotflow::test;
using namespace std::chrono_literals;

namespace {

struct twelve_partitions : broker_fixture {
  twelve_partitions() : broker_fixture(12) {
  }
};

int64_t outputs(const std::string& bootstrap) {
  int64_t n = 0;
  for (auto& [p, hi] : high_watermarks(bootstrap, "cot"))
    n += hi;
  for (auto& [p, hi] : high_watermarks(bootstrap, "cot-dead-letter"))
    n += hi;
  return n;
}

} // namespace

BOOST_FIXTURE_TEST_SUITE(scale_out, twelve_partitions)

BOOST_AUTO_TEST_CASE(a_killed_instance_loses_nothing_and_a_new_one_joins) {
  // The outputs outgrow what the embedded broker keeps: read them live.
  topic_tail tail{bootstrap, {"cot", "cot-dead-letter"}};
  std::vector<produced> inputs;
  std::thread publisher{[&] {
    for (uint64_t i = 0; i < 20; ++i) {
      // Stay within what the embedded broker retains (about 5 MB per
      // partition, and it drops the oldest): no more than 20,000 records
      // ahead of the group's commits (outputs would count duplicates),
      // keys spread over many tracks.
      eventually(
        [&] {
          int64_t done = 0;
          for (auto& [p, o] : committed(bootstrap, "scale", input_topic))
            done += std::max<int64_t>(o, 0);
          return done + 20000 >= static_cast<int64_t>(i * 10000);
        },
        300s);
      auto part = publish_generated(bootstrap, input_topic, 10000, 0.01,
                                    200 + i, i * 10000, 1200);
      inputs.insert(inputs.end(), part.begin(), part.end());
    }
  }};
  std::vector<std::unique_ptr<child>> runs;
  // A dead member's partitions move after the session timeout: keep it
  // short, as operators do when they want fast failover.
  const std::vector<std::pair<std::string, std::string>> env = {
    {"COTFLOW_KAFKA_PROPERTIES",
     "session.timeout.ms=6000,heartbeat.interval.ms=500"}};
  for (int i = 0; i < 3; ++i)
    runs.push_back(run("scale", env));
  BOOST_REQUIRE(eventually([&] { return outputs(bootstrap) >= 50000; },
                           300s));
  runs[1]->signal(SIGKILL);
  BOOST_CHECK_EQUAL(*runs[1]->wait(10s), 128 + SIGKILL);
  BOOST_REQUIRE(eventually([&] { return outputs(bootstrap) >= 120000; },
                           300s));
  runs.push_back(run("scale", env));
  publisher.join();
  BOOST_REQUIRE_EQUAL(inputs.size(), 200000u);
  BOOST_REQUIRE_MESSAGE(
    eventually([&] { return all_committed("scale"); }, 300s),
    "the group did not commit to the end");
  for (size_t i : {0u, 2u, 3u}) {
    runs[i]->signal(SIGTERM);
    auto rc = runs[i]->wait(60s);
    BOOST_REQUIRE(rc);
    BOOST_CHECK_EQUAL(*rc, 0);
  }
  auto seen = tail.finish();
  auto& cot = seen["cot"];
  auto& dead = seen["cot-dead-letter"];
  BOOST_REQUIRE_MESSAGE(tail.gaps() == 0, "the test's reader fell behind the "
                                          "broker's retention by "
                                            << tail.gaps() << " records");
  size_t missing = 0, duplicates = 0;
  for (auto& p : inputs) {
    auto& where = p.valid ? cot : dead;
    auto it = where.find(p.seq);
    if (it == where.end()) {
      if (++missing <= 20)
        BOOST_TEST_MESSAGE("missing seq=" << p.seq << " valid=" << p.valid
                                          << " at " << p.partition << "/"
                                          << p.offset);
    }
    else
      duplicates += static_cast<size_t>(it->second - 1);
  }
  BOOST_TEST_MESSAGE("duplicates: " << duplicates);
  BOOST_CHECK_EQUAL(missing, 0u);
  // Duplicates are reported, not bounded yet: in-flight records of revoked
  // partitions are abandoned to the next owner, and the embedded broker
  // refuses commits while a rebalance is in progress, so under load a
  // rebalance can replay up to everything since the last commit (issue 7:
  // drain within a timeout on revoke).
}

BOOST_AUTO_TEST_SUITE_END()
