// TAK destinations end to end: `cotflow run` streaming to test receivers
// that go down and come back.
#include <boost/test/unit_test.hpp>

#include "tests/support/broker_fixture.hpp"
#include "tests/support/kafka_client.hpp"
#include "tests/support/tak_receiver.hpp"

#include <algorithm>
#include <csignal>
#include <map>

using namespace cotflow::test;
using namespace std::chrono_literals;

namespace {

std::string tcp(uint16_t port) {
  return "tcp://127.0.0.1:" + std::to_string(port);
}

/// True when `got` holds every valid input.
bool has_all_valid(const std::vector<produced>& inputs,
                   const std::map<uint64_t, int>& got) {
  for (auto& p : inputs)
    if (p.valid && got.count(p.seq) == 0)
      return false;
  return true;
}

size_t missing_valid(const std::vector<produced>& inputs,
                     const std::map<uint64_t, int>& got) {
  size_t n = 0;
  for (auto& p : inputs)
    n += p.valid && got.count(p.seq) == 0;
  return n;
}

const std::vector<std::pair<std::string, std::string>> fast_retry = {
  {"COTFLOW_TAK_RECONNECT_MIN_MS", "100"},
  {"COTFLOW_TAK_RECONNECT_MAX_MS", "500"},
};

} // namespace

BOOST_FIXTURE_TEST_SUITE(tak_destinations, broker_fixture)

BOOST_AUTO_TEST_CASE(a_dead_destination_holds_commits_but_not_the_live_one) {
  tak_receiver live;
  tak_receiver late;
  late.stop(); // down for the first half of the run
  auto env = fast_retry;
  env.push_back({"COTFLOW_TAK_DESTINATIONS",
                 "live=" + tcp(live.port()) + ",late=" + tcp(late.port())});
  // Without parking (see parking.cpp for the default), a dead destination
  // keeps its records in memory and their offsets uncommitted.
  env.push_back({"COTFLOW_KAFKA_PARKING_TOPIC", ""});
  env.push_back({"COTFLOW_TAK_BREAKER_OPEN_MIN_MS", "200"});
  env.push_back({"COTFLOW_TAK_BREAKER_OPEN_MAX_MS", "500"});
  auto run = this->run("tak-two", env);
  auto inputs = publish_generated(bootstrap, input_topic, 5000, 0.02);
  {
    // Waited for before the message is built (argument order is
    // unspecified): the count is then the one at the end of the wait.
    bool ok = eventually([&] { return has_all_valid(inputs, live.seqs()); },
                         120s);
    BOOST_REQUIRE_MESSAGE(ok, "the live destination misses "
                                << missing_valid(inputs, live.seqs()));
  }
  // Nothing valid reached the dead one, so no commit may pass a valid
  // record.
  auto done = committed(bootstrap, "tak-two", input_topic);
  std::map<int32_t, int64_t> first_valid;
  for (auto& p : inputs)
    if (p.valid
        && (first_valid.count(p.partition) == 0
            || p.offset < first_valid[p.partition]))
      first_valid[p.partition] = p.offset;
  for (auto& [partition, offset] : first_valid)
    BOOST_CHECK_LE(done[partition], offset);
  late.start();
  {
    bool ok = eventually([&] { return has_all_valid(inputs, late.seqs()); },
                         120s);
    BOOST_REQUIRE_MESSAGE(ok, "the late destination misses "
                                << missing_valid(inputs, late.seqs()));
  }
  BOOST_REQUIRE(eventually([&] { return all_committed("tak-two"); }, 60s));
  run->signal(SIGTERM);
  auto rc = run->wait(60s);
  BOOST_REQUIRE(rc);
  BOOST_CHECK_EQUAL(*rc, 0);
  // What the receiver parsed are whole CoT events.
  for (auto& ev : late.sample()) {
    BOOST_CHECK(ev.rfind("<event version=\"2.0\"", 0) == 0);
    BOOST_CHECK(ev.find("<point ") != std::string::npos);
  }
}

BOOST_AUTO_TEST_CASE(a_receiver_restarting_twice_misses_nothing) {
  tak_receiver rx;
  auto env = fast_retry;
  env.push_back({"COTFLOW_TAK_DESTINATIONS", "tak=" + tcp(rx.port())});
  // This is about the replay window of a direct connection: no spill to
  // parking (which the embedded broker could not hold anyway: it keeps
  // about 5 MB per partition and drops the oldest; parking has its own
  // test).
  env.push_back({"COTFLOW_TAK_QUEUE_EVENTS", "1000000"});
  auto run = this->run("tak-restart", env);
  auto inputs = publish_generated(bootstrap, input_topic, 50000, 0.01);
  for (size_t mark : {15000u, 30000u}) {
    BOOST_REQUIRE(eventually([&] { return rx.seqs().size() >= mark; }, 120s));
    rx.stop();
    rx.start();
  }
  {
    bool ok = eventually([&] { return has_all_valid(inputs, rx.seqs()); },
                         180s);
    BOOST_REQUIRE_MESSAGE(ok, "the receiver misses "
                                << missing_valid(inputs, rx.seqs()));
  }
  BOOST_REQUIRE(eventually([&] { return all_committed("tak-restart"); }, 60s));
  BOOST_CHECK_GE(rx.connections(), 3u);
  size_t dups = 0;
  for (auto& [seq, n] : rx.seqs())
    dups += static_cast<size_t>(n - 1);
  BOOST_TEST_MESSAGE("connections " << rx.connections() << ", duplicates "
                                    << dups);
  run->signal(SIGTERM);
  auto rc = run->wait(60s);
  BOOST_REQUIRE(rc);
  BOOST_CHECK_EQUAL(*rc, 0);
}

BOOST_AUTO_TEST_CASE(udp_unicast_and_multicast_on_loopback_deliver) {
  udp_receiver unicast;
  udp_receiver multicast{"239.2.3.1"};
  auto env = fast_retry;
  env.push_back(
    {"COTFLOW_TAK_DESTINATIONS",
     "uni=udp://127.0.0.1:" + std::to_string(unicast.port())
       + ",multi=udp://239.2.3.1:" + std::to_string(multicast.port())
       + "?ttl=0&interface=127.0.0.1"});
  auto run = this->run("tak-udp", env);
  auto inputs = publish_generated(bootstrap, input_topic, 500, 0.0);
  {
    bool ok = eventually([&] { return has_all_valid(inputs, unicast.seqs()); },
                         60s);
    BOOST_CHECK_MESSAGE(ok, "unicast misses "
                              << missing_valid(inputs, unicast.seqs()));
  }
  {
    bool ok = eventually(
      [&] { return has_all_valid(inputs, multicast.seqs()); }, 60s);
    BOOST_CHECK_MESSAGE(ok, "multicast misses "
                              << missing_valid(inputs, multicast.seqs()));
  }
  run->signal(SIGTERM);
  auto rc = run->wait(60s);
  BOOST_REQUIRE(rc);
  BOOST_CHECK_EQUAL(*rc, 0);
}

BOOST_AUTO_TEST_CASE(filtered_destinations_get_only_their_share_and_commit) {
  tak_receiver hostile;
  tak_receiver all;
  auto env = fast_retry;
  env.push_back({"COTFLOW_TAK_DESTINATIONS",
                 "hostile=" + tcp(hostile.port())
                   + "?affiliations=hostile,all=" + tcp(all.port())});
  auto run = this->run("tak-filter", env);
  auto inputs = publish_generated(bootstrap, input_topic, 3000, 0.0);
  BOOST_REQUIRE(
    eventually([&] { return has_all_valid(inputs, all.seqs()); }, 120s));
  // Records the filter refused count as done for that destination.
  BOOST_REQUIRE(eventually([&] { return all_committed("tak-filter"); }, 60s));
  BOOST_CHECK_GT(hostile.events(), 0u);
  BOOST_CHECK_LT(hostile.events(), all.events());
  // Each connection began with cotflow's identity.
  BOOST_CHECK_GE(hostile.hellos(), 1u);
  BOOST_CHECK_EQUAL(hostile.hellos(), hostile.connections());
  for (auto& ev : hostile.sample())
    BOOST_CHECK_MESSAGE(ev.find("type=\"a-h-") != std::string::npos, ev);
  run->signal(SIGTERM);
  BOOST_CHECK_EQUAL(*run->wait(60s), 0);
}

BOOST_AUTO_TEST_CASE(routing_details_and_the_identity_reach_the_server) {
  tak_receiver routed;
  auto env = fast_retry;
  env.push_back({"COTFLOW_TAK_DESTINATIONS",
                 "routed=" + tcp(routed.port())
                   + "?dest_callsigns=Alpha|Bravo&dest_missions=ops"
                     "&archive=true"});
  env.push_back({"COTFLOW_TAK_HELLO_CALLSIGN", "gateway-7"});
  auto run = this->run("tak-routed", env);
  auto inputs = publish_generated(bootstrap, input_topic, 200, 0.0);
  BOOST_REQUIRE(
    eventually([&] { return has_all_valid(inputs, routed.seqs()); }, 60s));
  const std::string extra = R"(<marti><dest callsign="Alpha"/>)"
                            R"(<dest callsign="Bravo"/><dest mission="ops"/>)"
                            R"(</marti><archive/></detail>)";
  auto sample = routed.sample();
  BOOST_REQUIRE(!sample.empty());
  for (auto& ev : sample)
    BOOST_CHECK_MESSAGE(ev.find(extra) != std::string::npos, ev);
  BOOST_CHECK_EQUAL(routed.hellos(), routed.connections());
  run->signal(SIGTERM);
  BOOST_CHECK_EQUAL(*run->wait(60s), 0);
}

BOOST_AUTO_TEST_SUITE_END()
