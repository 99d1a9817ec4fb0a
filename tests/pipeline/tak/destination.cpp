// One TAK destination's deliver-or-park logic (tak_destination) with a
// scripted transport, a fake parking topic and a fake clock: connects and
// backoff, the breaker's trips and probes, parking and its replay, the
// replay window after a lost connection, keepalive. Deterministic: no
// socket, no Kafka, no sleep.
#include <boost/test/unit_test.hpp>

#include "pipeline/core/counts.hpp"
#include "pipeline/tak/destination.hpp"
#include "tests/support/tak_fakes.hpp"
#include "tests/support/tak_frames.hpp"

#include <deque>
#include <memory>
#include <string>
#include <vector>

using namespace cotflow;
using namespace std::chrono_literals;
using ms = std::chrono::milliseconds;
using time_point = std::chrono::steady_clock::time_point;
using progress = tak_transport::progress;
using test::fake_lot;
using test::fake_transport;
using test::wire;

namespace {

constexpr dest_mask bit = 1u << 2;

/// A destination on a fake clock with what it sent to the source.
struct fixture {
  std::shared_ptr<wire> w = std::make_shared<wire>();
  std::shared_ptr<fake_lot> lot = std::make_shared<fake_lot>();
  std::shared_ptr<destination_stats> counters
    = std::make_shared<destination_stats>();
  std::shared_ptr<stats> pipeline = std::make_shared<stats>();
  time_point now = time_point{} + 1h;
  int64_t wall = 1'700'000'000'000;
  std::vector<ack> acks;
  std::vector<double> write_times;
  tak_destination_settings cfg;
  std::optional<tak_destination> d;
  int64_t next_offset = 0;

  fixture() {
    cfg.name = "tak1";
    cfg.url = "tcp://tak.example:8087";
    cfg.bit = bit;
    cfg.breaker.consecutive_failures = 3;
    cfg.breaker.open_min = 1000ms; // no jitter: the cap is the floor
    cfg.breaker.open_max = 1000ms;
    cfg.breaker.probes = 1;
    cfg.reconnect_min = 100ms;
    cfg.reconnect_max = 100ms;
    cfg.healthy_after = 10s;
    cfg.queue_events = 8;
    cfg.write_bytes = 1 << 20;
    cfg.replay_bytes = 1 << 20;
    cfg.seed = 42;
    // The identity event has tests of its own; the rest count writes.
    cfg.target.hello = false;
    cfg.hello_uid = "cotflow-test";
    cfg.hello_callsign = "cotflow";
    cfg.version = "1.2.3";
  }

  /// Creates the destination; with `parking` false it has no parking topic.
  tak_destination& start(bool parking = true) {
    tak_destination_env env;
    env.now = [this] { return now; };
    env.wall_ms = [this] { return wall; };
    env.acknowledge = [this](ack a) { acks.push_back(std::move(a)); };
    env.write_took = [this](double s) { write_times.push_back(s); };
    env.delivered = [](latency_tally&) {};
    env.counters = counters;
    env.pipeline = pipeline;
    d.emplace(cfg, std::make_unique<fake_transport>(w), parking ? lot : nullptr,
              std::move(env));
    return *d;
  }

  /// A batch of events with uids `uids` (offsets continue across batches);
  /// with `full`, whole CoT events, which version 1 can encode.
  std::shared_ptr<const cot_events> batch(std::vector<std::string> uids,
                                          std::string type = "a-f-G",
                                          bool full = false);

  std::shared_ptr<const cot_events> cot_batch(std::vector<std::string> uids) {
    return batch(std::move(uids), "a-f-G", true);
  }

  /// Sets the destination's URL (hello=false unless it says).
  void url(const std::string& u) {
    std::string err;
    cfg.url = u;
    cfg.target = *parse_tak_url(u, err);
    if (!cfg.target.hello)
      cfg.target.hello = false;
  }

  tak_destination::pump_result pump() {
    return d->pump();
  }

  /// Moves the fake clock and pumps.
  tak_destination::pump_result after(ms dt) {
    now += dt;
    return d->pump();
  }

  /// Everything the server received, in order.
  std::string received() const {
    std::string all;
    for (auto& x : w->writes)
      all += x;
    return all;
  }

  /// Offsets acknowledged to the source with exactly `bits`, in order.
  std::vector<int64_t> acked(dest_mask bits) const {
    std::vector<int64_t> out;
    for (auto& a : acks)
      if (a.bits == bits)
        for (auto& r : a.refs)
          out.push_back(r.offset);
    return out;
  }
};

std::string xml(const std::string& uid) {
  return "<event uid=\"" + uid + "\"/>";
}

/// A CoT event as the encoder writes them, with uid `uid`.
std::string cot(const std::string& uid) {
  return R"(<event version="2.0" uid=")" + uid
         + R"(" type="a-f-G" how="m-g" time="2026-11-26T12:34:55.789Z" )"
           R"(start="2026-11-26T12:34:55.789Z" )"
           R"(stale="2026-11-26T12:39:56.789Z"><point lat="1.5" lon="2.5" )"
           R"(hae="9999999.0" ce="9999999.0" le="9999999.0"/><detail>)"
           R"(<contact callsign=")"
         + uid + R"("/></detail></event>)";
}

/// The uids of the TAK Protocol version 1 stream frames in `bytes`.
std::vector<std::string> frame_uids(const std::string& bytes) {
  std::vector<std::string> uids;
  for (auto& m : test::stream_frames(bytes))
    uids.push_back(m.cotevent().uid());
  return uids;
}

/// The server's offer of version 1 and its answer, as TAK Server sends
/// them.
std::string offer(const std::string& uid = "proto-1") {
  return R"(<?xml version="1.0" encoding="UTF-8"?><event version="2.0" uid=")"
         + uid
         + R"(" type="t-x-takp-v" how="m-g" time="2026-11-26T12:34:55Z" )"
           R"(start="2026-11-26T12:34:55Z" stale="2026-11-26T12:35:55Z">)"
           R"(<point lat="0" lon="0" hae="0" ce="999999" le="999999"/>)"
           R"(<detail><TakControl><TakProtocolSupport version="1"/>)"
           R"(</TakControl></detail></event>)";
}

std::string answer(bool yes) {
  return R"(<event version="2.0" uid="proto-1" type="t-x-takp-r" how="m-g" )"
         R"(time="2026-11-26T12:34:55Z" start="2026-11-26T12:34:55Z" )"
         R"(stale="2026-11-26T12:35:55Z"><point lat="0" lon="0" hae="0" )"
         R"(ce="999999" le="999999"/><detail><TakControl><TakResponse )"
         R"(status=")"
         + std::string{yes ? "true" : "false"}
         + R"("/></TakControl></detail></event>)";
}

std::shared_ptr<const cot_events> fixture::batch(std::vector<std::string> uids,
                                                 std::string type, bool full) {
  auto evs = std::make_shared<cot_events>();
  for (auto& uid : uids) {
    cot_event ev;
    // Handle 1: an input record's (tp 0 is a sensor event's, no record).
    ev.ref = {1, next_offset++};
    ev.uid = uid;
    ev.type = type;
    ev.stale_ms = wall + 60'000;
    ev.xml = full ? cot(uid) : xml(uid);
    evs->push_back(std::move(ev));
  }
  return evs;
}

using offsets = std::vector<int64_t>;

} // namespace

BOOST_FIXTURE_TEST_SUITE(tak_destination_tests, fixture)

BOOST_AUTO_TEST_CASE(a_write_the_kernel_took_is_acknowledged_as_delivered) {
  start();
  d->take(batch({"a", "b", "c"}));
  BOOST_CHECK(acks.empty()); // nothing is acknowledged before the write
  auto r = pump();
  BOOST_CHECK(!r.stop);
  BOOST_CHECK_EQUAL(r.again.count(), 250); // idle TCP: come back to read
  BOOST_CHECK_EQUAL(w->connects, 1);
  BOOST_REQUIRE_EQUAL(w->writes.size(), 1u); // one write for the batch
  BOOST_CHECK_EQUAL(received(), xml("a") + xml("b") + xml("c"));
  BOOST_CHECK(acked(bit) == (offsets{0, 1, 2}));
  BOOST_CHECK_EQUAL(counters->events, 3u);
  BOOST_CHECK(counters->connected);
  BOOST_CHECK_EQUAL(write_times.size(), 1u);
  BOOST_CHECK_EQUAL(d->queued(), 0u);
  BOOST_CHECK_EQUAL(d->in_window(), 3u);
}

BOOST_AUTO_TEST_CASE(writes_take_up_to_write_bytes_and_udp_one_event_each) {
  cfg.write_bytes = 2 * xml("a").size();
  start();
  d->take(batch({"a", "b", "c"}));
  pump();
  BOOST_REQUIRE_EQUAL(w->writes.size(), 2u);
  BOOST_CHECK_EQUAL(w->writes[0], xml("a") + xml("b"));
  BOOST_CHECK_EQUAL(w->writes[1], xml("c"));

  fixture udp;
  udp.w->udp = true;
  udp.start();
  udp.d->take(udp.batch({"a", "b"}));
  auto r = udp.pump();
  BOOST_CHECK_EQUAL(udp.w->writes.size(), 2u);
  BOOST_CHECK_EQUAL(r.again.count(), 1000); // idle UDP
}

BOOST_AUTO_TEST_CASE(a_failed_connect_waits_for_the_backoff) {
  w->up = false;
  start(false);
  d->take(batch({"a"}));
  auto r = pump();
  BOOST_CHECK_EQUAL(w->connects, 1);
  BOOST_CHECK_EQUAL(r.again.count(), 100);
  BOOST_CHECK_EQUAL(counters->last_error(), "connect: Connection refused");
  // The backoff ([50, 100] ms here) has not passed: no new attempt.
  after(40ms);
  BOOST_CHECK_EQUAL(w->connects, 1);
  after(60ms);
  BOOST_CHECK_EQUAL(w->connects, 2);
  w->up = true;
  after(100ms);
  BOOST_CHECK_EQUAL(w->connects, 3);
  BOOST_CHECK_EQUAL(received(), xml("a"));
  BOOST_CHECK(acked(bit) == (offsets{0}));
  BOOST_CHECK_EQUAL(counters->reconnects, 0u); // the first connection
  BOOST_CHECK_EQUAL(counters->last_error(), "connect: Connection refused");
}

BOOST_AUTO_TEST_CASE(a_configuration_error_is_prefixed_and_waits_longer) {
  w->up = false;
  w->config_error = true;
  cfg.reconnect_min = 100ms;
  cfg.reconnect_max = 10s;
  start(false);
  pump();
  BOOST_CHECK_EQUAL(counters->last_error(),
                    "configuration error: connect: Connection refused");
  // The longest of nine draws of the backoff: the ninth alone is drawn
  // from [5 s, 10 s] (100 ms * 2^8 capped at 10 s, halved at worst).
  BOOST_CHECK_EQUAL(d->reconnect_attempts(), 9);
  after(4900ms);
  BOOST_CHECK_EQUAL(w->connects, 1);
  after(5100ms);
  BOOST_CHECK_EQUAL(w->connects, 2);
}

BOOST_AUTO_TEST_CASE(consecutive_failures_open_the_breaker_without_parking) {
  w->up = false;
  start(false);
  d->take(batch({"a", "b"}));
  pump();
  after(100ms);
  BOOST_CHECK(d->breaker().state() == circuit_state::closed);
  auto r = after(100ms);
  BOOST_CHECK_EQUAL(w->connects, 3);
  BOOST_CHECK(d->breaker().state() == circuit_state::open);
  BOOST_CHECK_EQUAL(counters->breaker, 1);
  BOOST_CHECK_EQUAL(counters->breaker_trips, 1u);
  BOOST_CHECK_EQUAL(r.again.count(), 100); // min(100, the open wait)
  // Without a parking topic the events wait in the queue, unacknowledged.
  BOOST_CHECK_EQUAL(d->queued(), 2u);
  BOOST_CHECK(acks.empty());
  BOOST_CHECK(!d->parking());
  // Open: no connect before its wait is over, whatever the backoff says.
  after(900ms);
  BOOST_CHECK_EQUAL(w->connects, 3);
}

BOOST_AUTO_TEST_CASE(an_open_breaker_parks_queued_and_new_events) {
  w->up = false;
  cfg.breaker.consecutive_failures = 1;
  start();
  d->take(batch({"a", "b"}));
  pump(); // the connect fails: open
  BOOST_REQUIRE(d->breaker().state() == circuit_state::open);
  BOOST_CHECK(!d->parking());
  auto r = pump(); // the next round parks what is queued
  BOOST_CHECK(d->parking());
  BOOST_CHECK(counters->parking);
  BOOST_CHECK_EQUAL(d->queued(), 0u);
  BOOST_CHECK_EQUAL(lot->unconfirmed.size(), 2u);
  BOOST_CHECK_EQUAL(r.again.count(), 2); // Kafka has events to confirm
  BOOST_CHECK(acks.empty());             // not before Kafka has them
  pump();
  // Confirmed: done for this destination, counted as parked.
  BOOST_CHECK(acked(bit | parked_bit) == (offsets{0, 1}));
  BOOST_CHECK_EQUAL(counters->parked, 2u);
  // New events go straight to the parking topic.
  d->take(batch({"c"}));
  BOOST_CHECK_EQUAL(d->queued(), 0u);
  BOOST_CHECK_EQUAL(lot->unconfirmed.size(), 1u);
  BOOST_CHECK(!d->may_wait_for_next_batch());
  BOOST_CHECK(w->writes.empty());
}

BOOST_AUTO_TEST_CASE(a_failed_probe_reopens_the_breaker_for_longer) {
  w->up = false;
  cfg.breaker.consecutive_failures = 1;
  cfg.breaker.open_max = 4000ms;
  start();
  pump();
  BOOST_REQUIRE(d->breaker().state() == circuit_state::open);
  auto until = d->breaker().open_until();
  now = until - 1ms;
  pump();
  BOOST_CHECK_EQUAL(w->connects, 1);
  now = until;
  pump(); // the probe: a connect
  BOOST_CHECK_EQUAL(w->connects, 2);
  BOOST_CHECK(d->breaker().state() == circuit_state::open);
  BOOST_CHECK_EQUAL(counters->breaker_trips, 2u);
  // The second wait is twice the floor (plus jitter up to a quarter).
  auto wait = d->breaker().open_until() - now;
  BOOST_CHECK(wait >= 2000ms && wait <= 2500ms);
  BOOST_CHECK_EQUAL(counters->trip_reason().rfind("probe failed: ", 0), 0u);
}

BOOST_AUTO_TEST_CASE(a_successful_probe_closes_and_the_backlog_replays) {
  w->up = false;
  cfg.breaker.consecutive_failures = 1;
  start();
  d->take(batch({"a", "b"}));
  pump();
  pump();                // parks a, b
  pump();                // confirmed
  d->take(batch({"c"})); // parked while parking
  pump();
  BOOST_REQUIRE_EQUAL(lot->stored.size(), 3u);
  w->up = true;
  now = d->breaker().open_until();
  pump(); // half-open; the connect with nothing queued is the probe
  BOOST_CHECK_EQUAL(w->connects, 2);
  BOOST_CHECK(d->breaker().state() == circuit_state::closed);
  BOOST_CHECK(d->parking()); // until the replay caught up
  BOOST_CHECK(w->writes.empty());
  // Events arriving during the replay are parked behind the backlog.
  d->take(batch({"d"}));
  BOOST_CHECK_EQUAL(lot->unconfirmed.size(), 1u);
  auto r = pump(); // replays a, b, c (and d, confirmed in this round)
  BOOST_CHECK_EQUAL(r.again.count(), 0); // replaying: come back at once
  BOOST_CHECK_EQUAL(received(), xml("a") + xml("b") + xml("c") + xml("d"));
  BOOST_CHECK_EQUAL(counters->unparked, 4u);
  BOOST_CHECK_EQUAL(lot->done_refs.size(), 4u); // their parking offsets
  // Replayed events are not acknowledged to the source again.
  BOOST_CHECK(acked(bit).empty());
  BOOST_CHECK(d->parking());
  pump(); // caught up: direct delivery again
  BOOST_CHECK(!d->parking());
  BOOST_CHECK(!counters->parking);
  d->take(batch({"e"}));
  pump();
  BOOST_CHECK_EQUAL(w->writes.back(), xml("e"));
  BOOST_CHECK(acked(bit) == (offsets{4}));
}

BOOST_AUTO_TEST_CASE(direct_delivery_resumes_under_a_steady_stream) {
  // A new event every round, as a live input keeps coming: were it parked
  // too, the replay would chase it forever. Once the server is back and
  // the backlog short, new events wait behind the backlog instead, and go
  // directly once the replay handed out everything parked.
  w->up = false;
  cfg.breaker.consecutive_failures = 1;
  start();
  d->take(batch({"a", "b"}));
  pump();
  pump(); // parks a, b
  w->up = true;
  now = d->breaker().open_until();
  pump(); // the probe closes the breaker
  BOOST_REQUIRE(d->breaker().state() == circuit_state::closed);
  std::vector<std::string> live = {"c", "d", "e", "f", "g"};
  for (auto& uid : live) {
    d->take(batch({uid}));
    pump();
  }
  BOOST_CHECK(!d->parking());
  BOOST_CHECK_EQUAL(received(), xml("a") + xml("b") + xml("c") + xml("d")
                                  + xml("e") + xml("f") + xml("g"));
  // Parked ones counted as replayed, the rest delivered directly.
  BOOST_CHECK_EQUAL(counters->unparked + acked(bit).size(), 7u);
  BOOST_CHECK(lot->unconfirmed.empty() && lot->stored.empty());
}

BOOST_AUTO_TEST_CASE(
  events_held_behind_the_backlog_are_parked_if_it_goes_again) {
  // The server is back, the backlog's end is being replayed and a new
  // event waits behind it; the server goes again: the held event is
  // parked after everything parked before it, none is lost or reordered.
  w->up = false;
  cfg.breaker.consecutive_failures = 1;
  start();
  d->take(batch({"a"}));
  pump();
  pump(); // parks a
  w->up = true;
  now = d->breaker().open_until();
  pump();                // the probe closes the breaker
  lot->confirm = false;  // Kafka has not confirmed the next one yet
  d->take(batch({"b"})); // parked
  pump();                // a replayed; closing: b not confirmed
  d->take(batch({"c"})); // held behind the backlog
  BOOST_CHECK(lot->unconfirmed.size() == 1u);
  BOOST_CHECK_EQUAL(d->queued(), 1u);
  w->close_next = true;
  w->up = false;
  pump(); // the connection is lost
  pump(); // c goes to parking behind b
  BOOST_CHECK(d->parking());
  BOOST_REQUIRE_EQUAL(lot->unconfirmed.size(), 2u);
  BOOST_CHECK_EQUAL(lot->unconfirmed[0].uid, "b");
  BOOST_CHECK_EQUAL(lot->unconfirmed[1].uid, "c");
  BOOST_CHECK_EQUAL(d->queued(), 1u); // a, to send again (not re-parked)
}

BOOST_AUTO_TEST_CASE(the_probe_connect_carries_the_first_write) {
  cfg.breaker.consecutive_failures = 1;
  cfg.breaker.probes = 2;
  cfg.write_bytes = xml("a").size(); // one event per write
  start(false);
  d->take(batch({"a"}));
  w->script = {progress::failed};
  pump(); // the write fails: open
  BOOST_REQUIRE(d->breaker().state() == circuit_state::open);
  BOOST_CHECK_EQUAL(d->queued(), 1u); // the failed write's event stays
  d->take(batch({"b", "c"}));
  now = d->breaker().open_until() - 1ms;
  pump();
  BOOST_CHECK(w->writes.empty());
  now += 1ms;
  // Probe 1 is the connect and the write of a, probe 2 the write of b;
  // two successes close the breaker, and c goes directly.
  w->script = {progress::complete, progress::partial};
  pump();
  BOOST_CHECK(d->breaker().state() == circuit_state::half_open);
  BOOST_CHECK_EQUAL(received(), xml("a")); // b is the probe in progress
  pump();
  BOOST_CHECK(d->breaker().state() == circuit_state::closed);
  BOOST_CHECK_EQUAL(received(), xml("a") + xml("b") + xml("c"));
  BOOST_CHECK(acked(bit) == (offsets{0, 1, 2}));
}

BOOST_AUTO_TEST_CASE(a_failed_probe_write_reopens_the_breaker) {
  cfg.breaker.consecutive_failures = 1;
  start(false);
  d->take(batch({"a"}));
  w->script = {progress::failed};
  pump();
  BOOST_REQUIRE(d->breaker().state() == circuit_state::open);
  now = d->breaker().open_until();
  w->script = {progress::failed};
  pump(); // connected (the probe), its write fails
  BOOST_CHECK(d->breaker().state() == circuit_state::open);
  BOOST_CHECK_EQUAL(counters->breaker_trips, 2u);
  BOOST_CHECK_EQUAL(d->queued(), 1u);
  BOOST_CHECK(acks.empty());
}

BOOST_AUTO_TEST_CASE(a_full_queue_parks_the_write_in_progress_too) {
  cfg.queue_events = 4;
  cfg.breaker.consecutive_failures = 100;
  start();
  w->script = {progress::partial, progress::partial, progress::partial};
  d->take(batch({"a", "b"}));
  auto r = pump(); // a and b in one write, the server does not read
  BOOST_CHECK_EQUAL(r.again.count(), 5);
  BOOST_CHECK(!d->may_wait_for_next_batch()); // a write is in progress
  d->take(batch({"c", "d"}));
  pump(); // 4 queued: park
  BOOST_CHECK(d->parking());
  // Every input event is parked; those of the write stay queued as well
  // (part of them may be on the wire).
  BOOST_CHECK_EQUAL(lot->unconfirmed.size(), 4u);
  BOOST_CHECK_EQUAL(d->queued(), 2u);
  pump();
  BOOST_CHECK(acked(bit | parked_bit) == (offsets{0, 1, 2, 3}));
  // The write completes after all: a and b arrive (and are acknowledged)
  // twice, never not at all; then, in order, the parked ones replay
  // (first what fits the queue: a and b again).
  pump();
  BOOST_CHECK_EQUAL(received(), xml("a") + xml("b") + xml("a") + xml("b"));
  BOOST_CHECK(acked(bit) == (offsets{0, 1}));
  BOOST_CHECK_EQUAL(counters->unparked, 2u);
  pump();
  BOOST_CHECK_EQUAL(received(), xml("a") + xml("b") + xml("a") + xml("b")
                                  + xml("c") + xml("d"));
  BOOST_CHECK_EQUAL(counters->unparked, 4u);
}

BOOST_AUTO_TEST_CASE(draining_while_disconnected_parks_what_waits) {
  w->up = false;
  cfg.breaker.consecutive_failures = 100;
  start();
  d->take(batch({"a"}));
  pump();
  BOOST_CHECK(!d->parking()); // breaker closed, queue not full
  pipeline->draining = true;
  after(100ms);
  BOOST_CHECK(d->parking());
  BOOST_CHECK_EQUAL(lot->unconfirmed.size(), 1u);
  BOOST_CHECK_EQUAL(d->queued(), 0u);
}

BOOST_AUTO_TEST_CASE(stale_parked_events_are_dropped_at_replay) {
  w->up = false;
  cfg.breaker.consecutive_failures = 1;
  start();
  d->take(batch({"a", "b"}));
  pump();
  pump();
  pump();                                  // a, b parked and confirmed
  lot->stored.front().stale_ms = wall - 1; // a went stale meanwhile
  w->up = true;
  now = d->breaker().open_until();
  pump(); // the probe: connected, closed
  pump(); // replay
  BOOST_CHECK_EQUAL(counters->parked_stale, 1u);
  BOOST_CHECK_EQUAL(received(), xml("b"));
  BOOST_CHECK_EQUAL(counters->unparked, 1u);
}

// A replayed event leaves the parking topic once: delivered (replayed) or
// dropped at its write (stale by then); what waits is parked less those
// (parking_counts).
BOOST_AUTO_TEST_CASE(a_replayed_event_stale_at_its_write_is_dropped_once) {
  w->up = false;
  cfg.breaker.consecutive_failures = 1;
  cfg.write_bytes = xml("a").size(); // one event per write
  start();
  d->take(batch({"a", "b", "c"}));
  for (int i = 0; i < 3; ++i)
    pump(); // a, b, c parked and confirmed
  BOOST_REQUIRE_EQUAL(counters->parked, 3u);
  BOOST_CHECK_EQUAL(parking_of(*counters).waiting(), 3u);
  lot->stored[2].stale_ms = wall + 1; // fresh at its replay, not at its write
  w->up = true;
  now = d->breaker().open_until();
  pump(); // the probe connects
  w->script = {progress::complete, progress::partial};
  for (int i = 0; i < 4 && counters->unparked == 0; ++i)
    pump(); // a, b, c replayed; a written, b's write in progress
  BOOST_REQUIRE_EQUAL(counters->unparked, 1u);
  BOOST_CHECK_EQUAL(counters->parked_stale, 0u);
  BOOST_CHECK_EQUAL(parking_of(*counters).waiting(), 2u);
  wall += 2;
  for (int i = 0; i < 4 && parking_of(*counters).waiting() > 0; ++i)
    pump();
  BOOST_CHECK_EQUAL(received(), xml("a") + xml("b"));
  BOOST_CHECK_EQUAL(counters->unparked, 2u);
  BOOST_CHECK_EQUAL(counters->stale_at_write, 1u);
  BOOST_CHECK_EQUAL(counters->parked_dropped_at_write, 1u);
  BOOST_CHECK_EQUAL(parking_of(*counters).waiting(), 0u);
  BOOST_CHECK_EQUAL(lot->done_refs.size(), 3u);
}

BOOST_AUTO_TEST_CASE(a_replayed_event_sent_again_is_replayed_once) {
  w->up = false;
  cfg.breaker.consecutive_failures = 1;
  start();
  d->take(batch({"a", "b"}));
  for (int i = 0; i < 3; ++i)
    pump();
  BOOST_REQUIRE_EQUAL(counters->parked, 2u);
  w->up = true;
  now = d->breaker().open_until();
  for (int i = 0; i < 4 && counters->unparked < 2; ++i)
    pump();
  BOOST_REQUIRE_EQUAL(received(), xml("a") + xml("b"));
  // The server goes away: it may not have had them; they go again.
  w->close_next = true;
  for (int i = 0; i < 10 && received().size() < 2 * (xml("a").size() * 2); ++i)
    after(200ms);
  BOOST_CHECK_EQUAL(received(), xml("a") + xml("b") + xml("a") + xml("b"));
  BOOST_CHECK_EQUAL(counters->resent, 2u);
  BOOST_CHECK_EQUAL(counters->unparked, 2u);
  BOOST_CHECK_EQUAL(parking_of(*counters).waiting(), 0u);
}

// A replayed event sent again after a lost connection was counted the
// first time; another replayed event finished before it keeps its own
// outcome (here: dropped, stale by its write), not the resent one's.
BOOST_AUTO_TEST_CASE(a_resent_replayed_event_leaves_the_others_counts_alone) {
  w->up = false;
  cfg.breaker.consecutive_failures = 1;
  cfg.write_bytes = 2 * xml("a").size(); // two events per write
  cfg.replay_bytes = xml("a").size();    // the window keeps the last one
  start();
  d->take(batch({"a", "b", "c"}));
  for (int i = 0; i < 3; ++i)
    pump(); // a, b, c parked and confirmed
  BOOST_REQUIRE_EQUAL(counters->parked, 3u);
  lot->stored[2].stale_ms = wall + 1; // fresh at its replay, not later
  w->up = true;
  now = d->breaker().open_until();
  pump(); // the probe connects
  w->script = {progress::complete, progress::partial};
  for (int i = 0; i < 4 && counters->unparked < 2; ++i)
    pump(); // a and b written (b in the window), c's write in progress
  BOOST_REQUIRE_EQUAL(counters->unparked, 2u);
  w->close_next = true;
  pump(); // lost: b goes again, before c
  BOOST_REQUIRE(!counters->connected);
  wall += 2; // c is stale now
  for (int i = 0; i < 10 && parking_of(*counters).waiting() > 0; ++i)
    after(100ms);
  BOOST_CHECK_EQUAL(counters->resent, 1u);
  BOOST_CHECK_EQUAL(counters->stale_at_write, 1u);
  BOOST_CHECK_EQUAL(counters->unparked, 2u);
  BOOST_CHECK_EQUAL(counters->parked_dropped_at_write, 1u);
  BOOST_CHECK_EQUAL(parking_of(*counters).waiting(), 0u);
}

// Events an earlier run parked come back first; they are not this run's:
// counted apart, they leave what this run parked waiting until it is
// replayed.
BOOST_AUTO_TEST_CASE(an_inherited_backlog_leaves_this_runs_waiting_right) {
  w->up = false;
  cfg.breaker.consecutive_failures = 1;
  cfg.write_bytes = xml("a").size(); // one event per write
  for (int64_t i = 0; i < 3; ++i) {
    cot_event ev;
    ev.ref = {parking_port::replay_flag | parking_port::inherited_flag, i};
    ev.uid = "old" + std::to_string(i);
    ev.xml = xml(ev.uid);
    ev.stale_ms = i == 1 ? wall - 1 : 0; // old1 went stale while parked
    lot->stored.push_back(ev);
  }
  lot->next_offset = 3;
  start();
  d->take(batch({"a", "b"}));
  for (int i = 0; i < 3; ++i)
    pump(); // a, b parked behind them and confirmed
  BOOST_REQUIRE_EQUAL(counters->parked, 2u);
  BOOST_CHECK_EQUAL(parking_of(*counters).waiting(), 2u);
  w->up = true;
  now = d->breaker().open_until();
  pump(); // the probe connects
  // old0 and old2 written, a's write in progress.
  w->script = {progress::complete, progress::complete, progress::partial};
  for (int i = 0; i < 4 && counters->inherited_replayed < 2; ++i)
    pump();
  BOOST_REQUIRE_EQUAL(counters->inherited_replayed, 2u);
  BOOST_CHECK_EQUAL(counters->inherited_dropped, 1u);
  BOOST_CHECK_EQUAL(counters->unparked, 0u);
  BOOST_CHECK_EQUAL(counters->parked_stale, 0u);
  BOOST_CHECK_EQUAL(parking_of(*counters).waiting(), 2u);
  for (int i = 0; i < 4 && counters->unparked < 2; ++i)
    pump();
  BOOST_CHECK_EQUAL(received(),
                    xml("old0") + xml("old2") + xml("a") + xml("b"));
  BOOST_CHECK_EQUAL(counters->unparked, 2u);
  BOOST_CHECK_EQUAL(parking_of(*counters).waiting(), 0u);
  BOOST_CHECK_EQUAL(lot->done_refs.size(), 5u);
}

// A sensor event (no input record: tp 0) is parked and replayed like the
// rest, and counted in neither.
BOOST_AUTO_TEST_CASE(a_parked_sensor_event_is_no_parked_record) {
  w->up = false;
  cfg.breaker.consecutive_failures = 1;
  start();
  auto b = std::make_shared<cot_events>(*batch({"a", "sensor-1"}));
  (*b)[1].ref = {}; // as the encoder adds it
  d->take(b);
  for (int i = 0; i < 3; ++i)
    pump();
  BOOST_REQUIRE_EQUAL(lot->stored.size(), 2u);
  BOOST_CHECK_EQUAL(counters->parked, 1u);
  BOOST_CHECK_EQUAL(parking_of(*counters).waiting(), 1u);
  w->up = true;
  now = d->breaker().open_until();
  for (int i = 0; i < 4 && lot->done_refs.size() < 2; ++i)
    pump();
  BOOST_CHECK_EQUAL(received(), xml("a") + xml("sensor-1"));
  BOOST_CHECK_EQUAL(counters->unparked, 1u);
  BOOST_CHECK_EQUAL(counters->inherited_replayed, 0u);
  BOOST_CHECK_EQUAL(parking_of(*counters).waiting(), 0u);
}

BOOST_AUTO_TEST_CASE(direct_mode_replays_into_half_the_queue) {
  cfg.queue_events = 4;
  start();
  for (int i = 0; i < 5; ++i) {
    cot_event ev;
    ev.ref = {parking_port::replay_flag, i};
    ev.uid = "p" + std::to_string(i);
    ev.xml = xml(ev.uid);
    lot->stored.push_back(ev); // left by an earlier run
  }
  w->script = {progress::partial};
  pump(); // takes 2 (half the queue); the write stays partial
  BOOST_CHECK_EQUAL(d->queued(), 2u);
  BOOST_CHECK(!d->parking());
  pump(); // the queue is at its bound in direct mode: the replayer holds
  BOOST_CHECK_EQUAL(lot->holds, 1);
  BOOST_CHECK_EQUAL(received(), xml("p0") + xml("p1"));
}

BOOST_AUTO_TEST_CASE(a_lost_connection_resends_only_the_replay_window) {
  cfg.replay_bytes = 2 * xml("a").size();
  cfg.write_bytes = xml("a").size(); // one event per write
  start(false);
  d->take(batch({"a", "b", "c", "d"}));
  pump();
  BOOST_CHECK_EQUAL(d->in_window(), 2u); // the latest replay_bytes: c, d
  w->close_next = true;
  d->take(batch({"e"}));
  auto r = pump(); // the drain sees the close
  BOOST_CHECK_EQUAL(r.again.count(), 1);
  BOOST_CHECK(!counters->connected);
  BOOST_CHECK_EQUAL(counters->resent, 2u);
  // The kernel could not say: the whole window counts as unacknowledged.
  BOOST_CHECK_EQUAL(counters->resent_bytes, 2 * xml("a").size());
  BOOST_CHECK_EQUAL(counters->unacknowledged_at_loss, 2 * xml("a").size());
  BOOST_CHECK_EQUAL(d->queued(), 3u); // c, d, then e
  BOOST_CHECK_EQUAL(d->in_window(), 0u);
  after(100ms); // the backoff passed: reconnect
  BOOST_CHECK_EQUAL(counters->reconnects, 1u);
  BOOST_CHECK_EQUAL(received(), xml("a") + xml("b") + xml("c") + xml("d")
                                  + xml("c") + xml("d") + xml("e"));
  BOOST_CHECK(acked(bit) == (offsets{0, 1, 2, 3, 2, 3, 4}));
}

BOOST_AUTO_TEST_CASE(only_what_the_server_may_have_lost_is_resent) {
  // Four events written whole, one per write. The server's kernel had
  // acknowledged all but the last event's bytes when the connection died:
  // that event goes again, plus resend_margin bytes before it (what the
  // server read but may not have processed), not the whole window.
  auto size = xml("a").size();
  cfg.write_bytes = size;
  cfg.resend_margin = size;
  start(false);
  w->unacked = size;
  d->take(batch({"a", "b", "c", "d"}));
  pump();
  BOOST_CHECK_EQUAL(d->in_window(), 4u);
  w->close_next = true;
  pump();
  BOOST_CHECK_EQUAL(counters->resent, 2u); // c (the margin) and d
  BOOST_CHECK_EQUAL(counters->resent_bytes, 2 * size);
  BOOST_CHECK_EQUAL(counters->unacknowledged_at_loss, size);
  BOOST_CHECK_EQUAL(d->queued(), 2u);
  BOOST_CHECK_EQUAL(d->in_window(), 0u);
  after(100ms);
  BOOST_CHECK_EQUAL(received(), xml("a") + xml("b") + xml("c") + xml("d")
                                  + xml("c") + xml("d"));
}

BOOST_AUTO_TEST_CASE(
  only_what_went_out_after_the_latest_answered_ping_is_resent) {
  // Pings go out every two events' bytes; the server answers the first.
  // It read everything written before that ping, so a loss resends the
  // events written after it, not the margin's worth before them.
  auto size = xml("a").size();
  cfg.write_bytes = size; // one event per write
  cfg.ping_interval = 10s;
  cfg.ping_timeout = 5s;
  cfg.ping_every_bytes = 2 * size;
  cfg.resend_margin = 100 * size;
  start(false);
  w->unacked = 0;
  d->take(batch({"a", "b", "c", "d"}));
  pump(); // connects, writes a, b, c, d
  BOOST_CHECK(w->pings.empty());
  pump(); // four events' bytes since the connect: a ping
  BOOST_REQUIRE_EQUAL(w->pings.size(), 1u);
  w->pongs = 1; // TAK Server's answer (t-x-c-t-r)
  w->last_read = now;
  d->take(batch({"e", "f"}));
  pump(); // takes the answer, writes e, f
  BOOST_CHECK_EQUAL(counters->ping_answers, 1u);
  w->close_next = true;
  pump();
  BOOST_CHECK_EQUAL(counters->resent, 2u); // e, f
  BOOST_CHECK_EQUAL(counters->resent_bytes, 2 * size);
  BOOST_CHECK_EQUAL(counters->unconfirmed_at_loss, 2 * size);
  after(100ms);
  BOOST_CHECK_EQUAL(received(), xml("a") + xml("b") + xml("c") + xml("d")
                                  + xml("e") + xml("f") + xml("e") + xml("f"));
}

BOOST_AUTO_TEST_CASE(a_server_that_answers_no_ping_gets_the_margin_resent) {
  // The same stream, pings unanswered: the margin (three events) before
  // the unacknowledged bytes (none) goes again.
  auto size = xml("a").size();
  cfg.write_bytes = size;
  cfg.ping_interval = 10s;
  cfg.ping_timeout = 5s;
  cfg.ping_every_bytes = 2 * size;
  cfg.resend_margin = 3 * size;
  start(false);
  w->unacked = 0;
  d->take(batch({"a", "b", "c", "d"}));
  pump();
  pump(); // the ping
  BOOST_REQUIRE_EQUAL(w->pings.size(), 1u);
  d->take(batch({"e", "f"}));
  pump();
  w->close_next = true;
  pump();
  BOOST_CHECK_EQUAL(counters->ping_answers, 0u);
  BOOST_CHECK_EQUAL(counters->resent, 3u); // d, e, f
  BOOST_CHECK_EQUAL(counters->unconfirmed_at_loss, 6 * size);
  after(100ms);
  BOOST_CHECK_EQUAL(received(), xml("a") + xml("b") + xml("c") + xml("d")
                                  + xml("e") + xml("f") + xml("d") + xml("e")
                                  + xml("f"));
}

BOOST_AUTO_TEST_CASE(an_answer_confirms_its_own_ping_not_a_later_one) {
  // Any bytes count as a reply for the keepalive, so a second ping may go
  // out before the first is answered. The first answer then confirms
  // only what was written before the first ping; the second, the rest.
  auto size = xml("a").size();
  cfg.write_bytes = size;
  cfg.ping_interval = 10s;
  cfg.ping_timeout = 5s;
  cfg.ping_every_bytes = size;
  cfg.resend_margin = 100 * size;
  start(false);
  w->unacked = 0;
  d->take(batch({"a"}));
  pump();                   // a
  pump();                   // ping 1 (after a)
  w->last_read = now + 1ms; // some other bytes from the server
  now += 2ms;
  d->take(batch({"b"}));
  pump(); // b
  pump(); // ping 2 (after b)
  BOOST_REQUIRE_EQUAL(w->pings.size(), 2u);
  w->pongs = 1; // the answer to ping 1
  d->take(batch({"c"}));
  pump(); // c
  w->close_next = true;
  pump();
  BOOST_CHECK_EQUAL(counters->resent, 2u); // b, c
  BOOST_CHECK_EQUAL(counters->unconfirmed_at_loss, 2 * size);
}

BOOST_AUTO_TEST_CASE(nothing_is_resent_when_the_server_acknowledged_all) {
  start(false);
  w->unacked = 0;
  d->take(batch({"a", "b"}));
  pump();
  w->close_next = true;
  pump();
  BOOST_CHECK_EQUAL(counters->resent, 0u);
  BOOST_CHECK_EQUAL(counters->resent_bytes, 0u);
  BOOST_CHECK_EQUAL(counters->unacknowledged_at_loss, 0u);
  BOOST_CHECK_EQUAL(d->queued(), 0u);
  after(100ms);
  BOOST_CHECK_EQUAL(received(), xml("a") + xml("b"));
}

BOOST_AUTO_TEST_CASE(a_partial_write_counts_apart_from_the_window) {
  // The kernel's count after a partial write holds that write's own bytes
  // (still queued, resent whole anyway) after the window's.
  auto size = xml("a").size();
  cfg.write_bytes = size;
  start(false);
  d->take(batch({"a", "b"}));
  w->unacked = size; // after a: its bytes
  w->script = {progress::complete, progress::partial};
  pump();            // a complete, b partial
  w->unacked = size; // the window's a, plus nothing of b yet
  w->script = {progress::failed};
  pump(); // the write of b fails: a (unacknowledged) and b go again
  BOOST_CHECK_EQUAL(counters->resent, 1u);
  BOOST_CHECK_EQUAL(d->queued(), 2u);
}

BOOST_AUTO_TEST_CASE(an_event_that_went_stale_is_never_written) {
  // Wherever it waited: queued behind a slow server, or resent after a
  // lost connection. It is done for the destination, and counted.
  start(false);
  auto b = std::make_shared<cot_events>(*batch({"a", "b"}));
  (*b)[0].stale_ms = wall; // stale now
  d->take(b);
  pump();
  BOOST_CHECK_EQUAL(received(), xml("b"));
  // Done for the destination, and dropped: never counted as delivered.
  BOOST_CHECK(acked(bit | dropped_bit) == (offsets{0}));
  BOOST_CHECK(acked(bit) == (offsets{1}));
  BOOST_CHECK_EQUAL(counters->stale_at_write, 1u);
  // Resent after a loss, but stale by the time the connection is back.
  auto c = std::make_shared<cot_events>(*batch({"c", "d"}));
  (*c)[0].stale_ms = wall + 50;
  d->take(c);
  pump();
  w->close_next = true;
  pump(); // lost: the window (b, c, d: acknowledgement unknown) goes again
  wall += 100;
  after(100ms);
  BOOST_CHECK_EQUAL(received(),
                    xml("b") + xml("c") + xml("d") + xml("b") + xml("d"));
  BOOST_CHECK_EQUAL(counters->stale_at_write, 2u);
}

BOOST_AUTO_TEST_CASE(a_failed_write_is_sent_again_whole) {
  cfg.replay_bytes = 0;
  start(false);
  d->take(batch({"a", "b"}));
  w->script = {progress::partial, progress::failed};
  pump();
  pump(); // the write fails: a and b go again after the reconnect
  BOOST_CHECK(acks.empty());
  BOOST_CHECK_EQUAL(d->queued(), 2u);
  BOOST_CHECK_EQUAL(counters->last_error(), "write: Broken pipe");
  after(100ms);
  BOOST_CHECK_EQUAL(received(), xml("a") + xml("b"));
  BOOST_CHECK(acked(bit) == (offsets{0, 1}));
}

BOOST_AUTO_TEST_CASE(a_lost_connection_while_parking_parks_the_window) {
  cfg.breaker.consecutive_failures = 1;
  start();
  d->take(batch({"a", "b"}));
  pump(); // delivered: in the replay window
  w->close_next = true;
  w->up = false;
  pump(); // lost: a, b back in the queue; the breaker opens
  BOOST_REQUIRE(d->breaker().state() == circuit_state::open);
  pump(); // parking starts: the requeued events are parked
  BOOST_CHECK(d->parking());
  BOOST_CHECK_EQUAL(d->queued(), 0u);
  BOOST_CHECK_EQUAL(lot->unconfirmed.size(), 2u);
}

BOOST_AUTO_TEST_CASE(filtered_and_superseded_events_are_skipped) {
  std::string err;
  url("tcp://tak.example:8087?coalesce=true");
  start(false);
  auto b = std::make_shared<cot_events>(*batch({"a", "b", "a"}));
  (*b)[1].type = "t-x-d-d"; // deletes are never coalesced away
  d->take(b);
  BOOST_CHECK(acked(bit) == (offsets{0})); // the older position of a
  BOOST_CHECK_EQUAL(counters->skipped, 1u);
  pump();
  BOOST_CHECK_EQUAL(received(), xml("b") + xml("a"));
}

BOOST_AUTO_TEST_CASE(a_silent_tls_server_fails_the_keepalive) {
  w->tls = true;
  cfg.ping_interval = 100ms;
  cfg.ping_timeout = 50ms;
  start(false);
  pump();
  BOOST_CHECK(w->pings.empty());
  after(100ms);
  BOOST_REQUIRE_EQUAL(w->pings.size(), 1u);
  BOOST_CHECK(w->pings[0].find("t-x-c-t") != std::string::npos);
  w->last_read = now; // any bytes count as the reply
  after(100ms);
  BOOST_CHECK_EQUAL(w->pings.size(), 2u);
  auto r = after(60ms); // silence past the timeout
  BOOST_CHECK_EQUAL(r.again.count(), 1);
  BOOST_CHECK(!w->open);
  BOOST_CHECK_EQUAL(counters->last_error(),
                    "no reply to the keepalive ping within 50 ms (1 in a row)");
}

BOOST_AUTO_TEST_CASE(tcp_is_pinged_too_unless_the_url_says_not) {
  cfg.ping_interval = 100ms;
  cfg.ping_timeout = 50ms;
  start(false);
  pump();
  after(100ms);
  BOOST_CHECK_EQUAL(w->pings.size(), 1u);

  fixture quiet;
  std::string err;
  quiet.url("tcp://tak.example:8087?ping=false");
  quiet.cfg.ping_interval = 100ms;
  quiet.start(false);
  quiet.pump();
  quiet.after(100ms);
  quiet.after(100ms);
  BOOST_CHECK(quiet.w->pings.empty());
}

BOOST_AUTO_TEST_CASE(a_server_that_never_answers_is_kept_without_pings) {
  // Three pings in a row go unanswered, each a reconnect; then the server
  // is taken for one that never answers: connected, no more pings.
  cfg.ping_interval = 100ms;
  cfg.ping_timeout = 50ms;
  cfg.ping_silent_cycles = 3;
  start(false);
  pump();
  for (int cycle = 1; cycle <= 2; ++cycle) {
    after(100ms); // ping
    after(60ms);  // silence: lost
    BOOST_CHECK(!w->open);
    after(100ms); // reconnect after the backoff
    BOOST_CHECK(w->open);
  }
  after(100ms); // the third ping
  after(60ms);  // silent again: given up
  BOOST_CHECK(w->open);
  BOOST_CHECK_EQUAL(w->connects, 3);
  auto pings = w->pings.size();
  BOOST_CHECK_EQUAL(pings, 3u);
  for (int i = 0; i < 10; ++i)
    after(100ms);
  BOOST_CHECK_EQUAL(w->pings.size(), pings);
  BOOST_CHECK(w->open);
  BOOST_CHECK_EQUAL(counters->last_error(),
                    "the server answered none of 3 keepalive pings in a row");
  // Events still flow.
  d->take(batch({"a"}));
  pump();
  BOOST_CHECK(received().find(xml("a")) != std::string::npos);
}

BOOST_AUTO_TEST_CASE(an_injected_outage_fails_connects_and_writes) {
  cfg.down_after = 1s;
  cfg.down_for = 1s;
  cfg.breaker.consecutive_failures = 100;
  start(false);
  pump();
  BOOST_CHECK(w->open);
  after(1s); // the window starts: the connection is dropped
  BOOST_CHECK(!w->open);
  BOOST_CHECK_EQUAL(counters->last_error(), "injected fault: destination down");
  after(500ms);
  BOOST_CHECK_EQUAL(w->connects, 1); // no real connect in the window
  after(600ms);
  BOOST_CHECK(w->open);
}

BOOST_AUTO_TEST_CASE(a_parking_topic_that_fails_stops_the_destination) {
  start();
  lot->broken = "Topic authorization failed";
  auto r = pump();
  BOOST_CHECK(r.stop);
  BOOST_CHECK_EQUAL(w->connects, 0);
}

BOOST_AUTO_TEST_CASE(a_write_may_wait_for_the_next_batch_only_when_idle) {
  start();
  BOOST_CHECK(d->may_wait_for_next_batch());
  d->take(batch({"a"}));
  BOOST_CHECK(d->has_deferred());
  BOOST_CHECK(d->may_wait_for_next_batch());
  pump();
  BOOST_CHECK(!d->has_deferred());
  cfg.queue_events = 1;
  fixture full;
  full.cfg.queue_events = 1;
  full.start();
  full.d->take(full.batch({"a"}));
  BOOST_CHECK(!full.d->may_wait_for_next_batch()); // the queue is full
}

BOOST_AUTO_TEST_CASE(a_reload_changes_the_queue_bound_and_keeps_the_breaker) {
  w->up = false;
  cfg.breaker.consecutive_failures = 1;
  start();
  pump();
  BOOST_REQUIRE(d->breaker().state() == circuit_state::open);
  auto b = cfg.breaker;
  b.consecutive_failures = 7;
  d->reconfigure(b, 2);
  BOOST_CHECK(d->breaker().state() == circuit_state::open);
  BOOST_CHECK_EQUAL(d->breaker().settings().consecutive_failures, 7);
}

// --- TAK Protocol version 1 ------------------------------------------------

BOOST_AUTO_TEST_CASE(protocol_1_writes_stream_frames_from_the_first_byte) {
  url("tcp://tak.example:8087?protocol=1");
  start(false);
  d->take(cot_batch({"a", "b", "c"}));
  pump();
  BOOST_REQUIRE_EQUAL(w->writes.size(), 1u); // one write, three frames
  BOOST_CHECK(frame_uids(received())
              == (std::vector<std::string>{"a", "b", "c"}));
  BOOST_CHECK(acked(bit) == (offsets{0, 1, 2}));
  BOOST_CHECK_EQUAL(counters->protocol, 1);
  BOOST_CHECK_EQUAL(counters->bytes, received().size());
}

BOOST_AUTO_TEST_CASE(an_offer_is_answered_and_accepted_then_protobuf) {
  url("tcp://tak.example:8087?protocol=negotiate");
  cfg.negotiate_offer = 5s;
  cfg.negotiate_response = 60s;
  start(false);
  w->inbound = offer("proto-&amp;7");
  d->take(cot_batch({"a", "b"}));
  pump();
  // The request, with the offer's uid, and nothing else until the answer.
  BOOST_REQUIRE_EQUAL(w->pings.size(), 1u);
  BOOST_CHECK(w->pings[0].find("t-x-takp-q") != std::string::npos);
  BOOST_CHECK(w->pings[0].find(R"(uid="proto-&amp;7")") != std::string::npos);
  BOOST_CHECK(w->pings[0].find(R"(<TakRequest version="1"/>)")
              != std::string::npos);
  BOOST_CHECK(w->writes.empty());
  BOOST_CHECK(acks.empty());
  after(1s);
  BOOST_CHECK(w->writes.empty());
  w->inbound = answer(true);
  after(10ms);
  BOOST_CHECK(frame_uids(received()) == (std::vector<std::string>{"a", "b"}));
  BOOST_CHECK_EQUAL(counters->protocol, 1);
  BOOST_CHECK_EQUAL(w->pings.size(), 1u);
}

BOOST_AUTO_TEST_CASE(a_declined_request_keeps_the_connection_in_xml) {
  url("tcp://tak.example:8087?protocol=negotiate");
  cfg.negotiate_offer = 5s;
  cfg.negotiate_response = 60s;
  start(false);
  w->inbound = offer();
  d->take(cot_batch({"a"}));
  pump();
  w->inbound = answer(false);
  after(10ms);
  BOOST_CHECK_EQUAL(received(), cot("a"));
  BOOST_CHECK_EQUAL(counters->protocol, 0);
}

BOOST_AUTO_TEST_CASE(a_server_that_offers_nothing_gets_xml_at_once) {
  // XML goes out while cotflow looks for an offer; after the offer time
  // it stops looking, and an offer after that is not taken up.
  url("tcp://tak.example:8087?protocol=negotiate");
  cfg.negotiate_offer = 5s;
  start(false);
  d->take(cot_batch({"a"}));
  pump();
  BOOST_CHECK_EQUAL(received(), cot("a"));
  after(5s);
  w->inbound = offer();
  after(10ms);
  d->take(cot_batch({"b"}));
  pump();
  BOOST_CHECK(w->pings.empty());
  BOOST_CHECK_EQUAL(received(), cot("a") + cot("b"));
}

BOOST_AUTO_TEST_CASE(an_unanswered_request_reconnects_and_stays_in_xml) {
  url("tcp://tak.example:8087?protocol=negotiate");
  cfg.negotiate_offer = 5s;
  cfg.negotiate_response = 60s;
  start(false);
  w->inbound = offer();
  d->take(cot_batch({"a"}));
  pump();
  BOOST_REQUIRE_EQUAL(w->pings.size(), 1u);
  after(60s); // no answer: the protocol says disconnect
  BOOST_CHECK(!w->open);
  BOOST_CHECK(counters->last_error().find("no answer to the request")
              != std::string::npos);
  w->inbound = offer();
  after(100ms); // reconnected: XML, no second request
  BOOST_CHECK(w->open);
  BOOST_CHECK_EQUAL(w->pings.size(), 1u);
  BOOST_CHECK_EQUAL(received(), cot("a"));
}

BOOST_AUTO_TEST_CASE(a_resent_event_goes_out_in_the_new_connections_protocol) {
  // Written as protobuf on a connection that negotiated version 1, lost
  // unacknowledged, resent as XML on a connection whose server offers
  // nothing: events wait as CoT XML and are encoded per connection.
  url("tcp://tak.example:8087?protocol=negotiate");
  cfg.negotiate_offer = 1s;
  start(false);
  w->inbound = offer();
  d->take(cot_batch({"a", "b"}));
  pump();
  w->inbound = answer(true);
  after(10ms);
  BOOST_REQUIRE(frame_uids(received()) == (std::vector<std::string>{"a", "b"}));
  auto frames = received().size();
  w->unacked = frames; // the server's kernel acknowledged none of it
  w->close_next = true;
  pump();
  BOOST_CHECK_EQUAL(counters->resent, 2u);
  after(100ms); // reconnect: looking for an offer, writing XML
  BOOST_CHECK_EQUAL(received().substr(frames), cot("a") + cot("b"));
  BOOST_CHECK_EQUAL(counters->protocol, 0);
}

BOOST_AUTO_TEST_CASE(the_replay_window_counts_the_bytes_on_the_wire) {
  // Resend sizes are those written: protobuf frames, not their XML.
  url("tcp://tak.example:8087?protocol=1");
  start(false);
  d->take(cot_batch({"a"}));
  pump();
  auto one = received().size();
  // Counted in XML bytes, b alone would cover what the kernel reports.
  BOOST_REQUIRE_LT(2 * one, cot("b").size());
  // After b's write, the kernel says none of a's and b's frames (as long
  // as each other) was acknowledged: both go again.
  w->unacked = 2 * one;
  d->take(cot_batch({"b"}));
  pump();
  BOOST_CHECK_EQUAL(received().size(), 2 * one);
  w->close_next = true;
  pump();
  BOOST_CHECK_EQUAL(counters->resent, 2u);
}

BOOST_AUTO_TEST_CASE(mesh_datagrams_carry_the_control_twice_a_minute) {
  url("udp://239.2.3.1:6969?protocol=mesh");
  w->udp = true;
  start(false);
  d->take(cot_batch({"a", "b"}));
  pump();
  after(31s);
  d->take(cot_batch({"c"}));
  pump();
  BOOST_REQUIRE_EQUAL(w->writes.size(), 3u); // a datagram per event
  std::vector<bool> control;
  std::vector<std::string> uids;
  for (auto& dgram : w->writes) {
    BOOST_REQUIRE_EQUAL(dgram.substr(0, 3), "\xbf\x01\xbf");
    takp::pb::TakMessage m;
    BOOST_REQUIRE(m.ParseFromString(dgram.substr(3)));
    control.push_back(m.has_takcontrol());
    uids.push_back(m.cotevent().uid());
    if (m.has_takcontrol()) {
      BOOST_CHECK_EQUAL(m.takcontrol().minprotoversion(), 1u);
      BOOST_CHECK_EQUAL(m.takcontrol().maxprotoversion(), 1u);
    }
  }
  BOOST_CHECK(uids == (std::vector<std::string>{"a", "b", "c"}));
  BOOST_CHECK(control == (std::vector<bool>{true, false, true}));
}

BOOST_AUTO_TEST_CASE(an_event_version_1_cannot_encode_is_dropped_and_counted) {
  url("tcp://tak.example:8087?protocol=1");
  start(false);
  d->take(batch({"bad"})); // not a CoT event: <event uid="bad"/>
  d->take(cot_batch({"good"}));
  pump();
  BOOST_CHECK(frame_uids(received()) == (std::vector<std::string>{"good"}));
  BOOST_CHECK_EQUAL(counters->unencodable, 1u);
  BOOST_CHECK(acked(bit | dropped_bit) == (offsets{0}));
  BOOST_CHECK(acked(bit) == (offsets{1}));
}

BOOST_AUTO_TEST_CASE(pings_go_out_in_the_connections_protocol) {
  url("tcp://tak.example:8087?protocol=1");
  cfg.ping_interval = 100ms;
  cfg.ping_timeout = 50ms;
  start(false);
  pump();
  after(100ms);
  BOOST_REQUIRE_EQUAL(w->pings.size(), 1u);
  BOOST_CHECK(frame_uids(w->pings[0])
              == (std::vector<std::string>{"cotflow-tak1"}));
}

// --- Routing and identity --------------------------------------------------

BOOST_AUTO_TEST_CASE(each_connection_starts_with_cotflows_identity) {
  url("tcp://tak.example:8087?hello=true");
  w->up = true;
  start(false);
  d->take(cot_batch({"a"}));
  pump();
  BOOST_REQUIRE_EQUAL(w->pings.size(), 1u);
  auto& hello = w->pings[0];
  BOOST_CHECK(hello.find(R"(uid="cotflow-test" type="t-x-d-d")")
              != std::string::npos);
  BOOST_CHECK(hello.find(R"(<contact callsign="cotflow"/>)")
              != std::string::npos);
  BOOST_CHECK(hello.find(R"(version="1.2.3")") != std::string::npos);
  w->close_next = true;
  pump();
  after(100ms); // reconnected: the identity again
  BOOST_CHECK_EQUAL(w->pings.size(), 2u);

  // In version 1 it is a frame like the rest; UDP has none.
  fixture v1;
  v1.url("tcp://tak.example:8087?protocol=1&hello=true");
  v1.start(false);
  v1.pump();
  BOOST_REQUIRE_EQUAL(v1.w->pings.size(), 1u);
  BOOST_CHECK(frame_uids(v1.w->pings[0])
              == (std::vector<std::string>{"cotflow-test"}));
  fixture udp;
  udp.url("udp://239.2.3.1:6969");
  udp.cfg.target.hello.reset();
  udp.w->udp = true;
  udp.start(false);
  udp.pump();
  BOOST_CHECK(udp.w->pings.empty());
}

BOOST_AUTO_TEST_CASE(routing_details_go_into_every_event_in_either_protocol) {
  url("tcp://tak.example:8087?dest_callsigns=Alpha|B%20b&dest_groups=Cyan"
      "&dest_missions=ops&archive=true");
  start(false);
  d->take(cot_batch({"a"}));
  pump();
  const std::string extra = R"(<marti><dest callsign="Alpha"/>)"
                            R"(<dest callsign="B%20b"/><dest group="Cyan"/>)"
                            R"(<dest mission="ops"/></marti><archive/>)";
  auto want = cot("a");
  want.insert(want.find("</detail>"), extra);
  BOOST_CHECK_EQUAL(received(), want);

  fixture v1;
  v1.url("tcp://tak.example:8087?protocol=1&dest_missions=ops");
  v1.start(false);
  v1.d->take(v1.cot_batch({"a"}));
  v1.pump();
  auto frames = test::stream_frames(v1.received());
  BOOST_REQUIRE_EQUAL(frames.size(), 1u);
  BOOST_CHECK_EQUAL(frames[0].cotevent().detail().xmldetail(),
                    R"(<marti><dest mission="ops"/></marti>)");
  BOOST_CHECK_EQUAL(frames[0].cotevent().detail().contact().callsign(), "a");
}

BOOST_AUTO_TEST_SUITE_END()
