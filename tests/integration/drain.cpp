// Drain on revoke end to end: two `cotflow run` instances in one group,
// the second joining (scale-out) while the first holds every record in
// flight because its TAK destination is down (parking off, so its events
// wait in memory). When the destination comes back, the TAK receiver
// counts the copies of each record: with kafka.revoke_drain_ms the
// partitions the first instance gives up wait for its records, so none is
// delivered twice; without it the second instance reads them again.
#include <boost/test/unit_test.hpp>

#include "tests/support/broker_fixture.hpp"
#include "tests/support/child_log.hpp"
#include "tests/support/http_get.hpp"
#include "tests/support/kafka_client.hpp"
#include "tests/support/tak_receiver.hpp"

#include <csignal>
#include <map>

using namespace cotflow::test;
using namespace std::chrono_literals;

namespace {

const std::string drained = "cotflow_revoke_records_total{outcome=\"drained\"}";
const std::string abandoned
  = "cotflow_revoke_records_total{outcome=\"abandoned\"}";

/// What one scale-out during an outage gave.
struct outcome {
  size_t inputs = 0;
  /// seq -> copies at the TAK receiver.
  std::map<uint64_t, int> copies;
  /// The first instance's metrics at the end.
  std::map<std::string, double> first;
  /// The broker refused a commit of partitions the first instance had
  /// given up, after it gave them up: the hand-over commit. The next owner
  /// then starts from the commit before (at least once: duplicates). The
  /// embedded broker does that when two members' SyncGroups race
  /// (docs/rebalance.md); a Kafka broker accepts the commit.
  bool handover_refused = false;
};

/// Whether `log` has a refused commit naming a partition of a "revoked"
/// line before it.
bool refused_handover(const std::string& log) {
  const std::string revoked = "revoked detections[";
  const std::string refused = "commit failed: ";
  auto first = log.find(revoked);
  if (first == std::string::npos)
    return false;
  std::vector<std::string> given_up;
  for (auto at = first; at != std::string::npos;
       at = log.find(revoked, at + 1)) {
    auto end = log.find(' ', at + 8);
    auto list = log.substr(at + 8, end - at - 8);
    for (size_t from = 0; from < list.size();) {
      auto comma = list.find(',', from);
      given_up.push_back(list.substr(from, comma - from));
      from = comma == std::string::npos ? list.size() : comma + 1;
    }
  }
  for (auto at = log.find(refused, first); at != std::string::npos;
       at = log.find(refused, at + 1)) {
    auto line = log.substr(at, log.find('\n', at) - at);
    for (auto& part : given_up)
      if (line.find(part) != std::string::npos)
        return true;
  }
  return false;
}

outcome scale_out_during_an_outage(const broker_fixture& b,
                                   const std::string& group,
                                   const std::string& revoke_drain_ms) {
  receiver_options down;
  down.listen = false;
  tak_receiver rx{down};
  std::vector<std::pair<std::string, std::string>> env = {
    {"COTFLOW_TAK_DESTINATIONS",
     "tak=tcp://127.0.0.1:" + std::to_string(rx.port())},
    {"COTFLOW_KAFKA_PARKING_TOPIC", ""},
    {"COTFLOW_KAFKA_REVOKE_DRAIN_MS", revoke_drain_ms},
    {"COTFLOW_PIPELINE_COMMIT_INTERVAL_MS", "100"},
    {"COTFLOW_TAK_RECONNECT_MIN_MS", "50"},
    {"COTFLOW_TAK_RECONNECT_MAX_MS", "200"},
    {"COTFLOW_TAK_BREAKER_OPEN_MIN_MS", "200"},
    {"COTFLOW_TAK_BREAKER_OPEN_MAX_MS", "500"},
  };
  outcome out;
  auto first = b.run(group, env, true);
  std::string log1, log2;
  auto port1 = wait_for_http_port(*first, log1);
  // Below tak.queue_events: all of it waits in the destination's queue.
  auto inputs = publish_generated(b.bootstrap, input_topic, 1500, 0.0);
  out.inputs = inputs.size();
  BOOST_REQUIRE_MESSAGE(
    eventually(
      [&] {
        read_log(*first, log1);
        return scrape(port1)["cotflow_in_flight_records"]
               == static_cast<double>(inputs.size());
      },
      60s),
    "the first instance does not hold every record in flight");
  auto second = b.run(group, env, true);
  auto port2 = wait_for_http_port(*second, log2);
  // The first instance gave partitions up (and, without a drain bound, the
  // second one read their records again).
  BOOST_REQUIRE_MESSAGE(
    eventually(
      [&] {
        read_log(*first, log1);
        read_log(*second, log2);
        return log1.find("revoked detections[") != std::string::npos
               && (revoke_drain_ms != "0"
                   || scrape(port2)["cotflow_in_flight_records"] > 0);
      },
      60s),
    "no revoke");
  rx.listen_now();
  BOOST_REQUIRE_MESSAGE(eventually(
                          [&] {
                            read_log(*first, log1);
                            read_log(*second, log2);
                            return rx.seqs().size() == inputs.size()
                                   && b.all_committed(group);
                          },
                          120s),
                        "not every record reached the receiver");
  out.copies = rx.seqs();
  out.first = scrape(port1);
  read_log(*first, log1);
  out.handover_refused = refused_handover(log1);
  // What the first instance said of its revokes.
  for (size_t at = log1.find("revoked detections["); at != std::string::npos;
       at = log1.find("revoked detections[", at + 1))
    BOOST_TEST_MESSAGE(log1.substr(at, log1.find('"', at) - at));
  for (auto* c : {first.get(), second.get()}) {
    c->signal(SIGTERM);
    auto rc = c->wait(60s);
    BOOST_CHECK(rc && *rc == 0);
  }
  return out;
}

size_t duplicates(const outcome& o) {
  size_t n = 0;
  for (auto& [seq, copies] : o.copies)
    n += static_cast<size_t>(copies - 1);
  return n;
}

} // namespace

BOOST_FIXTURE_TEST_SUITE(drain_on_revoke, broker_fixture)

BOOST_AUTO_TEST_CASE(a_scale_out_delivers_nothing_twice) {
  auto o = scale_out_during_an_outage(*this, "drain-on", "8000");
  // Duplicates are right (at least once) when the embedded broker refused
  // the hand-over commit, which it does when the members' SyncGroups race
  // (docs/rebalance.md): then the scale-out runs again, on a broker of its
  // own, up to twice more. Duplicates without a refused hand-over fail.
  for (int again = 0; again < 2 && duplicates(o) > 0 && o.handover_refused;
       ++again) {
    BOOST_TEST_MESSAGE("the embedded broker refused the hand-over commit ("
                       << duplicates(o)
                       << " duplicates, as at least once has it): again");
    broker_fixture fresh;
    o = scale_out_during_an_outage(fresh, "drain-on", "8000");
  }
  BOOST_CHECK_EQUAL(o.copies.size(), o.inputs);
  BOOST_CHECK_EQUAL(duplicates(o), 0u);
  BOOST_CHECK_GT(o.first[drained], 0);
  BOOST_CHECK_EQUAL(o.first[abandoned], 0);
}

BOOST_AUTO_TEST_CASE(without_a_drain_bound_the_next_owner_delivers_again) {
  // What the bound prevents: the records in flight on the partitions given
  // up are read again by the second instance, and both deliver them.
  auto o = scale_out_during_an_outage(*this, "drain-off", "0");
  BOOST_CHECK_EQUAL(o.copies.size(), o.inputs);
  BOOST_CHECK_GT(duplicates(o), 0u);
  BOOST_CHECK_GT(o.first[abandoned], 0);
  BOOST_CHECK_EQUAL(o.first[drained], 0);
}

BOOST_AUTO_TEST_SUITE_END()
