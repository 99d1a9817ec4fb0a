// The record and parking figures every view shows (count_records,
// parking_counts): their arithmetic on hand-set counters.
#include <boost/test/unit_test.hpp>

#include "pipeline/core/counts.hpp"

using namespace cotflow;

namespace {

/// A pipeline with one Kafka and one TAK destination.
struct fixture {
  stats st;
  std::shared_ptr<destination_stats> kafka
    = std::make_shared<destination_stats>();
  std::shared_ptr<destination_stats> tak
    = std::make_shared<destination_stats>();

  fixture() {
    st.destinations = {kafka, tak};
  }

  /// `n` records consumed and acknowledged by every destination.
  void complete(uint64_t n) {
    st.consumed += n;
    st.completed += n;
  }
};

/// in = delivered + waiting + dropped + dead_lettered + in_flight, and
/// out = delivered + waiting + dropped_in_parking + dropped_at_destination.
void check_identities(const record_counts& r) {
  BOOST_TEST(r.in
             == r.delivered + r.waiting + r.dropped + r.dead_lettered
                  + static_cast<uint64_t>(r.in_flight));
  BOOST_TEST(r.out
             == r.delivered + r.waiting + r.dropped_in_parking
                  + r.dropped_at_destination);
  BOOST_TEST(r.dropped
             == r.dropped_filter + r.dropped_in_parking
                  + r.dropped_at_destination);
}

} // namespace

BOOST_FIXTURE_TEST_SUITE(counts, fixture)

BOOST_AUTO_TEST_CASE(waiting_is_parked_less_what_left_the_parking_topic) {
  parking_counts p;
  p.parked = 100;
  p.replayed = 60;
  p.dropped = 5;
  p.lost = 3;
  BOOST_TEST(p.waiting() == 32u);
  BOOST_TEST(p.gone() == 8u);
  // Retention deleted an earlier run's events as well (they are lost for
  // the destination, whoever parked them): never below 0.
  p.lost = 200;
  BOOST_TEST(p.waiting() == 0u);
}

BOOST_AUTO_TEST_CASE(the_parking_counters_of_a_destination_add_up) {
  tak->parked = 20;
  tak->unparked = 9;
  tak->parked_stale = 3;
  tak->parked_dropped_at_write = 1;
  tak->parked_lost = 4;
  auto p = parking_of(*tak);
  BOOST_TEST(p.replayed == 9u);
  BOOST_TEST(p.dropped == 4u);
  BOOST_TEST(p.lost == 4u);
  BOOST_TEST(p.waiting() == 3u);
  BOOST_TEST(parking_of(*kafka).waiting() == 0u);
}

BOOST_AUTO_TEST_CASE(a_record_parked_for_one_destination_is_out_not_lost) {
  // 100 records: the Kafka destination wrote them all, the TAK one parked
  // 40 of them during an outage; 2 dead-lettered, 3 dropped as stale.
  complete(100);
  st.dead_lettered = 2;
  st.dropped_stale = 3;
  st.parked = 40;
  tak->parked = 40;
  auto r = count_records(st);
  BOOST_TEST(r.in == 100u);
  BOOST_TEST(r.out == 95u);
  BOOST_TEST(r.waiting == 40u);
  BOOST_TEST(r.delivered == 55u);
  BOOST_TEST(r.parked == 40u);
  BOOST_TEST(r.dropped == 3u);
  check_identities(r);
  // The destination is back: 30 replayed, 2 stale by their replay.
  tak->unparked = 30;
  tak->parked_stale = 2;
  r = count_records(st);
  BOOST_TEST(r.waiting == 8u);
  BOOST_TEST(r.replayed == 30u);
  BOOST_TEST(r.delivered == 85u);
  BOOST_TEST(r.dropped_in_parking == 2u);
  BOOST_TEST(r.dropped == 5u);
  BOOST_TEST(r.parked == 40u); // a flow: it does not go down
  check_identities(r);
  tak->unparked = 38;
  r = count_records(st);
  BOOST_TEST(r.waiting == 0u);
  BOOST_TEST(r.delivered == 93u);
  check_identities(r);
}

BOOST_AUTO_TEST_CASE(a_record_a_destination_dropped_is_dropped_not_delivered) {
  // 10 records: the TAK destination dropped 2 at their write (stale by
  // then, or not encodable for it); the source counted them so.
  complete(10);
  st.dropped_at_destination = 2;
  tak->stale_at_write = 1;
  tak->unencodable = 1;
  auto r = count_records(st);
  BOOST_TEST(r.out == 10u);
  BOOST_TEST(r.delivered == 8u);
  BOOST_TEST(r.dropped_at_destination == 2u);
  BOOST_TEST(r.dropped == 2u);
  BOOST_TEST(r.waiting == 0u);
  check_identities(r);
}

BOOST_AUTO_TEST_CASE(records_in_flight_are_in_no_other_figure) {
  st.consumed = 30;
  st.completed = 20;
  st.in_flight = 10;
  auto r = count_records(st);
  BOOST_TEST(r.out == 20u);
  BOOST_TEST(r.delivered == 20u);
  check_identities(r);
}

BOOST_AUTO_TEST_CASE(delivered_never_goes_down) {
  complete(50);
  BOOST_TEST(count_records(st).delivered == 50u);
  // A destination counts an event parked before the source counts its
  // record complete: for a moment the event waits and its record is not
  // out yet. Delivered keeps what it was.
  tak->parked = 1;
  auto r = count_records(st);
  BOOST_TEST(r.waiting == 1u);
  BOOST_TEST(r.delivered == 50u);
  st.consumed += 1;
  st.completed += 1;
  st.parked = 1;
  r = count_records(st);
  BOOST_TEST(r.out == 51u);
  BOOST_TEST(r.delivered == 50u);
  check_identities(r);
}

BOOST_AUTO_TEST_CASE(waiting_never_exceeds_what_is_out) {
  complete(5);
  tak->parked = 9; // parked, their records not yet acknowledged
  auto r = count_records(st);
  BOOST_TEST(r.waiting == 5u);
  BOOST_TEST(r.delivered == 0u);
  check_identities(r);
}

BOOST_AUTO_TEST_SUITE_END()
