// What the parking topic's owner decides without Kafka: whose a replayed
// event is (replayed_flags) and where each parking partition ends
// (parked_high_water).
#include <boost/test/unit_test.hpp>

#include "pipeline/tak/parking.hpp"

using namespace cotflow;

BOOST_AUTO_TEST_SUITE(parking_lot_books)

BOOST_AUTO_TEST_CASE(only_this_runs_events_count_as_its_replays) {
  auto mine = replayed_flags(std::string_view{"run-a"}, false, "run-a");
  BOOST_TEST(mine == parking_port::replay_flag);
  // An earlier run's, another instance's, or parked before the header.
  auto earlier = replayed_flags(std::string_view{"run-b"}, false, "run-a");
  BOOST_TEST(earlier
             == (parking_port::replay_flag | parking_port::inherited_flag));
  BOOST_TEST(replayed_flags(std::nullopt, false, "run-a") == earlier);
  // A sensor event is no record, whoever parked it.
  auto sensor = parking_port::replay_flag | parking_port::sensor_flag;
  BOOST_TEST(replayed_flags(std::string_view{"run-a"}, true, "run-a")
             == sensor);
  BOOST_TEST(replayed_flags(std::string_view{"run-b"}, true, "run-a")
             == sensor);
  // A partition handle never reaches the flags.
  BOOST_TEST((parking_port::replay_flags & 0xffffu) == 0u);
}

BOOST_AUTO_TEST_CASE(what_was_parked_raises_a_frozen_watermark) {
  parked_high_water h;
  BOOST_TEST(h.end(0, 7) == 7); // nothing parked here: the watermark
  h.parked(0, 9);
  h.parked(0, 10);
  BOOST_TEST(h.end(0, 4) == 11); // the replayer saw up to 4 only
  BOOST_TEST(h.end(1, 4) == 4);  // another partition
}

BOOST_AUTO_TEST_CASE(a_recreated_parking_topic_lowers_the_high_water) {
  parked_high_water h;
  h.parked(0, 999);
  BOOST_TEST(h.end(0, 0) == 1000);
  // The topic was deleted and created again: offsets start over.
  h.parked(0, 4);
  BOOST_TEST(h.end(0, 0) == 5);
}

BOOST_AUTO_TEST_CASE(once_the_watermark_caught_up_it_alone_counts) {
  parked_high_water h;
  h.parked(0, 999);
  BOOST_TEST(h.end(0, 1000) == 1000);
  // Recreated with nothing parked since: the old high water is gone.
  BOOST_TEST(h.end(0, 0) == 0);
}

BOOST_AUTO_TEST_SUITE_END()
