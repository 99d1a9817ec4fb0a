#include <boost/test/unit_test.hpp>

#include "pipeline/delivery/batching.hpp"

#include <chrono>
#include <memory>
#include <string>
#include <vector>

using namespace std::chrono_literals;
using builder = cotflow::batch_builder<int>;
using clock_type = builder::clock;

namespace {

// A fixed origin; tests move time explicitly and never sleep.
const clock_type::time_point t0 = clock_type::time_point{} + 1000h;

} // namespace

BOOST_AUTO_TEST_CASE(a_new_builder_is_empty_and_never_due) {
  builder b{3, 100ms};
  BOOST_TEST(b.empty());
  BOOST_TEST(b.size() == 0u);
  BOOST_TEST(!b.full());
  BOOST_TEST(!b.due(t0));
  BOOST_TEST(!b.due(t0 + 24h));
  BOOST_TEST(!b.deadline().has_value());
}

BOOST_AUTO_TEST_CASE(a_batch_is_full_at_the_count_limit) {
  builder b{3, 100ms};
  b.push(1, t0);
  BOOST_TEST(!b.full());
  b.push(2, t0);
  BOOST_TEST(!b.full());
  b.push(3, t0);
  BOOST_TEST(b.full());
  BOOST_TEST(b.size() == 3u);
  auto batch = b.take();
  BOOST_TEST(batch == (std::vector<int>{1, 2, 3}),
             boost::test_tools::per_element());
  BOOST_TEST(b.empty());
  BOOST_TEST(!b.full());
}

BOOST_AUTO_TEST_CASE(a_batch_of_one_is_full_after_one_item) {
  builder b{1, 100ms};
  b.push(7, t0);
  BOOST_TEST(b.full());
}

BOOST_AUTO_TEST_CASE(age_is_measured_from_the_first_item) {
  builder b{100, 100ms};
  b.push(1, t0);
  b.push(2, t0 + 60ms);
  b.push(3, t0 + 90ms);
  BOOST_TEST(!b.due(t0 + 99ms));
  BOOST_TEST(b.due(t0 + 100ms));
  BOOST_TEST(b.due(t0 + 150ms));
  // Later items never push the deadline out.
  BOOST_TEST_REQUIRE(b.deadline().has_value());
  BOOST_TEST((*b.deadline() == t0 + 100ms));
}

BOOST_AUTO_TEST_CASE(the_deadline_is_the_first_item_time_plus_the_age) {
  builder b{10, 250ms};
  BOOST_TEST(!b.deadline().has_value());
  b.push(1, t0 + 5ms);
  BOOST_TEST_REQUIRE(b.deadline().has_value());
  BOOST_TEST((*b.deadline() == t0 + 255ms));
  BOOST_TEST(!b.due(*b.deadline() - 1ms));
  BOOST_TEST(b.due(*b.deadline()));
}

BOOST_AUTO_TEST_CASE(take_resets_the_count_age_and_deadline) {
  builder b{2, 100ms};
  b.push(1, t0);
  b.push(2, t0 + 10ms);
  BOOST_TEST(b.full());
  auto first = b.take();
  BOOST_TEST(first.size() == 2u);
  BOOST_TEST(b.empty());
  BOOST_TEST(!b.full());
  BOOST_TEST(!b.due(t0 + 1h));
  BOOST_TEST(!b.deadline().has_value());
  // The next batch's age starts at its own first item.
  b.push(3, t0 + 500ms);
  BOOST_TEST(!b.due(t0 + 599ms));
  BOOST_TEST(b.due(t0 + 600ms));
  BOOST_TEST((*b.deadline() == t0 + 600ms));
  auto second = b.take();
  BOOST_TEST(second == (std::vector<int>{3}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(take_of_an_empty_batch_returns_nothing) {
  builder b{4, 100ms};
  BOOST_TEST(b.take().empty());
  BOOST_TEST(b.empty());
}

BOOST_AUTO_TEST_CASE(items_keep_their_order) {
  builder b{1000, 100ms};
  std::vector<int> expected;
  for (int i = 0; i < 500; ++i) {
    b.push(int{i}, t0 + std::chrono::milliseconds{i % 7});
    expected.push_back(i);
  }
  BOOST_TEST(b.take() == expected, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(take_does_not_advance_the_generation) {
  builder b{2, 100ms};
  auto g = b.generation();
  b.push(1, t0);
  b.take();
  BOOST_TEST(b.generation() == g);
}

BOOST_AUTO_TEST_CASE(take_and_advance_advances_the_generation_each_time) {
  builder b{2, 100ms};
  auto g0 = b.generation();
  b.push(1, t0);
  auto batch = b.take_and_advance();
  BOOST_TEST(batch.size() == 1u);
  auto g1 = b.generation();
  BOOST_TEST(g1 != g0);
  BOOST_TEST(b.empty());
  // Even an empty take invalidates timers set for the old batch.
  b.take_and_advance();
  BOOST_TEST(b.generation() != g1);
  BOOST_TEST(b.generation() != g0);
}

BOOST_AUTO_TEST_CASE(a_timer_for_a_taken_batch_sees_a_new_generation) {
  builder b{2, 100ms};
  b.push(1, t0);
  auto timer_generation = b.generation(); // set when the batch opened
  b.push(2, t0 + 1ms);
  BOOST_TEST(b.full());
  b.take_and_advance(); // left by count before the timer fired
  b.push(3, t0 + 50ms);
  // The old timer fires at t0 + 100ms: its batch is gone.
  BOOST_TEST(b.generation() != timer_generation);
  BOOST_TEST(!b.due(t0 + 100ms));
  BOOST_TEST(b.due(t0 + 150ms));
}

BOOST_AUTO_TEST_CASE(changing_limits_keeps_the_open_items_and_their_age) {
  builder b{10, 100ms};
  b.push(1, t0);
  b.push(2, t0 + 10ms);
  b.limits(2, 500ms);
  BOOST_TEST(b.size() == 2u);
  BOOST_TEST(b.full());
  BOOST_TEST(!b.due(t0 + 499ms));
  BOOST_TEST(b.due(t0 + 500ms));
  BOOST_TEST((*b.deadline() == t0 + 500ms));
  BOOST_TEST(b.take() == (std::vector<int>{1, 2}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_shorter_age_makes_an_open_batch_due_at_once) {
  builder b{10, 1000ms};
  b.push(1, t0);
  BOOST_TEST(!b.due(t0 + 200ms));
  b.limits(10, 100ms);
  BOOST_TEST(b.due(t0 + 200ms));
}

BOOST_AUTO_TEST_CASE(a_larger_count_limit_makes_a_full_batch_open_again) {
  builder b{2, 100ms};
  b.push(1, t0);
  b.push(2, t0);
  BOOST_TEST(b.full());
  b.limits(5, 100ms);
  BOOST_TEST(!b.full());
  b.push(3, t0);
  BOOST_TEST(b.size() == 3u);
}

BOOST_AUTO_TEST_CASE(move_only_items_are_supported) {
  cotflow::batch_builder<std::unique_ptr<std::string>> b{2, 100ms};
  b.push(std::make_unique<std::string>("a"), t0);
  b.push(std::make_unique<std::string>("b"), t0);
  auto batch = b.take_and_advance();
  BOOST_TEST_REQUIRE(batch.size() == 2u);
  BOOST_TEST(*batch[0] == "a");
  BOOST_TEST(*batch[1] == "b");
}
