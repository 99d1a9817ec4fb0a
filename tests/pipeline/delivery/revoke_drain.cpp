#include "pipeline/delivery/revoke_drain.hpp"

#include <boost/test/unit_test.hpp>

#include <map>

using namespace cotflow;
using namespace std::chrono_literals;

namespace {

const auto t0 = revoke_drain::clock::time_point{} + 1h;

/// Records in flight per handle, as the offset tracker would say.
struct flights {
  std::map<uint32_t, size_t> n;
  revoke_drain::in_flight_fn fn() {
    return [this](uint32_t tp) { return n.count(tp) ? n.at(tp) : 0; };
  }
};

} // namespace

BOOST_AUTO_TEST_CASE(a_revoke_with_nothing_in_flight_does_not_wait) {
  revoke_drain d{5s};
  flights f;
  f.n = {{1, 0}, {2, 0}};
  BOOST_CHECK(!d.waits({1, 2}, f.fn()));
  auto s = revoke_drain::at_once({1, 2}, f.fn());
  BOOST_CHECK_EQUAL(s.partitions_drained, 2u);
  BOOST_CHECK_EQUAL(s.partitions_abandoned, 0u);
  BOOST_CHECK_EQUAL(s.records_abandoned, 0u);
}

BOOST_AUTO_TEST_CASE(without_a_bound_a_revoke_never_waits) {
  revoke_drain d{0s};
  flights f;
  f.n = {{1, 7}};
  BOOST_CHECK(!d.waits({1}, f.fn()));
  auto s = revoke_drain::at_once({1}, f.fn());
  BOOST_CHECK_EQUAL(s.partitions_abandoned, 1u);
  BOOST_CHECK_EQUAL(s.records_abandoned, 7u);
}

BOOST_AUTO_TEST_CASE(a_waiting_revoke_completes_once_its_records_are_done) {
  revoke_drain d{5s};
  flights f;
  f.n = {{1, 3}, {2, 0}, {3, 9}};
  BOOST_REQUIRE(d.waits({1, 2}, f.fn()));
  d.start({1, 2}, f.fn(), t0);
  BOOST_CHECK(d.pending());
  BOOST_CHECK(d.holds(1));
  BOOST_CHECK(d.holds(2));
  BOOST_CHECK(!d.holds(3)); // still assigned: handed out as ever
  BOOST_CHECK(!d.due(f.fn(), t0 + 1s));
  f.n[1] = 1;
  BOOST_CHECK(!d.due(f.fn(), t0 + 2s));
  f.n[1] = 0;
  BOOST_CHECK(d.due(f.fn(), t0 + 2s));
  auto s = d.finish(f.fn(), t0 + 2s);
  BOOST_CHECK_EQUAL(s.partitions_drained, 2u);
  BOOST_CHECK_EQUAL(s.partitions_abandoned, 0u);
  BOOST_CHECK_EQUAL(s.records_drained, 3u);
  BOOST_CHECK_EQUAL(s.records_abandoned, 0u);
  BOOST_CHECK(!s.timed_out);
  BOOST_CHECK(s.waited == 2s);
  BOOST_CHECK(!d.pending());
  BOOST_CHECK(!d.holds(1));
  BOOST_CHECK(d.handles().empty());
}

BOOST_AUTO_TEST_CASE(the_bound_hands_over_what_is_still_in_flight) {
  revoke_drain d{5s};
  flights f;
  f.n = {{1, 4}, {2, 6}};
  d.start({1, 2}, f.fn(), t0);
  f.n[1] = 0;
  f.n[2] = 2;
  BOOST_CHECK(!d.due(f.fn(), t0 + 5s - 1ms));
  BOOST_CHECK(d.due(f.fn(), t0 + 5s));
  auto s = d.finish(f.fn(), t0 + 5s);
  BOOST_CHECK_EQUAL(s.partitions_drained, 1u);
  BOOST_CHECK_EQUAL(s.partitions_abandoned, 1u);
  BOOST_CHECK_EQUAL(s.records_drained, 8u);
  BOOST_CHECK_EQUAL(s.records_abandoned, 2u);
  BOOST_CHECK(s.timed_out);
}

BOOST_AUTO_TEST_CASE(a_wait_cut_short_counts_what_it_left) {
  // A shutdown or another rebalance completes the revoke before the bound.
  revoke_drain d{5s};
  flights f;
  f.n = {{4, 5}};
  d.start({4}, f.fn(), t0);
  f.n[4] = 2;
  auto s = d.finish(f.fn(), t0 + 1s);
  BOOST_CHECK_EQUAL(s.records_drained, 3u);
  BOOST_CHECK_EQUAL(s.records_abandoned, 2u);
  BOOST_CHECK_EQUAL(s.partitions_abandoned, 1u);
  BOOST_CHECK(!s.timed_out);
  // Finishing again is a no-op.
  auto again = d.finish(f.fn(), t0 + 2s);
  BOOST_CHECK_EQUAL(again.records_abandoned, 0u);
  BOOST_CHECK_EQUAL(again.partitions_abandoned, 0u);
}
