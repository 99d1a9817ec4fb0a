#include <boost/test/unit_test.hpp>

#include "pipeline/delivery/offset_tracker.hpp"

#include <algorithm>
#include <cstdint>
#include <map>
#include <random>
#include <vector>

using cotflow::all_destinations;
using cotflow::dest_mask;
using cotflow::offset_tracker;
using cotflow::partition_offsets;

BOOST_AUTO_TEST_SUITE(partition)

BOOST_AUTO_TEST_CASE(the_commit_position_is_minus_one_before_any_dispatch) {
  partition_offsets p;
  BOOST_TEST(p.commit_position() == -1);
  BOOST_TEST(p.in_flight() == 0u);
}

BOOST_AUTO_TEST_CASE(an_undelivered_record_is_the_commit_position) {
  partition_offsets p;
  p.dispatched(10, 1);
  BOOST_TEST(p.commit_position() == 10);
  BOOST_TEST(p.in_flight() == 1u);
}

BOOST_AUTO_TEST_CASE(a_contiguous_delivered_prefix_advances_the_position) {
  partition_offsets p;
  for (int64_t o = 0; o < 5; ++o)
    p.dispatched(o, 1);
  BOOST_TEST(p.ack(0, 1));
  BOOST_TEST(p.commit_position() == 1);
  BOOST_TEST(p.ack(1, 1));
  BOOST_TEST(p.ack(2, 1));
  BOOST_TEST(p.commit_position() == 3);
  BOOST_TEST(p.ack(3, 1));
  BOOST_TEST(p.ack(4, 1));
  BOOST_TEST(p.commit_position() == 5);
  BOOST_TEST(p.in_flight() == 0u);
}

BOOST_AUTO_TEST_CASE(out_of_order_acks_never_pass_an_undelivered_record) {
  partition_offsets p;
  for (int64_t o = 100; o < 105; ++o)
    p.dispatched(o, 1);
  BOOST_TEST(p.ack(104, 1));
  BOOST_TEST(p.ack(102, 1));
  BOOST_TEST(p.ack(101, 1));
  BOOST_TEST(p.commit_position() == 100);
  BOOST_TEST(p.in_flight() == 2u);
  BOOST_TEST(p.ack(100, 1));
  BOOST_TEST(p.commit_position() == 103);
  BOOST_TEST(p.ack(103, 1));
  BOOST_TEST(p.commit_position() == 105);
}

BOOST_AUTO_TEST_CASE(gaps_in_offsets_are_skipped) {
  // Compacted topics and transaction markers leave holes in offsets.
  partition_offsets p;
  p.dispatched(3, 1);
  p.dispatched(7, 1);
  p.dispatched(8, 1);
  p.dispatched(20, 1);
  BOOST_TEST(p.commit_position() == 3);
  BOOST_TEST(p.ack(3, 1));
  BOOST_TEST(p.commit_position() == 7);
  BOOST_TEST(p.ack(8, 1));
  BOOST_TEST(p.commit_position() == 7);
  BOOST_TEST(p.ack(7, 1));
  BOOST_TEST(p.commit_position() == 20);
  BOOST_TEST(p.ack(20, 1));
  BOOST_TEST(p.commit_position() == 21);
}

BOOST_AUTO_TEST_CASE(a_record_completes_only_when_every_destination_acked) {
  partition_offsets p;
  const dest_mask three = all_destinations(3);
  BOOST_TEST(three == 0b111u);
  p.dispatched(0, three);
  p.dispatched(1, three);
  BOOST_TEST(!p.ack(0, 0b001));
  BOOST_TEST(!p.ack(0, 0b100));
  BOOST_TEST(p.commit_position() == 0);
  BOOST_TEST(p.in_flight() == 2u);
  BOOST_TEST(p.ack(0, 0b010));
  BOOST_TEST(p.commit_position() == 1);
  BOOST_TEST(!p.ack(1, 0b011));
  BOOST_TEST(p.commit_position() == 1);
  BOOST_TEST(p.ack(1, 0b100));
  BOOST_TEST(p.commit_position() == 2);
}

BOOST_AUTO_TEST_CASE(duplicate_acks_are_harmless) {
  partition_offsets p;
  p.dispatched(0, 0b11);
  p.dispatched(1, 0b11);
  BOOST_TEST(!p.ack(0, 0b01));
  BOOST_TEST(!p.ack(0, 0b01)); // the same destination again
  BOOST_TEST(p.commit_position() == 0);
  BOOST_TEST(p.in_flight() == 2u);
  BOOST_TEST(p.ack(0, 0b10));
  BOOST_TEST(!p.ack(0, 0b10)); // already complete
  BOOST_TEST(!p.ack(0, 0b11));
  BOOST_TEST(p.in_flight() == 1u);
  BOOST_TEST(p.commit_position() == 1);
  // Completed but not yet at the front: a duplicate must not count twice.
  p.dispatched(2, 0b1);
  BOOST_TEST(p.ack(2, 0b1));
  BOOST_TEST(!p.ack(2, 0b1));
  BOOST_TEST(p.in_flight() == 1u);
  BOOST_TEST(p.commit_position() == 1);
}

BOOST_AUTO_TEST_CASE(acks_for_unknown_offsets_are_ignored) {
  partition_offsets p;
  BOOST_TEST(!p.ack(5, 1));
  p.dispatched(10, 1);
  BOOST_TEST(!p.ack(9, 1));
  BOOST_TEST(!p.ack(11, 1));
  BOOST_TEST(p.commit_position() == 10);
  BOOST_TEST(p.in_flight() == 1u);
}

BOOST_AUTO_TEST_CASE(a_dead_letter_ack_with_all_bits_completes_the_record) {
  partition_offsets p;
  const dest_mask all = all_destinations(4);
  p.dispatched(0, all);
  p.dispatched(1, all);
  BOOST_TEST(!p.ack(1, 0b0001)); // one destination took it ...
  BOOST_TEST(p.ack(0, all));     // ... record 0 was dead-lettered
  BOOST_TEST(p.ack(1, all));     // ... and record 1 too
  BOOST_TEST(p.commit_position() == 2);
  BOOST_TEST(p.in_flight() == 0u);
  BOOST_TEST(all_destinations(32) == ~dest_mask{0});
  BOOST_TEST(all_destinations(1) == 1u);
}

BOOST_AUTO_TEST_CASE(a_redelivered_offset_is_not_tracked_twice) {
  partition_offsets p;
  p.dispatched(0, 1);
  p.dispatched(1, 1);
  p.dispatched(1, 1);
  BOOST_TEST(p.in_flight() == 2u);
  BOOST_TEST(p.ack(0, 1));
  BOOST_TEST(p.ack(1, 1));
  BOOST_TEST(p.commit_position() == 2);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(tracker)

BOOST_AUTO_TEST_CASE(an_assigned_partition_has_a_handle) {
  offset_tracker t;
  auto a = t.assign("detections", 0);
  auto b = t.assign("detections", 1);
  auto c = t.assign("other", 0);
  BOOST_TEST(a != 0u);
  BOOST_TEST(a != b);
  BOOST_TEST(b != c);
  BOOST_TEST(t.handle("detections", 0) == a);
  BOOST_TEST(t.handle("detections", 1) == b);
  BOOST_TEST(t.handle("other", 0) == c);
  BOOST_TEST(t.handle("detections", 2) == 0u);
  auto hs = t.handles();
  std::sort(hs.begin(), hs.end());
  std::vector<uint32_t> expected{a, b, c};
  std::sort(expected.begin(), expected.end());
  BOOST_TEST(hs == expected, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_partition_assigned_at_a_start_offset_commits_it) {
  // Re-assigned after a lost assignment: this instance knows offsets up to
  // 120 were delivered, the group's commit did not get there.
  offset_tracker t;
  auto tp = t.assign("detections", 0, 120);
  auto due = t.due();
  BOOST_REQUIRE_EQUAL(due.size(), 1u);
  BOOST_TEST(due[0].offset == 120);
  BOOST_TEST(t.next(tp) == 120);
  t.committed(tp, 120);
  BOOST_TEST(t.due().empty());
  // Records from there on are tracked as usual.
  BOOST_TEST(t.dispatched(tp, 120, 1));
  BOOST_TEST(t.due().empty());
  BOOST_TEST(t.ack(tp, 120, 1));
  BOOST_REQUIRE_EQUAL(t.due().size(), 1u);
  BOOST_TEST(t.due()[0].offset == 121);
  // Without a start nothing is due before a dispatch.
  offset_tracker u;
  u.assign("detections", 0);
  BOOST_TEST(u.due().empty());
}

BOOST_AUTO_TEST_CASE(dispatch_on_an_unknown_handle_is_refused) {
  offset_tracker t;
  BOOST_TEST(!t.dispatched(42, 0, 1));
  BOOST_TEST(!t.ack(42, 0, 1));
  BOOST_TEST(t.in_flight() == 0u);
}

BOOST_AUTO_TEST_CASE(nothing_is_due_before_any_dispatch) {
  offset_tracker t;
  auto tp = t.assign("detections", 0);
  BOOST_TEST(t.due().empty());
  BOOST_TEST(t.due(tp).empty());
}

BOOST_AUTO_TEST_CASE(due_reports_the_first_offset_still_owed) {
  offset_tracker t;
  auto tp = t.assign("detections", 3);
  BOOST_TEST(t.dispatched(tp, 50, 1));
  BOOST_TEST(t.dispatched(tp, 51, 1));
  BOOST_TEST(t.ack(tp, 51, 1));
  auto due = t.due();
  BOOST_TEST_REQUIRE(due.size() == 1u);
  BOOST_TEST(due[0].tp == tp);
  BOOST_TEST(due[0].topic == "detections");
  BOOST_TEST(due[0].partition == 3);
  BOOST_TEST(due[0].offset == 50);
  BOOST_TEST(t.ack(tp, 50, 1));
  due = t.due();
  BOOST_TEST_REQUIRE(due.size() == 1u);
  BOOST_TEST(due[0].offset == 52);
}

BOOST_AUTO_TEST_CASE(due_reports_only_positions_that_moved) {
  offset_tracker t;
  auto a = t.assign("detections", 0);
  auto b = t.assign("detections", 1);
  t.dispatched(a, 0, 1);
  t.dispatched(b, 0, 1);
  t.ack(a, 0, 1);
  t.ack(b, 0, 1);
  BOOST_TEST(t.due().size() == 2u);
  t.committed(a, 1);
  auto due = t.due();
  BOOST_TEST_REQUIRE(due.size() == 1u);
  BOOST_TEST(due[0].tp == b);
  BOOST_TEST(due[0].offset == 1);
  t.committed(b, 1);
  BOOST_TEST(t.due().empty());
  // A dispatch without an ack does not move the position.
  t.dispatched(a, 1, 1);
  BOOST_TEST(t.due().empty());
  t.ack(a, 1, 1);
  due = t.due();
  BOOST_TEST_REQUIRE(due.size() == 1u);
  BOOST_TEST(due[0].tp == a);
  BOOST_TEST(due[0].offset == 2);
}

BOOST_AUTO_TEST_CASE(committed_never_moves_backwards) {
  offset_tracker t;
  auto tp = t.assign("detections", 0);
  for (int64_t o = 0; o < 10; ++o) {
    t.dispatched(tp, o, 1);
    t.ack(tp, o, 1);
  }
  t.committed(tp, 10);
  t.committed(tp, 4); // a late commit callback for an older position
  BOOST_TEST(t.due().empty());
  BOOST_TEST(t.due(tp).empty());
}

BOOST_AUTO_TEST_CASE(due_for_one_handle_reports_only_that_partition) {
  offset_tracker t;
  auto a = t.assign("detections", 0);
  auto b = t.assign("detections", 1);
  t.dispatched(a, 5, 1);
  t.ack(a, 5, 1);
  t.dispatched(b, 9, 1);
  t.ack(b, 9, 1);
  auto due = t.due(b);
  BOOST_TEST_REQUIRE(due.size() == 1u);
  BOOST_TEST(due[0].tp == b);
  BOOST_TEST(due[0].partition == 1);
  BOOST_TEST(due[0].offset == 10);
  BOOST_TEST(t.due(12345).empty());
}

BOOST_AUTO_TEST_CASE(in_flight_counts_every_partition) {
  offset_tracker t;
  auto a = t.assign("detections", 0);
  auto b = t.assign("detections", 1);
  t.dispatched(a, 0, 1);
  t.dispatched(a, 1, 1);
  t.dispatched(b, 0, 0b11);
  BOOST_TEST(t.in_flight() == 3u);
  t.ack(b, 0, 0b01);
  BOOST_TEST(t.in_flight() == 3u);
  t.ack(b, 0, 0b10);
  BOOST_TEST(t.in_flight() == 2u);
}

BOOST_AUTO_TEST_CASE(revoke_returns_the_in_flight_count_and_forgets) {
  offset_tracker t;
  auto tp = t.assign("detections", 0);
  for (int64_t o = 0; o < 5; ++o)
    t.dispatched(tp, o, 1);
  t.ack(tp, 1, 1);
  BOOST_TEST(t.revoke(tp) == 4u);
  BOOST_TEST(t.handle("detections", 0) == 0u);
  BOOST_TEST(t.in_flight() == 0u);
  BOOST_TEST(t.handles().empty());
  BOOST_TEST(t.revoke(tp) == 0u); // twice is harmless
}

BOOST_AUTO_TEST_CASE(a_revoked_partition_is_never_committed) {
  offset_tracker t;
  auto tp = t.assign("detections", 0);
  t.dispatched(tp, 0, 1);
  t.dispatched(tp, 1, 1);
  t.revoke(tp);
  // Late acknowledgements for the revoked handle are ignored.
  BOOST_TEST(!t.ack(tp, 0, 1));
  BOOST_TEST(!t.ack(tp, 1, 1));
  BOOST_TEST(!t.dispatched(tp, 2, 1));
  BOOST_TEST(t.due().empty());
  BOOST_TEST(t.due(tp).empty());
}

BOOST_AUTO_TEST_CASE(reassignment_gets_a_new_handle_untouched_by_old_acks) {
  offset_tracker t;
  auto old_tp = t.assign("detections", 0);
  t.dispatched(old_tp, 0, 1);
  t.dispatched(old_tp, 1, 1);
  BOOST_TEST(t.revoke(old_tp) == 2u);
  auto new_tp = t.assign("detections", 0);
  BOOST_TEST(new_tp != old_tp);
  BOOST_TEST(t.handle("detections", 0) == new_tp);
  // The new owner re-reads from the last commit.
  t.dispatched(new_tp, 0, 1);
  t.dispatched(new_tp, 1, 1);
  BOOST_TEST(!t.ack(old_tp, 0, 1)); // late ack of the old assignment
  BOOST_TEST(t.in_flight() == 2u);
  auto due = t.due();
  BOOST_TEST_REQUIRE(due.size() == 1u);
  BOOST_TEST(due[0].tp == new_tp);
  BOOST_TEST(due[0].offset == 0);
  BOOST_TEST(t.ack(new_tp, 0, 1));
  due = t.due();
  BOOST_TEST_REQUIRE(due.size() == 1u);
  BOOST_TEST(due[0].offset == 1);
  // Committing for the old handle touches nothing.
  t.committed(old_tp, 1);
  BOOST_TEST(t.due().size() == 1u);
}

BOOST_AUTO_TEST_CASE(handles_are_never_reused) {
  offset_tracker t;
  std::vector<uint32_t> seen;
  for (int i = 0; i < 100; ++i) {
    auto tp = t.assign("detections", i % 3);
    BOOST_TEST(std::count(seen.begin(), seen.end(), tp) == 0);
    seen.push_back(tp);
    t.revoke(tp);
  }
}

BOOST_AUTO_TEST_CASE(random_acks_match_a_simple_model) {
  // The model: a set of owed bits per offset; the commit position is the
  // smallest offset with bits left, else one past the last dispatched.
  std::mt19937 rng{20261126};
  for (int round = 0; round < 200; ++round) {
    partition_offsets p;
    std::map<int64_t, dest_mask> owed;
    int64_t next = -1;
    int64_t offset = static_cast<int64_t>(rng() % 1000);
    const unsigned dests = 1 + rng() % 4;
    const dest_mask all = all_destinations(dests);
    auto model_position = [&] {
      for (auto& [o, bits] : owed)
        if (bits != 0)
          return o;
      return next;
    };
    auto model_in_flight = [&] {
      return static_cast<size_t>(std::count_if(
        owed.begin(), owed.end(), [](auto& kv) { return kv.second != 0; }));
    };
    for (int step = 0; step < 300; ++step) {
      auto action = rng() % 10;
      if (action < 4) {
        offset += 1 + (rng() % 4 == 0 ? rng() % 5 : 0); // sometimes a gap
        p.dispatched(offset, all);
        owed[offset] = all;
        next = offset + 1;
      } else if (!owed.empty()) {
        // Ack a random known offset (maybe complete already) with random
        // bits, sometimes all bits (dead letter), sometimes an unknown one.
        auto it = owed.begin();
        std::advance(it, rng() % owed.size());
        int64_t o = rng() % 20 == 0 ? offset + 100 : it->first;
        dest_mask bits = rng() % 5 == 0 ? all : dest_mask{1} << (rng() % dests);
        bool model_completed = false;
        if (auto m = owed.find(o); m != owed.end() && m->second != 0) {
          m->second &= ~bits;
          model_completed = m->second == 0;
        }
        BOOST_TEST_REQUIRE(p.ack(o, bits) == model_completed);
      }
      BOOST_TEST_REQUIRE(p.commit_position() == model_position());
      BOOST_TEST_REQUIRE(p.in_flight() == model_in_flight());
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(credit_and_resets)

BOOST_AUTO_TEST_CASE(records_behind_a_stuck_one_count_against_the_span) {
  cotflow::offset_tracker t;
  auto tp = t.assign("in", 0);
  for (int64_t o = 0; o < 100; ++o)
    t.dispatched(tp, o, 1);
  for (int64_t o = 1; o < 100; ++o)
    t.ack(tp, o, 1);
  // One record is owed; the 99 after it are done but wait behind it.
  BOOST_TEST(t.in_flight() == 1u);
  BOOST_TEST(t.span() == 100u);
  t.ack(tp, 0, 1);
  BOOST_TEST(t.span() == 0u);
}

BOOST_AUTO_TEST_CASE(a_reset_partition_starts_over_and_ignores_old_acks) {
  cotflow::offset_tracker t;
  auto tp = t.assign("in", 3);
  t.dispatched(tp, 500, 1);
  BOOST_TEST(t.next(tp) == 501);
  auto fresh = t.reset(tp);
  BOOST_TEST(fresh != tp);
  BOOST_TEST(t.handle("in", 3) == fresh);
  BOOST_TEST(!t.ack(tp, 500, 1));
  t.dispatched(fresh, 0, 1);
  BOOST_TEST(t.due().size() == 1u);
  BOOST_TEST(t.due()[0].offset == 0);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_CASE(a_record_a_destination_parked_completes_as_parked) {
  cotflow::partition_offsets p;
  auto all = cotflow::all_destinations(2);
  p.dispatched(0, all);
  p.dispatched(1, all);
  cotflow::dest_mask marks = cotflow::outcome_bits;
  // Offset 0: delivered by both.
  BOOST_TEST(!p.ack(0, 1, &marks));
  BOOST_TEST(p.ack(0, 2, &marks));
  BOOST_TEST(marks == 0u);
  // Offset 1: destination 2 parked it, then destination 1 delivered it.
  BOOST_TEST(!p.ack(1, 2 | cotflow::parked_bit, &marks));
  BOOST_TEST(p.in_flight() == 1u);
  BOOST_TEST(p.commit_position() == 1);
  BOOST_TEST(p.ack(1, 1, &marks));
  BOOST_TEST(marks == cotflow::parked_bit);
  BOOST_TEST(p.commit_position() == 2);
  // A late duplicate changes nothing.
  BOOST_TEST(!p.ack(1, 2 | cotflow::parked_bit, &marks));
  BOOST_TEST(p.in_flight() == 0u);
}

BOOST_AUTO_TEST_CASE(a_record_a_destination_dropped_completes_as_dropped) {
  cotflow::partition_offsets p;
  auto all = cotflow::all_destinations(2);
  p.dispatched(0, all);
  p.dispatched(1, all);
  cotflow::dest_mask marks = 0;
  // Offset 0: destination 1 dropped it (stale by its write), destination
  // 2 delivered it: done, and committed, but not delivered everywhere.
  BOOST_TEST(!p.ack(0, 1 | cotflow::dropped_bit, &marks));
  BOOST_TEST(p.ack(0, 2, &marks));
  BOOST_TEST(marks == cotflow::dropped_bit);
  BOOST_TEST(p.commit_position() == 1);
  // Offset 1: parked by one destination, dropped by the other.
  BOOST_TEST(!p.ack(1, 2 | cotflow::parked_bit, &marks));
  BOOST_TEST(p.ack(1, 1 | cotflow::dropped_bit, &marks));
  BOOST_TEST(marks == cotflow::outcome_bits);
  BOOST_TEST(p.in_flight() == 0u);
}
