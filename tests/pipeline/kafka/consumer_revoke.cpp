#include <boost/test/unit_test.hpp>

#include "config/config.hpp"
#include "pipeline/kafka/consumer.hpp"
#include "tests/support/kafka_client.hpp"
#include "tests/support/mock_cluster.hpp"

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

// tracked_consumer in a group of two on librdkafka's mock cluster: the
// first member has records in flight when the second joins (a scale-out).
// Apart from consumer.cpp so that CTest runs the two side by side (each
// rebalance here waits for the mock cluster's join).

namespace {

using namespace std::chrono_literals;

const std::string topic = "detections";

struct member {
  std::shared_ptr<cotflow::stats> st = std::make_shared<cotflow::stats>();
  std::unique_ptr<cotflow::tracked_consumer> consumer;
  // (partition, offset) -> handle it was handed out with
  std::map<std::pair<int32_t, int64_t>, uint32_t> handed;

  member(const cotflow::test::mock_cluster& c, const std::string& group,
         int64_t revoke_drain_ms, std::map<std::string, std::string> props,
         int64_t session_timeout_ms) {
    auto cfg = cotflow::default_config();
    cfg.kafka.brokers = c.bootstraps();
    cfg.kafka.group_id = group;
    cfg.kafka.input_topics = {topic};
    cfg.kafka.revoke_drain_ms = revoke_drain_ms;
    cfg.kafka.session_timeout_ms = session_timeout_ms;
    cfg.pipeline.commit_interval_ms = 100;
    cfg.kafka.properties = std::move(props);
    std::string err;
    consumer = cotflow::tracked_consumer::make(cfg, 1, st, err);
    BOOST_TEST_REQUIRE(bool(consumer), err);
  }

  /// One round of the source's loop: take what is there, store positions.
  /// `deliver`: what was taken is acknowledged before the positions are
  /// stored, as a pipeline whose destinations answer at once.
  void round(bool deliver = false) {
    std::vector<std::pair<uint32_t, int64_t>> taken;
    consumer->poll(20, 1000, [&](uint32_t tp, const rd_kafka_message_t& m) {
      handed[{m.partition, m.offset}] = tp;
      taken.emplace_back(tp, m.offset);
    });
    if (deliver)
      for (auto& [tp, offset] : taken)
        consumer->ack(tp, offset, 1);
    consumer->store_positions();
  }

  /// Acknowledges every record handed out (late ones are ignored).
  void ack_all() {
    for (auto& [at, tp] : handed)
      consumer->ack(tp, at.second, 1);
  }

  std::set<int32_t> partitions() const {
    std::set<int32_t> out;
    for (auto tp : consumer->assigned())
      for (int32_t p : {0, 1})
        if (consumer->handle(topic, p) == tp)
          out.insert(p);
    return out;
  }
};

/// Serves both members until `done` holds or `limit` passes (`deliver`: see
/// member::round).
bool serve_both(member& a, member& b, const std::function<bool()>& done,
                std::chrono::milliseconds limit, bool deliver = false) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    a.round(deliver);
    b.round(deliver);
    if (done())
      return true;
  }
  return false;
}

/// Acknowledges everything and closes both members. Not checked: the
/// first one leaving starts a rebalance, during which the mock cluster
/// refuses the second one's final commit.
void close_both(member& a, member& b) {
  a.ack_all();
  b.ack_all();
  a.consumer->close();
  b.consumer->close();
}

/// Records both members were handed.
size_t handed_twice(const member& a, const member& b) {
  size_t n = 0;
  for (auto& [at, tp] : b.handed)
    n += a.handed.count(at);
  return n;
}

struct scale_out {
  cotflow::test::mock_cluster c{topic, 2};
  std::string group;
  std::map<std::string, std::string> props;
  std::unique_ptr<member> first, second;
  size_t published = 0;

  scale_out(const std::string& g, int64_t revoke_drain_ms,
            std::map<std::string, std::string> p = {},
            int64_t session_timeout_ms = 10000)
    : group(g), props(std::move(p)) {
    publish(200);
    first = std::make_unique<member>(c, group, revoke_drain_ms, props,
                                     session_timeout_ms);
    // The first member takes everything and acknowledges nothing yet.
    auto deadline = std::chrono::steady_clock::now() + 30s;
    while (first->handed.size() < published
           && std::chrono::steady_clock::now() < deadline)
      first->round();
    BOOST_TEST_REQUIRE(first->handed.size() == published);
    BOOST_TEST_REQUIRE(first->partitions().size() == 2u);
    lead_last();
    second = std::make_unique<member>(c, group, revoke_drain_ms, props,
                                      session_timeout_ms);
  }

  /// librdkafka 2.0's mock cluster ends a group's sync on the leader's
  /// SyncGroup alone and refuses a follower's that comes after it: the
  /// follower rejoins, and the mock refuses every commit while the group
  /// joins again, the one of a revoke's hand-over too (docs/rebalance.md).
  /// A broker answers the late SyncGroup with the assignment. The first
  /// member leads (the mock's first member); its JoinGroup answers come a
  /// second late, so that the second member syncs first. The JoinGroup
  /// requests to come: the second member's join, the first's rejoin; in a
  /// second round (cooperative) the first's rejoin, then the second's.
  void lead_last() {
    constexpr int16_t join_group = 11;
    constexpr auto ok = RD_KAFKA_RESP_ERR_NO_ERROR;
    BOOST_TEST_REQUIRE(
      rd_kafka_mock_broker_push_request_error_rtts(c.mc, 1, join_group, 4, ok,
                                                   0, ok, 1000, ok, 1000, ok, 0)
      == RD_KAFKA_RESP_ERR_NO_ERROR);
  }

  void publish(uint64_t n) {
    auto recs = cotflow::test::publish_generated(c.bootstraps(), topic, n, 0.0,
                                                 7, published);
    published += recs.size();
  }

  /// Records the first member handed out of a partition it does not own
  /// any more: what the second one owns.
  size_t in_flight_of_moved() const {
    size_t n = 0;
    auto mine = first->partitions();
    for (auto& [at, tp] : first->handed)
      n += mine.count(at.first) ? 0 : 1;
    return n;
  }
};

/// Records handed out by either member, each counted once.
size_t handed_by_either(const member& a, const member& b) {
  return a.handed.size() + b.handed.size() - handed_twice(a, b);
}

} // namespace

// The scale-out of a group whose first member has records in flight: with
// a drain bound, the partition it hands over waits for them, and the
// second member reads none of them again.
BOOST_AUTO_TEST_CASE(a_cooperative_revoke_waits_for_the_records_in_flight) {
  // The longest bound config allows with the default session timeout.
  scale_out s{"drain-cooperative", 9999};
  auto& a = *s.first;
  auto& b = *s.second;
  BOOST_TEST_REQUIRE(serve_both(
    a, b, [&] { return a.consumer->revoke_waiting(); }, 60s));
  // Held: nothing of the revoked partition reaches the second member while
  // its records are in flight with the first.
  BOOST_TEST(!serve_both(
    a, b, [&] { return !b.partitions().empty(); }, 1s));
  BOOST_TEST(a.consumer->revoke_waiting());
  a.ack_all();
  BOOST_TEST_REQUIRE(serve_both(
    a, b,
    [&] {
      return !a.consumer->revoke_waiting() && a.partitions().size() == 1
             && b.partitions().size() == 1;
    },
    60s));
  // The hand-over of the records in flight, counted now: a later
  // rebalance (the mock cluster's joins are slow under load) may hold what
  // the second batch has in flight.
  BOOST_TEST(a.st->revoked_drained >= 1u);
  BOOST_TEST(a.st->revoked_abandoned == 0u);
  BOOST_TEST(a.st->revoke_records_abandoned == 0u);
  BOOST_TEST(a.st->revoke_records_drained == s.in_flight_of_moved());
  // New records reach both; the second member starts where the first one
  // delivered up to.
  s.publish(200);
  BOOST_TEST_REQUIRE(serve_both(
    a, b, [&] { return a.handed.size() + b.handed.size() == s.published; },
    60s));
  BOOST_TEST(handed_twice(a, b) == 0u);
  close_both(a, b);
}

// range: every member gives up its whole assignment in a rebalance, and
// the group waits for every member to rejoin. What this case can show on
// librdkafka 2.0's mock cluster is that the first member holds the revoke
// (both partitions) until its records are acknowledged, completes it with
// unassign(), and that the group moves on. Not that the second member
// reads none of them again: the mock refuses every commit while its group
// joins, the hand-over's too, which a broker accepts from a member of the
// current generation while it prepares the rebalance (docs/rebalance.md).
// The mock also keeps no session alive with heartbeats while it joins,
// and waits at most the session timeout less 1 s for members to rejoin:
// the hold here stays well inside (1 s; heartbeats every 3.3 s of 10 s).
// After the hand-over both members acknowledge what they take at once, so
// a further rebalance holds nothing.
BOOST_AUTO_TEST_CASE(an_eager_revoke_waits_for_the_records_in_flight) {
  scale_out s{
    "drain-eager", 9999, {{"partition.assignment.strategy", "range"}}};
  auto first_batch = s.published;
  auto& a = *s.first;
  auto& b = *s.second;
  BOOST_TEST_REQUIRE(serve_both(
    a, b, [&] { return a.consumer->revoke_waiting(); }, 60s));
  // Held: the revoke is not completed while the records are in flight.
  BOOST_TEST(!serve_both(
    a, b, [&] { return !a.consumer->revoke_waiting(); }, 1s));
  a.ack_all();
  BOOST_TEST_REQUIRE(serve_both(
    a, b, [&] { return !a.consumer->revoke_waiting(); }, 30s));
  // Completed once all of them were acknowledged: both partitions drained.
  BOOST_TEST(a.st->revoked_drained == 2u);
  BOOST_TEST(a.st->revoked_abandoned == 0u);
  BOOST_TEST(a.st->revoke_records_drained == first_batch);
  BOOST_TEST(a.st->revoke_records_abandoned == 0u);
  // The group moves on: each member gets a partition, and what is
  // published is taken.
  s.publish(200);
  BOOST_TEST_REQUIRE(serve_both(
    a, b,
    [&] {
      return a.partitions().size() == 1 && b.partitions().size() == 1
             && handed_by_either(a, b) == s.published;
    },
    120s, true));
  BOOST_TEST(!b.handed.empty());
  // No later revoke left anything to the next owner either.
  BOOST_TEST(a.st->revoke_records_abandoned == 0u);
  BOOST_TEST(b.st->revoke_records_abandoned == 0u);
  close_both(a, b);
}

BOOST_AUTO_TEST_CASE(past_the_bound_a_revoke_leaves_its_records_to_the_next) {
  // The records the first member never acknowledges are handed over when
  // kafka.revoke_drain_ms passes: the second member delivers them again,
  // and the first one counts them abandoned. (A bound of 0 hands them over
  // at once: integration_drain.)
  scale_out s{"drain-bound", 300};
  auto& a = *s.first;
  auto& b = *s.second;
  BOOST_TEST_REQUIRE(serve_both(
    a, b,
    [&] {
      return b.partitions().size() == 1
             && handed_twice(a, b) == s.in_flight_of_moved();
    },
    60s));
  BOOST_TEST(s.in_flight_of_moved() > 0u);
  BOOST_TEST(a.st->revoked_abandoned == 1u);
  BOOST_TEST(a.st->revoke_records_abandoned == s.in_flight_of_moved());
  BOOST_TEST(a.st->revoke_records_drained == 0u);
  close_both(a, b);
}
