#include "pipeline/delivery/credit.hpp"

#include <boost/test/unit_test.hpp>

using namespace cotflow;
using namespace std::chrono_literals;
using step = credit_gate::step;

namespace {

const auto t0 = credit_gate::clock::time_point{} + 1h;

} // namespace

BOOST_AUTO_TEST_CASE(below_the_bound_the_source_takes_what_credit_allows) {
  credit_gate gate{1000, 500ms};
  auto s = gate.decide(0, false, t0);
  BOOST_CHECK(s.action == step::take);
  BOOST_CHECK_EQUAL(s.room, 1000u);
  BOOST_CHECK(!s.pause);
  BOOST_CHECK_EQUAL(gate.decide(990, false, t0).room, 10u);
}

BOOST_AUTO_TEST_CASE(one_round_takes_at_most_max_per_round) {
  credit_gate gate{100000, 500ms};
  BOOST_CHECK_EQUAL(gate.decide(0, false, t0).room,
                    static_cast<size_t>(credit_gate::max_per_round));
}

BOOST_AUTO_TEST_CASE(at_the_bound_the_source_waits_before_pausing) {
  credit_gate gate{100, 500ms};
  auto s = gate.decide(100, false, t0);
  BOOST_CHECK(s.action == step::retry_soon);
  BOOST_CHECK(!s.pause);
  // Still within pause_after of the first round at the bound.
  BOOST_CHECK(gate.decide(120, false, t0 + 499ms).action == step::retry_soon);
}

BOOST_AUTO_TEST_CASE(a_bound_held_for_pause_after_pauses_the_partitions) {
  credit_gate gate{100, 500ms};
  gate.decide(100, false, t0);
  auto s = gate.decide(100, false, t0 + 500ms);
  BOOST_CHECK(s.action == step::idle);
  BOOST_REQUIRE(s.pause);
  BOOST_CHECK(*s.pause);
  // Paused, the source serves the consumer without taking records.
  s = gate.decide(100, true, t0 + 600ms);
  BOOST_CHECK(s.action == step::idle);
  BOOST_CHECK(!s.pause);
}

BOOST_AUTO_TEST_CASE(credit_returning_in_time_resets_the_wait) {
  credit_gate gate{100, 500ms};
  gate.decide(100, false, t0);
  BOOST_CHECK(gate.decide(50, false, t0 + 300ms).action == step::take);
  // The bound again: the wait starts over rather than counting from t0.
  BOOST_CHECK(gate.decide(100, false, t0 + 600ms).action == step::retry_soon);
  BOOST_CHECK(gate.decide(100, false, t0 + 1099ms).action == step::retry_soon);
  BOOST_CHECK(gate.decide(100, false, t0 + 1100ms).pause.value_or(false));
}

BOOST_AUTO_TEST_CASE(paused_partitions_resume_at_half_the_bound) {
  credit_gate gate{100, 500ms};
  auto s = gate.decide(51, true, t0);
  BOOST_CHECK(s.action == step::idle);
  BOOST_CHECK(!s.pause);
  s = gate.decide(50, true, t0 + 1ms);
  BOOST_REQUIRE(s.pause);
  BOOST_CHECK(!*s.pause);
  BOOST_CHECK(s.action == step::take);
  BOOST_CHECK_EQUAL(s.room, 50u);
}

BOOST_AUTO_TEST_CASE(a_new_limit_applies_from_the_next_round) {
  credit_gate gate{100, 500ms};
  BOOST_CHECK(gate.decide(100, false, t0).action == step::retry_soon);
  gate.limit(200);
  BOOST_CHECK_EQUAL(gate.limit(), 200);
  auto s = gate.decide(100, false, t0 + 1ms);
  BOOST_CHECK(s.action == step::take);
  BOOST_CHECK_EQUAL(s.room, 100u);
  gate.limit(10);
  BOOST_CHECK(gate.decide(100, false, t0 + 2ms).action == step::retry_soon);
}
