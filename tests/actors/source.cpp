#include <boost/test/unit_test.hpp>

#include "actors/source.hpp"
#include "pipeline/delivery/offset_tracker.hpp"
#include "tests/support/actor_fixture.hpp"

#include <caf/all.hpp>

#include <algorithm>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

// The source actor on CAF's test coordinator with a fake feed in place of
// the Kafka consumer: it never waits in its feed; it hands out records while
// credit lasts, waits for acknowledgements, pauses when the bound holds,
// resumes at half the bound, takes a new bound on reload, counts
// acknowledgements, and drains on stop. Time is the test clock's.

using namespace cotflow;
using namespace std::chrono_literals;

namespace {

/// One partition whose log holds `available` records, tracked with the
/// product's offset tracker: what the source sees of Kafka, without Kafka.
/// Never blocks: a round with nothing to take returns at once.
struct fake_feed : record_feed {
  offset_tracker tracker;
  uint32_t tp = tracker.assign("in", 0);
  dest_mask all = 1;
  /// Records in the log; the next one handed out is `next`.
  int64_t available = 0;
  int64_t next = 0;
  size_t takes = 0;
  size_t idles = 0;
  /// Every pause(on) call, in order.
  std::vector<bool> pauses;
  bool paused_ = false;
  bool drained_ = false;
  bool closed = false;
  /// Positions handed to the committer.
  std::vector<int64_t> stored;
  /// How long each take or idle call may wait (ms), in order.
  std::vector<int> waits;
  /// What the source asked to be called with when records come.
  std::function<void()> ready;

  size_t take(int timeout_ms, size_t max, const record_fn& fn) override {
    ++takes;
    waits.push_back(timeout_ms);
    size_t n = 0;
    for (; n < max && next < available; ++n, ++next) {
      tracker.dispatched(tp, next, all);
      record r;
      r.ref = {tp, next};
      r.payload = "record " + std::to_string(next);
      fn(std::move(r));
    }
    drained_ = next == available;
    return n;
  }
  bool drained() const override {
    return drained_;
  }
  void idle(int timeout_ms) override {
    ++idles;
    waits.push_back(timeout_ms);
  }
  void on_ready(std::function<void()> fn) override {
    ready = std::move(fn);
  }
  bool ack(uint32_t t, int64_t offset, dest_mask bits,
           dest_mask* marks) override {
    return tracker.ack(t, offset, bits, marks);
  }
  void pause(bool on) override {
    pauses.push_back(on);
    paused_ = on;
  }
  bool paused() const override {
    return paused_;
  }
  void store_positions() override {
    for (auto& p : tracker.due()) {
      stored.push_back(p.offset);
      tracker.committed(tp, p.offset);
    }
  }
  size_t in_flight() const override {
    return tracker.in_flight();
  }
  size_t span() const override {
    return tracker.span();
  }
  bool close() override {
    closed = true;
    store_positions();
    return true;
  }
  void simulate_rebalance() override {}
};

/// Stands in for the batcher: keeps the chunks and counts flushes.
struct batcher_log {
  std::vector<record_chunk> chunks;
  size_t flushes = 0;

  std::vector<int64_t> offsets() const {
    std::vector<int64_t> out;
    for (auto& c : chunks)
      for (auto& r : c.records)
        out.push_back(r.ref.offset);
    return out;
  }
};

batcher_actor::behavior_type fake_batcher(batcher_actor::pointer,
                                          std::shared_ptr<batcher_log> log) {
  return {
    [=](record_chunk& c) { log->chunks.push_back(std::move(c)); },
    [](atom::flush, uint64_t) {},
    [=](atom::flush) { ++log->flushes; },
    [](tunables&) {},
  };
}

/// Asks `src` to stop and keeps its answer (records left in flight).
void stopper(caf::event_based_actor* self, source_actor src,
             std::shared_ptr<std::optional<uint64_t>> answer) {
  self->request(src, caf::infinite, atom::stop::value).then([=](uint64_t left) {
    *answer = left;
  });
}

std::vector<int64_t> range(int64_t from, int64_t to) {
  std::vector<int64_t> out;
  for (auto offset = from; offset < to; ++offset)
    out.push_back(offset);
  return out;
}

struct source_fixture : test::actor_fixture {
  std::shared_ptr<fake_feed> feed = std::make_shared<fake_feed>();
  std::shared_ptr<batcher_log> got = std::make_shared<batcher_log>();
  std::shared_ptr<stats> st = std::make_shared<stats>();
  batcher_actor batcher = spawn(fake_batcher, got);
  source_actor aut;
  /// pipeline.poll_timeout_ms of the next start().
  int64_t poll_timeout_ms = 100;

  /// A source with `max_in_flight` credit over a log of `available`
  /// records, started, and run until it has nothing to do before its tick
  /// (with more records than credit: its credit taken).
  void start(int64_t max_in_flight, int64_t available) {
    feed->available = available;
    pipeline_config cfg;
    cfg.max_in_flight = max_in_flight;
    cfg.poll_timeout_ms = poll_timeout_ms;
    cfg.drain_timeout_ms = 5000;
    aut = spawn(source, std::shared_ptr<record_feed>{feed}, cfg, st,
                int64_t{0});
    caf::anon_send(aut, atom::start::value, batcher);
    sched.run();
  }

  /// Lets the test clock run by `total`, a tick at a time, running what
  /// each tick starts.
  void wait(std::chrono::milliseconds total) {
    for (auto left = total; left.count() > 0;
         left -= std::chrono::milliseconds{poll_timeout_ms}) {
      sched.advance_time(
        std::min(left, std::chrono::milliseconds{poll_timeout_ms}));
      sched.run();
    }
  }

  /// The source's answer to stop(): the records it left in flight.
  std::shared_ptr<std::optional<uint64_t>> answer
    = std::make_shared<std::optional<uint64_t>>();

  /// Asks the source to stop, now.
  void stop() {
    spawn(stopper, aut, answer);
    sched.run();
  }

  /// Acknowledges offsets [from, to) with `bits`, and runs what follows.
  void ack(int64_t from, int64_t to, dest_mask bits = 1) {
    cotflow::ack a;
    a.bits = bits;
    for (auto offset = from; offset < to; ++offset)
      a.refs.push_back({feed->tp, offset});
    caf::anon_send(aut, std::move(a));
    sched.run();
  }
};

} // namespace

BOOST_FIXTURE_TEST_SUITE(source_actor_tests, source_fixture)

BOOST_AUTO_TEST_CASE(it_takes_no_more_than_its_credit) {
  start(10, 25);
  BOOST_TEST(got->offsets() == range(0, 10), boost::test_tools::per_element());
  BOOST_TEST(feed->in_flight() == 10u);
  // At the bound it takes nothing more; its tick is pending.
  BOOST_TEST(sched.has_pending_timeout());
  BOOST_TEST(feed->takes == 1u);
  BOOST_TEST(feed->pauses.empty());
}

BOOST_AUTO_TEST_CASE(
  it_never_waits_in_its_feed_and_takes_what_comes_when_called) {
  start(10, 0);
  BOOST_TEST(got->offsets().empty());
  BOOST_TEST_REQUIRE(bool(feed->ready));
  // Records come: the feed's ready call (from librdkafka's thread in the
  // product) starts a round.
  feed->available = 3;
  feed->ready();
  sched.run();
  BOOST_TEST(got->offsets() == range(0, 3), boost::test_tools::per_element());
  for (auto w : feed->waits)
    BOOST_TEST(w == 0);
}

BOOST_AUTO_TEST_CASE(with_nothing_coming_it_polls_every_poll_timeout) {
  poll_timeout_ms = 100;
  start(10, 0);
  auto takes = feed->takes;
  sched.advance_time(99ms);
  sched.run();
  BOOST_TEST(feed->takes == takes);
  wait(1ms);
  BOOST_TEST(feed->takes == takes + 1);
  // Ready calls with nothing to take add no tick: one is pending at most.
  feed->ready();
  feed->ready();
  sched.run();
  wait(1000ms);
  // The tick, the two calls, then ten ticks in a second.
  BOOST_TEST(feed->takes == takes + 3 + 10);
}

BOOST_AUTO_TEST_CASE(acknowledgements_return_credit) {
  start(10, 25);
  // Eight of ten still taken: no round yet (a round per acknowledgement
  // would take records a few at a time).
  ack(0, 2);
  BOOST_TEST(got->offsets().size() == 10u);
  // Seven: at least a quarter of the bound is free, and taken at once.
  ack(2, 3);
  BOOST_TEST(got->offsets() == range(0, 13), boost::test_tools::per_element());
  BOOST_TEST(st->completed.load() == 3u);
  BOOST_TEST(st->in_flight.load() == 7);
  // Completed positions go to the committer.
  BOOST_TEST_REQUIRE(!feed->stored.empty());
  BOOST_TEST(feed->stored.back() == 3);
}

BOOST_AUTO_TEST_CASE(a_record_owed_to_another_destination_holds_its_credit) {
  feed->all = 3;
  start(10, 25);
  // Destination 1 has them all; destination 2 none: nothing completes.
  ack(0, 10, 1);
  BOOST_TEST(st->completed.load() == 0u);
  wait(100ms);
  BOOST_TEST(got->offsets().size() == 10u);
  ack(0, 10, 2);
  BOOST_TEST(st->completed.load() == 10u);
  BOOST_TEST(got->offsets() == range(0, 20), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(parked_records_are_counted_apart) {
  start(10, 10);
  ack(0, 3, 1 | parked_bit);
  ack(3, 10, 1);
  BOOST_TEST(st->parked.load() == 3u);
  BOOST_TEST(st->completed.load() == 10u);
}

BOOST_AUTO_TEST_CASE(records_a_destination_dropped_are_counted_apart) {
  start(10, 10);
  ack(0, 2, 1 | dropped_bit);
  ack(2, 10, 1);
  BOOST_TEST(st->dropped_at_destination.load() == 2u);
  BOOST_TEST(st->parked.load() == 0u);
  BOOST_TEST(st->completed.load() == 10u);
}

BOOST_AUTO_TEST_CASE(the_partitions_pause_when_the_bound_holds_half_a_second) {
  start(10, 40);
  wait(400ms);
  BOOST_TEST(feed->pauses.empty());
  BOOST_TEST(feed->idles == 0u);
  wait(100ms);
  BOOST_TEST_REQUIRE(feed->pauses.size() == 1u);
  BOOST_TEST(feed->pauses[0] == true);
  // Paused, it serves the feed without taking records.
  auto takes = feed->takes;
  wait(300ms);
  BOOST_TEST(feed->takes == takes);
  BOOST_TEST(feed->idles >= 3u);
  BOOST_TEST(got->offsets().size() == 10u);
}

BOOST_AUTO_TEST_CASE(paused_partitions_resume_at_half_the_bound) {
  start(10, 40);
  wait(500ms);
  BOOST_TEST_REQUIRE(feed->paused());
  // Six in flight: above half the bound, still paused.
  ack(0, 4);
  BOOST_TEST(feed->paused());
  BOOST_TEST(got->offsets().size() == 10u);
  // Five: resumed, and the credit taken at once.
  ack(4, 5);
  BOOST_TEST(!feed->paused());
  BOOST_TEST(got->offsets() == range(0, 15), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_reload_changes_the_bound) {
  start(10, 40);
  auto c = std::make_shared<config>(default_config());
  c->pipeline.max_in_flight = 25;
  caf::anon_send(aut, tunables{std::move(c)});
  sched.run();
  BOOST_TEST(got->offsets() == range(0, 25), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_chunk_says_when_nothing_more_was_ready) {
  start(10, 4);
  BOOST_TEST_REQUIRE(got->chunks.size() == 1u);
  BOOST_TEST(got->chunks[0].drained);
}

BOOST_AUTO_TEST_CASE(stop_drains_what_is_in_flight_then_commits) {
  start(10, 25);
  stop();
  // No new records; the partitions pause; the batcher flushes its batch.
  BOOST_TEST(feed->paused());
  BOOST_TEST(got->flushes == 1u);
  wait(200ms);
  BOOST_TEST(feed->idles == 3u);
  BOOST_TEST(!answer->has_value());
  // The last acknowledgement ends the drain.
  ack(0, 10);
  BOOST_TEST_REQUIRE(answer->has_value());
  BOOST_TEST(**answer == 0u);
  BOOST_TEST(feed->closed);
  BOOST_TEST(feed->stored.back() == 10);
  BOOST_TEST(got->offsets().size() == 10u);
}

BOOST_AUTO_TEST_CASE(stop_with_nothing_in_flight_ends_at_once) {
  start(10, 0);
  stop();
  BOOST_TEST_REQUIRE(answer->has_value());
  BOOST_TEST(**answer == 0u);
  BOOST_TEST(feed->closed);
}

BOOST_AUTO_TEST_CASE(stop_gives_up_at_the_drain_deadline) {
  start(10, 25);
  stop();
  ack(0, 3);
  wait(4900ms);
  BOOST_TEST(!answer->has_value());
  wait(100ms);
  BOOST_TEST_REQUIRE(answer->has_value());
  // What was never acknowledged stays uncommitted, to be consumed again.
  BOOST_TEST(**answer == 7u);
  BOOST_TEST(feed->closed);
  BOOST_TEST(feed->stored.back() == 3);
}

BOOST_AUTO_TEST_SUITE_END()
