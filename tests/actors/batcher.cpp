#include <boost/test/unit_test.hpp>

#include "actors/batcher.hpp"
#include "tests/support/actor_fixture.hpp"

#include <caf/all.hpp>

#include <chrono>
#include <memory>
#include <vector>

// The batcher actor on CAF's test coordinator, its age timer on the test
// clock: batches leave when full, when the source has nothing more ready,
// when their age timer fires, on a shutdown flush; limits change on reload.

using namespace cotflow;
using namespace std::chrono_literals;

namespace {

/// Stands in for the dispatcher: keeps each batch it receives.
dispatcher_actor::behavior_type
fake_dispatcher(dispatcher_actor::pointer,
                std::shared_ptr<std::vector<batch>> got) {
  return {
    [=](batch& b) { got->push_back(std::move(b)); },
    [](atom::done, uint64_t, uint64_t) {},
    [](atom::restart, uint64_t) {},
  };
}

/// Records with the offsets [from, to) of partition 0.
record_chunk chunk(int64_t from, int64_t to, bool drained = false) {
  record_chunk c;
  for (auto offset = from; offset < to; ++offset) {
    record r;
    r.ref = {1, offset};
    r.payload = "record " + std::to_string(offset);
    c.records.push_back(std::move(r));
  }
  c.drained = drained;
  return c;
}

std::vector<int64_t> offsets(const batch& b) {
  std::vector<int64_t> out;
  for (auto& r : b.records)
    out.push_back(r.ref.offset);
  return out;
}

/// A reload to batches of `size` records or `age_ms`.
tunables reload_to(int64_t size, int64_t age_ms) {
  auto c = std::make_shared<config>(default_config());
  c->pipeline.batch_size = size;
  c->pipeline.batch_age_ms = age_ms;
  return {std::move(c)};
}

std::vector<int64_t> range(int64_t from, int64_t to) {
  std::vector<int64_t> out;
  for (auto offset = from; offset < to; ++offset)
    out.push_back(offset);
  return out;
}

/// A batcher of batches of `size` records or `age_ms` in front of a fake
/// dispatcher.
struct batcher_fixture : test::actor_fixture {
  // Shared with the fake dispatcher, which outlives the fixture's members.
  std::shared_ptr<std::vector<batch>> sent_
    = std::make_shared<std::vector<batch>>();
  std::vector<batch>& sent = *sent_;
  std::shared_ptr<stats> st = std::make_shared<stats>();
  dispatcher_actor next = spawn(fake_dispatcher, sent_);
  batcher_actor aut;

  void start(int64_t size, int64_t age_ms) {
    pipeline_config cfg;
    cfg.batch_size = size;
    cfg.batch_age_ms = age_ms;
    aut = spawn(batcher, cfg, next, st);
    run();
  }

  void send(record_chunk c) {
    caf::anon_send(aut, std::move(c));
    run();
  }
};

} // namespace

BOOST_FIXTURE_TEST_SUITE(batcher_actor_tests, batcher_fixture)

BOOST_AUTO_TEST_CASE(a_full_batch_leaves_at_once) {
  start(3, 1000);
  send(chunk(0, 2));
  BOOST_TEST(sent.empty());
  send(chunk(2, 3));
  BOOST_TEST_REQUIRE(sent.size() == 1u);
  BOOST_TEST(offsets(sent[0]) == range(0, 3), boost::test_tools::per_element());
  BOOST_TEST(st->batches.load() == 1u);
}

BOOST_AUTO_TEST_CASE(a_chunk_larger_than_a_batch_leaves_as_full_batches) {
  start(3, 1000);
  send(chunk(0, 7));
  BOOST_TEST_REQUIRE(sent.size() == 2u);
  BOOST_TEST(offsets(sent[0]) == range(0, 3), boost::test_tools::per_element());
  BOOST_TEST(offsets(sent[1]) == range(3, 6), boost::test_tools::per_element());
  // The seventh record waits for more or for its age.
  advance(1000ms);
  BOOST_TEST_REQUIRE(sent.size() == 3u);
  BOOST_TEST(offsets(sent[2]) == range(6, 7), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_drained_chunk_flushes_the_open_batch) {
  start(10, 1000);
  send(chunk(0, 2));
  BOOST_TEST(sent.empty());
  send(chunk(2, 4, true));
  BOOST_TEST_REQUIRE(sent.size() == 1u);
  BOOST_TEST(offsets(sent[0]) == range(0, 4), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_partial_batch_leaves_when_its_age_timer_fires) {
  start(10, 200);
  send(chunk(0, 2));
  BOOST_TEST(sent.empty());
  BOOST_TEST(sched.has_pending_timeout());
  advance(199ms);
  BOOST_TEST(sent.empty());
  BOOST_TEST(advance(1ms) == 1u);
  BOOST_TEST_REQUIRE(sent.size() == 1u);
  BOOST_TEST(offsets(sent[0]) == range(0, 2), boost::test_tools::per_element());
  // Nothing left to time.
  BOOST_TEST(!sched.has_pending_timeout());
}

BOOST_AUTO_TEST_CASE(records_added_to_an_open_batch_keep_its_first_timer) {
  start(10, 200);
  send(chunk(0, 1));
  advance(150ms);
  send(chunk(1, 2));
  // One timer only, set by the batch's first record.
  advance(50ms);
  BOOST_TEST_REQUIRE(sent.size() == 1u);
  BOOST_TEST(offsets(sent[0]) == range(0, 2), boost::test_tools::per_element());
  BOOST_TEST(!sched.has_pending_timeout());
}

BOOST_AUTO_TEST_CASE(a_stale_age_timer_leaves_the_next_batch_alone) {
  start(3, 200);
  // Generation 0 opens at +0 ms, its timer due at +200 ms.
  send(chunk(0, 2));
  advance(100ms);
  // Generation 0 fills up and leaves; generation 1 opens at +100 ms with one
  // record, its own timer due at +300 ms.
  send(chunk(2, 4));
  BOOST_TEST_REQUIRE(sent.size() == 1u);
  // The timer of generation 0 fires and must not take generation 1's
  // record early.
  BOOST_TEST(advance(100ms) == 1u);
  BOOST_TEST(sent.size() == 1u);
  advance(99ms);
  BOOST_TEST(sent.size() == 1u);
  BOOST_TEST(advance(1ms) == 1u);
  BOOST_TEST_REQUIRE(sent.size() == 2u);
  BOOST_TEST(offsets(sent[1]) == range(3, 4), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_flush_without_generation_empties_the_open_batch) {
  start(10, 1000);
  send(chunk(0, 3));
  caf::anon_send(aut, atom::flush::value);
  run();
  BOOST_TEST_REQUIRE(sent.size() == 1u);
  BOOST_TEST(offsets(sent[0]) == range(0, 3), boost::test_tools::per_element());
  // An empty batch never leaves.
  caf::anon_send(aut, atom::flush::value);
  run();
  BOOST_TEST(sent.size() == 1u);
}

BOOST_AUTO_TEST_CASE(tunables_lower_the_size_and_the_age) {
  start(10, 1000);
  send(chunk(0, 4));
  BOOST_TEST(sent.empty());
  caf::anon_send(aut, reload_to(4, 50));
  run();
  // A batch already at the new size leaves at once.
  BOOST_TEST_REQUIRE(sent.size() == 1u);
  BOOST_TEST(offsets(sent[0]) == range(0, 4), boost::test_tools::per_element());
  // The next batches are full at 4 records.
  send(chunk(4, 8));
  BOOST_TEST_REQUIRE(sent.size() == 2u);
  BOOST_TEST(offsets(sent[1]) == range(4, 8), boost::test_tools::per_element());
  // And a partial one leaves at the new age.
  send(chunk(8, 9));
  advance(49ms);
  BOOST_TEST(sent.size() == 2u);
  advance(1ms);
  BOOST_TEST_REQUIRE(sent.size() == 3u);
  BOOST_TEST(offsets(sent[2]) == range(8, 9), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(tunables_raise_the_size) {
  start(2, 1000);
  caf::anon_send(aut, reload_to(5, 1000));
  run();
  send(chunk(0, 4));
  BOOST_TEST(sent.empty());
  send(chunk(4, 5));
  BOOST_TEST_REQUIRE(sent.size() == 1u);
  BOOST_TEST(offsets(sent[0]) == range(0, 5), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_SUITE_END()
