#include <boost/test/unit_test.hpp>

#include "actors/tak_sink.hpp"
#include "tests/support/actor_fixture.hpp"
#include "tests/support/fake_source.hpp"
#include "tests/support/tak_fakes.hpp"

#include <caf/all.hpp>

#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

// The tak_sink actor's glue on CAF's test coordinator: spawned non-detached
// (production spawns it detached, for its blocking socket) through the
// tak_sink_with seam, with a scripted transport and a fake parking topic in
// place of the socket and Kafka, and its timer on the test clock. What it
// decides is tak_destination's (tests/pipeline/tak/destination.cpp); this
// pins what the actor adds: acknowledgements reach the source, the timer
// drives reconnects and replay, stale ticks are ignored, reloads apply,
// and a failing parking topic ends the actor with an error.

using namespace cotflow;
using namespace std::chrono_literals;
using test::fake_lot;
using test::fake_transport;
using test::wire;

namespace {

constexpr dest_mask bit = 1u << 1;

struct tak_sink_fixture : test::actor_fixture {
  std::shared_ptr<wire> w = std::make_shared<wire>();
  std::shared_ptr<fake_lot> lot = std::make_shared<fake_lot>();
  std::shared_ptr<std::vector<ack>> acks = std::make_shared<std::vector<ack>>();
  std::shared_ptr<destination_stats> counters
    = std::make_shared<destination_stats>();
  std::shared_ptr<stats> pipeline = std::make_shared<stats>();
  std::shared_ptr<config> cfg = std::make_shared<config>(default_config());
  source_actor src;
  cot_sink_actor aut;
  int64_t next_offset = 0;

  tak_sink_fixture() {
    cfg->tak.reconnect_min_ms = 100;
    cfg->tak.reconnect_max_ms = 100;
    cfg->tak.breaker_failures = 2;
    cfg->tak.breaker_open_min_ms = 1000;
    cfg->tak.breaker_open_max_ms = 1000;
    src = spawn(test::ack_keeper, acks);
  }

  /// Spawns the actor under test (with the fake parking topic or none).
  void start(bool parking = true) {
    auto transport = [w = w](const tak_url&) {
      return std::make_unique<fake_transport>(w);
    };
    std::shared_ptr<parking_port> port;
    if (parking)
      port = lot;
    aut = spawn(tak_sink_with, std::string{"tak1"},
                std::string{"tcp://tak.example:8087"},
                std::shared_ptr<const config>{cfg}, bit, src, pipeline,
                counters, port, tak_transport_factory{transport});
    run();
  }

  cot_batch batch(std::vector<std::string> uids) {
    auto evs = std::make_shared<cot_events>();
    for (auto& uid : uids) {
      cot_event ev;
      // Handle 1: an input record's (tp 0 is a sensor event's, no record).
      ev.ref = {1, next_offset++};
      ev.uid = uid;
      ev.type = "a-f-G";
      ev.xml = "<event uid=\"" + uid + "\"/>";
      evs->push_back(std::move(ev));
    }
    return cot_batch{std::move(evs)};
  }

  std::vector<int64_t> acked(dest_mask bits) const {
    std::vector<int64_t> out;
    for (auto& a : *acks)
      if (a.bits == bits)
        for (auto& r : a.refs)
          out.push_back(r.offset);
    return out;
  }

  std::string received() const {
    std::string all;
    for (auto& x : w->writes)
      all += x;
    return all;
  }
};

std::string xml(const std::string& uid) {
  return "<event uid=\"" + uid + "\"/>";
}

using offsets = std::vector<int64_t>;

} // namespace

BOOST_FIXTURE_TEST_SUITE(tak_sink_actor_tests, tak_sink_fixture)

BOOST_AUTO_TEST_CASE(a_batch_is_written_and_acknowledged_to_the_source) {
  start();
  caf::anon_send(aut, batch({"a", "b"}));
  run();
  BOOST_CHECK_EQUAL(w->connects, 1);
  BOOST_CHECK_EQUAL(received(), xml("a") + xml("b"));
  BOOST_CHECK(acked(bit) == (offsets{0, 1}));
  BOOST_CHECK_EQUAL(counters->events, 2u);
}

BOOST_AUTO_TEST_CASE(the_timer_retries_a_refused_connect_after_the_backoff) {
  w->up = false;
  start(false);
  advance(1ms); // the first tick
  caf::anon_send(aut, batch({"a"}));
  run();
  auto tried = w->connects;
  BOOST_CHECK_GE(tried, 1);
  w->up = true;
  advance(40ms); // within the backoff ([50, 100] ms): no attempt
  BOOST_CHECK_EQUAL(w->connects, tried);
  advance(100ms);
  BOOST_CHECK_EQUAL(w->connects, tried + 1);
  BOOST_CHECK_EQUAL(received(), xml("a"));
  BOOST_CHECK(acked(bit) == (offsets{0}));
}

BOOST_AUTO_TEST_CASE(an_open_breaker_parks_and_the_timer_replays) {
  w->up = false;
  cfg->tak.breaker_failures = 1;
  start();
  caf::anon_send(aut, batch({"a", "b"}));
  run(); // the connect fails: the breaker opens
  BOOST_REQUIRE_EQUAL(counters->breaker, 1);
  advance(100ms); // the next tick (the backoff's 100 ms): park
  advance(2ms);   // Kafka confirmed: acknowledged as parked
  BOOST_CHECK(counters->parking);
  BOOST_CHECK(acked(bit | parked_bit) == (offsets{0, 1}));
  BOOST_CHECK(w->writes.empty());
  w->up = true;
  for (int i = 0; i < 20; ++i) // the open wait, 1 s, on the test clock
    advance(100ms);
  BOOST_CHECK_EQUAL(counters->breaker, 0);
  BOOST_CHECK_EQUAL(received(), xml("a") + xml("b"));
  BOOST_CHECK_EQUAL(counters->unparked, 2u);
  BOOST_CHECK(!counters->parking); // caught up: direct delivery again
  BOOST_CHECK(acked(bit).empty()); // replayed events go to the replayer
  BOOST_CHECK_EQUAL(lot->done_refs.size(), 2u);
}

BOOST_AUTO_TEST_CASE(a_reload_lowers_the_queue_bound) {
  w->up = false;
  cfg->tak.breaker_failures = 100;
  start();
  caf::anon_send(aut, batch({"a", "b", "c"}));
  run();
  BOOST_CHECK(!counters->parking);
  auto next = std::make_shared<config>(*cfg);
  next->tak.queue_events = 2;
  next->tak.breaker_probes = 1;
  caf::anon_send(aut, tunables{next});
  run(); // the reload pumps: 3 queued >= 2
  BOOST_CHECK(counters->parking);
  BOOST_CHECK_EQUAL(lot->unconfirmed.size(), 3u);
}

BOOST_AUTO_TEST_CASE(a_stale_tick_does_not_pump_an_idle_destination) {
  start(false);
  advance(1ms);
  auto connects = w->connects;
  // A tick of an older generation: ignored, nothing waits.
  caf::anon_send(aut, atom::poll::value, uint64_t{0});
  run();
  BOOST_CHECK_EQUAL(w->connects, connects);
  BOOST_CHECK(w->writes.empty());
}

BOOST_AUTO_TEST_CASE(a_failing_parking_topic_ends_the_actor_with_an_error) {
  start();
  auto down = std::make_shared<caf::error>();
  // The watcher takes its target as a spawn argument: CAF 0.17.6 spawns a
  // function without arguments through a null std::tuple<> pointer, which
  // UBSan reports (the sanitizer build runs this test).
  auto watch = [](caf::event_based_actor* self, caf::actor target,
                  std::shared_ptr<caf::error> reason) {
    self->monitor(target);
    self->set_down_handler([=](caf::down_msg& m) { *reason = m.reason; });
    return caf::behavior{[](int) {}}; // stays up until told to go
  };
  auto watcher = sys.spawn(watch, caf::actor_cast<caf::actor>(aut), down);
  run();
  lot->broken = "Topic authorization failed";
  caf::anon_send(aut, atom::poll::value);
  run();
  BOOST_CHECK_EQUAL(w->connects, 0); // it stops before connecting
  BOOST_CHECK_MESSAGE(*down == caf::sec::runtime_error,
                      "down: " << sys.render(*down));
  caf::anon_send_exit(watcher, caf::exit_reason::user_shutdown);
  run();
}

BOOST_AUTO_TEST_SUITE_END()
