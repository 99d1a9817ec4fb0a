#include <boost/test/unit_test.hpp>

#include "config/config.hpp"
#include "pipeline/core/record.hpp"
#include "pipeline/delivery/topic_names.hpp"
#include "pipeline/kafka/consumer.hpp"
#include "pipeline/kafka/kafka.hpp"
#include "tests/support/kafka_client.hpp"
#include "tests/support/mock_cluster.hpp"

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <unistd.h>

// tracked_consumer against librdkafka's mock cluster in this process: the
// group's commit never passes a record that is not done, moves up as soon
// as it is, and a revoke hands over what was done (librdkafka commits the
// stored offsets as it unassigns).

namespace {

using namespace std::chrono_literals;

const std::string topic = "detections";
const std::string group = "consumer-test";

struct fixture {
  cotflow::test::mock_cluster c{topic};
  std::unique_ptr<cotflow::tracked_consumer> consumer;
  // offset -> handle it was handed out with
  std::map<int64_t, uint32_t> handed;

  explicit fixture(size_t records,
                   std::map<std::string, std::string> props = {}) {
    std::vector<std::string> payloads;
    for (size_t i = 0; i < records; ++i)
      payloads.push_back("{\"n\":" + std::to_string(i) + "}");
    cotflow::test::publish_raw(c.bootstraps(), topic, payloads);
    auto cfg = cotflow::default_config();
    cfg.kafka.brokers = c.bootstraps();
    cfg.kafka.group_id = group;
    cfg.kafka.input_topics = {topic};
    cfg.pipeline.commit_interval_ms = 100;
    cfg.kafka.properties = std::move(props);
    std::string err;
    consumer = cotflow::tracked_consumer::make(
      cfg, 1, std::make_shared<cotflow::stats>(), err);
    BOOST_TEST_REQUIRE(bool(consumer), err);
  }

  /// Polls (committing each round, as the source does) until `n` more
  /// records were handed out.
  void take(size_t n) {
    auto want = handed.size() + n;
    auto deadline = std::chrono::steady_clock::now() + 30s;
    while (handed.size() < want
           && std::chrono::steady_clock::now() < deadline) {
      consumer->poll(100, want - handed.size(),
                     [&](uint32_t tp, const rd_kafka_message_t& m) {
                       handed[m.offset] = tp;
                     });
      consumer->store_positions();
    }
    BOOST_TEST_REQUIRE(handed.size() == want);
  }

  int64_t group_commit() {
    return cotflow::test::committed(c.bootstraps(), group, topic)[0];
  }

  /// Serves the consumer (commit rounds, callbacks) until `done` holds or
  /// `limit` passes; whether it held.
  bool serve_until(const std::function<bool()>& done,
                   std::chrono::milliseconds limit) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
      consumer->store_positions();
      consumer->idle(50);
      if (done())
        return true;
    }
    return false;
  }

  void ack(int64_t offset) {
    consumer->ack(handed.at(offset), offset, 1);
  }
};

} // namespace

BOOST_AUTO_TEST_CASE(the_group_commit_stops_at_the_first_record_not_done) {
  fixture f{20};
  f.take(20);
  for (int64_t o = 0; o < 20; ++o)
    if (o != 7)
      f.ack(o);
  BOOST_TEST_REQUIRE(f.serve_until([&] { return f.group_commit() == 7; }, 20s));
  // Twenty commit intervals later it is still there: nothing past the
  // record in flight is committed.
  BOOST_TEST(!f.serve_until([&] { return f.group_commit() != 7; }, 2s));
  f.ack(7);
  BOOST_TEST(f.serve_until([&] { return f.group_commit() == 20; }, 20s));
  BOOST_TEST(f.consumer->close());
  BOOST_TEST(f.group_commit() == 20);
}

BOOST_AUTO_TEST_CASE(the_final_commit_is_not_undone_by_an_older_store) {
  fixture f{20};
  f.take(20);
  for (int64_t o = 0; o < 10; ++o)
    f.ack(o);
  BOOST_TEST_REQUIRE(
    f.serve_until([&] { return f.group_commit() == 10; }, 20s));
  // Done after the last commit round, as on a drain: close() commits 20,
  // and librdkafka's own commit as it unassigns must not put 10 back.
  for (int64_t o = 10; o < 20; ++o)
    f.ack(o);
  BOOST_TEST(f.consumer->close());
  BOOST_TEST(f.group_commit() == 20);
}

BOOST_AUTO_TEST_CASE(a_revoke_commits_what_is_done_and_forgets_the_rest) {
  fixture f{20};
  f.take(20);
  for (int64_t o = 0; o < 12; ++o)
    f.ack(o);
  // No commit round between the acks and the revoke: the revoke itself
  // must carry offset 12 to the group.
  f.consumer->simulate_rebalance();
  BOOST_TEST_REQUIRE(
    f.serve_until([&] { return f.group_commit() == 12; }, 20s));
  // Late acknowledgements of the old assignment are ignored...
  auto old = f.handed;
  for (int64_t o = 12; o < 20; ++o)
    BOOST_TEST(!f.consumer->ack(old.at(o), o, 1));
  // ...and the records from the commit on are handed out again.
  f.handed.clear();
  f.take(8);
  BOOST_TEST(f.handed.begin()->first == 12);
  BOOST_TEST(f.handed.rbegin()->first == 19);
  for (int64_t o = 12; o < 20; ++o)
    f.ack(o);
  BOOST_TEST(f.serve_until([&] { return f.group_commit() == 20; }, 20s));
  BOOST_TEST(f.consumer->close());
}

BOOST_AUTO_TEST_CASE(records_are_handed_out_once_in_order_and_never_past_max) {
  // More records than one of poll()'s batches, taken with limits below,
  // at and above the batch size: each record exactly once, in offset
  // order, never more than asked for.
  fixture f{1500};
  f.consumer->report_gaps(true); // and no gap is seen where there is none
  const size_t limits[] = {1, 7, 256, 300, 1000};
  std::vector<int64_t> order;
  size_t round = 0, stopped_at_max = 0;
  auto deadline = std::chrono::steady_clock::now() + 30s;
  while (order.size() < 1500 && std::chrono::steady_clock::now() < deadline) {
    auto max = limits[round++ % std::size(limits)];
    auto n = f.consumer->poll(100, max,
                              [&](uint32_t tp, const rd_kafka_message_t& m) {
                                f.handed[m.offset] = tp;
                                order.push_back(m.offset);
                              });
    BOOST_TEST_REQUIRE(n <= max);
    if (n == max) {
      ++stopped_at_max;
      BOOST_TEST(!f.consumer->drained());
    }
    f.consumer->store_positions();
  }
  BOOST_TEST_REQUIRE(order.size() == 1500u);
  for (size_t i = 0; i < order.size(); ++i)
    BOOST_TEST_REQUIRE(order[i] == static_cast<int64_t>(i));
  // Some polls were cut at their limit (the rest stayed for the next).
  BOOST_TEST(stopped_at_max > 0u);
  for (int64_t o = 0; o < 1500; ++o)
    f.ack(o);
  BOOST_TEST(f.serve_until([&] { return f.group_commit() == 1500; }, 20s));
  BOOST_TEST(f.consumer->lost() == 0u);
  BOOST_TEST(f.consumer->close());
}

BOOST_AUTO_TEST_CASE(
  the_ready_call_comes_when_records_arrive_at_a_drained_feed) {
  // The source never waits in the feed: once a take() found nothing
  // left, librdkafka's thread calls `ready` when records come, and the
  // source takes them without waiting.
  fixture f{3};
  f.take(3); // the group is joined, the log read to its end
  std::mutex m;
  std::condition_variable cv;
  size_t calls = 0;
  f.consumer->on_ready([&] {
    std::lock_guard<std::mutex> lock{m};
    ++calls;
    cv.notify_all();
  });
  BOOST_TEST(f.consumer->take(0, 10, [](auto&&) {}) == 0u);
  BOOST_TEST(f.consumer->drained());
  cotflow::test::publish_raw(f.c.bootstraps(), topic, {"{\"n\":3}"});
  {
    std::unique_lock<std::mutex> lock{m};
    BOOST_TEST_REQUIRE(cv.wait_for(lock, 30s, [&] { return calls > 0; }));
  }
  // Ready: a take that does not wait finds what came (a fetch may bring an
  // event before the record; then the record's own call follows).
  size_t got = 0;
  auto deadline = std::chrono::steady_clock::now() + 30s;
  while (got == 0 && std::chrono::steady_clock::now() < deadline) {
    got += f.consumer->take(0, 10, [](auto&&) {});
    if (got == 0) {
      std::unique_lock<std::mutex> lock{m};
      auto seen = calls;
      cv.wait_for(lock, 1s, [&] { return calls > seen; });
    }
  }
  BOOST_TEST(got == 1u);
  // Turned off: the consumer no longer calls it (nor after it is gone).
  f.consumer->on_ready(nullptr);
  BOOST_TEST(f.consumer->close());
}

BOOST_AUTO_TEST_CASE(records_hold_their_kafka_messages_and_copies_own_bytes) {
  // take() (the source's feed) hands each message over as a record that
  // reads its bytes in place: the same records as poll(), in order, with
  // their topic, partition and timestamp, each readable until the record
  // goes; a copy, and a record that took its bytes, keep reading them after
  // the message is gone. A take that finds nothing more ready says so.
  fixture f{600};
  std::vector<cotflow::record> recs;
  auto deadline = std::chrono::steady_clock::now() + 30s;
  while (recs.size() < 600 && std::chrono::steady_clock::now() < deadline) {
    f.consumer->take(100, 600 - recs.size(), [&](cotflow::record&& r) {
      f.handed[r.ref.offset] = r.ref.tp;
      recs.push_back(std::move(r));
    });
    f.consumer->store_positions();
  }
  BOOST_TEST(f.consumer->take(100, 10, [](cotflow::record&&) {}) == 0u);
  BOOST_TEST(f.consumer->drained());
  BOOST_TEST_REQUIRE(recs.size() == 600u);
  auto text = [](size_t i) { return "{\"n\":" + std::to_string(i) + "}"; };
  for (size_t i = 0; i < recs.size(); ++i) {
    BOOST_TEST_REQUIRE(recs[i].ref.offset == static_cast<int64_t>(i));
    BOOST_TEST_REQUIRE(recs[i].bytes() == text(i));
    BOOST_TEST_REQUIRE(recs[i].payload.empty()); // read in place
    BOOST_TEST_REQUIRE(recs[i].ref.tp == f.handed.at(recs[i].ref.offset));
    BOOST_TEST_REQUIRE(recs[i].partition == 0);
    BOOST_TEST_REQUIRE(recs[i].timestamp_ms > 0);
  }
  BOOST_TEST(cotflow::topic_names::name(recs[0].topic) == topic);
  cotflow::record copy = recs[5];
  BOOST_TEST(copy.payload == text(5));
  BOOST_TEST(recs[5].bytes() == text(5));
  cotflow::record assigned;
  assigned.payload = "replaced";
  assigned = recs[6];
  BOOST_TEST(assigned.bytes() == text(6));
  auto moved = std::move(recs[7]);
  BOOST_TEST(moved.bytes() == text(7));
  recs[8].own_bytes();
  BOOST_TEST(recs[8].payload == text(8));
  BOOST_TEST(recs[8].bytes() == text(8));
  // The messages go with the records; what was copied stays.
  recs.clear();
  BOOST_TEST(copy.bytes() == text(5));
  BOOST_TEST(assigned.bytes() == text(6));
  moved = cotflow::record{};
  BOOST_TEST(moved.bytes().empty());
  for (int64_t o = 0; o < 600; ++o)
    f.ack(o);
  BOOST_TEST(f.serve_until([&] { return f.group_commit() == 600; }, 20s));
  BOOST_TEST(f.consumer->close());
  // No message is left: the consumer is destroyed without waiting.
  f.consumer.reset();
}

BOOST_AUTO_TEST_CASE(records_deleted_before_they_were_read_are_reported_lost) {
  // As a parking topic whose retention is shorter than the outage: the
  // broker deletes records before the consumer had them (the embedded
  // broker keeps about 5 MB per partition), and librdkafka resets to the
  // earliest record left. The consumer says how many it never had, both
  // while it holds the partition and when a new member starts from the
  // group's commit. A short session: the embedded broker lets a member
  // that left hold its place until the session times out.
  const std::map<std::string, std::string> props{
    {"session.timeout.ms", "6000"}};
  fixture f{10, props};
  f.consumer->report_gaps(true);
  f.take(10);
  for (int64_t o = 0; o < 10; ++o)
    f.ack(o);
  BOOST_TEST(f.consumer->lost() == 0u); // nothing skipped so far
  auto flood = [&] {
    std::vector<std::string> big(8000, std::string(1024, 'x'));
    cotflow::test::publish_raw(f.c.bootstraps(), topic, big);
  };
  auto first_of = [](cotflow::tracked_consumer& c) {
    int64_t first = -1;
    auto deadline = std::chrono::steady_clock::now() + 30s;
    while (first < 0 && std::chrono::steady_clock::now() < deadline) {
      c.poll(100, 1,
             [&](uint32_t, const rd_kafka_message_t& m) { first = m.offset; });
      c.store_positions();
    }
    return first;
  };
  // 1. Paused (a replayer while its destination is down) past retention.
  f.consumer->pause(true);
  flood();
  f.consumer->pause(false);
  auto first = first_of(*f.consumer);
  BOOST_TEST_REQUIRE(first > 10); // the log start moved past offset 10
  BOOST_TEST(f.consumer->lost() == static_cast<uint64_t>(first - 10));
  // Reading on from there is not a gap.
  auto lost = f.consumer->lost();
  size_t more = 0;
  auto deadline = std::chrono::steady_clock::now() + 30s;
  while (more < 100 && std::chrono::steady_clock::now() < deadline)
    more += f.consumer->poll(100, 100 - more,
                             [&](uint32_t, const rd_kafka_message_t&) {});
  BOOST_TEST(more == 100u);
  BOOST_TEST(f.consumer->lost() == lost);
  // 2. A new member resumes at the group's commit, which retention passed.
  auto committed = first + 1; // everything up to `first` done
  for (int64_t o = first; o < committed; ++o)
    f.consumer->ack(f.consumer->handle(topic, 0), o, 1);
  // (the 100 read on stay in flight: the commit stops at `committed`)
  BOOST_TEST_REQUIRE(f.consumer->close());
  BOOST_TEST_REQUIRE(f.group_commit() == committed);
  f.consumer.reset();
  flood();
  auto cfg = cotflow::default_config();
  cfg.kafka.brokers = f.c.bootstraps();
  cfg.kafka.group_id = group;
  cfg.kafka.input_topics = {topic};
  cfg.kafka.properties = props;
  std::string err;
  auto next = cotflow::tracked_consumer::make(
    cfg, 1, std::make_shared<cotflow::stats>(), err);
  BOOST_TEST_REQUIRE(bool(next), err);
  next->report_gaps(true);
  auto start = first_of(*next);
  BOOST_TEST_REQUIRE(start > committed);
  BOOST_TEST(next->lost() == static_cast<uint64_t>(start - committed));
  next->close();
}

BOOST_AUTO_TEST_CASE(group_membership_follows_the_kafka_keys) {
  // Failover in seconds: the session timeout is cotflow's key (10 s by
  // default, not librdkafka's 45 s) with heartbeats every third of it;
  // static membership is off unless asked for, and "hostname" is this
  // host's name; kafka.properties still has the last word.
  auto cfg = cotflow::default_config();
  auto value = [&](const char* key) {
    std::string err, out;
    auto conf = cotflow::make_client_conf(cfg, cotflow::client_role::consumer,
                                          err);
    BOOST_TEST_REQUIRE(bool(conf), err);
    if (conf->get(key, out) != RdKafka::Conf::CONF_OK)
      return std::string{"(unset)"};
    return out;
  };
  BOOST_TEST(value("session.timeout.ms") == "10000");
  BOOST_TEST(value("heartbeat.interval.ms") == "3333");
  BOOST_TEST(value("group.instance.id") == "(unset)");
  cfg.kafka.session_timeout_ms = 6000;
  cfg.kafka.group_instance_id = "cotflow-0";
  BOOST_TEST(value("session.timeout.ms") == "6000");
  BOOST_TEST(value("heartbeat.interval.ms") == "2000");
  BOOST_TEST(value("group.instance.id") == "cotflow-0");
  char host[256] = {};
  BOOST_TEST_REQUIRE(gethostname(host, sizeof host - 1) == 0);
  cfg.kafka.group_instance_id = "hostname";
  BOOST_TEST(value("group.instance.id") == host);
  cfg.kafka.properties["session.timeout.ms"] = "7000";
  BOOST_TEST(value("session.timeout.ms") == "7000");
}
