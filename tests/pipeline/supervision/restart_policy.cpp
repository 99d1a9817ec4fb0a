#include <boost/test/unit_test.hpp>

#include "pipeline/supervision/restart_policy.hpp"

using cotflow::restart_policy;
using ms = std::chrono::milliseconds;
using clock_type = restart_policy::clock;

BOOST_AUTO_TEST_CASE(restarts_back_off_and_escalate_past_the_intensity) {
  restart_policy p{5, ms{10000}, ms{100}, ms{1000}};
  auto t = clock_type::time_point{} + ms{1000000};
  std::vector<int64_t> delays;
  for (int i = 0; i < 5; ++i) {
    auto d = p.failed(t + ms{i});
    BOOST_REQUIRE(d);
    delays.push_back(d->count());
  }
  BOOST_TEST((delays == std::vector<int64_t>{100, 200, 400, 800, 1000}));
  // The sixth failure within 10 s escalates.
  BOOST_TEST(!p.failed(t + ms{5000}));
  BOOST_TEST(p.restarts() == 5);
}

BOOST_AUTO_TEST_CASE(failures_outside_the_window_do_not_count) {
  restart_policy p{2, ms{1000}, ms{10}, ms{1000}};
  auto t = clock_type::time_point{} + ms{1000000};
  BOOST_TEST(p.failed(t).has_value());
  BOOST_TEST(p.failed(t + ms{500}).has_value());
  BOOST_TEST(!p.failed(t + ms{900}));
  // Two seconds on, the old failures have left the window: back to min.
  auto d = p.failed(t + ms{3000});
  BOOST_REQUIRE(d);
  BOOST_TEST(d->count() == 10);
}

// The escalation's log line printed restarts() (every restart of the run)
// as the restarts "within" the window.
BOOST_AUTO_TEST_CASE(the_restarts_within_the_window_are_told_apart_from_all) {
  restart_policy p{2, ms{1000}, ms{10}, ms{1000}};
  auto t = clock_type::time_point{} + ms{1000000};
  for (auto at : {0, 500, 3000, 3100, 6000})
    BOOST_REQUIRE(p.failed(t + ms{at}));
  BOOST_TEST(p.restarts() == 5);
  BOOST_TEST(p.recent_restarts() == 1);
  BOOST_REQUIRE(p.failed(t + ms{6200}));
  BOOST_TEST(!p.failed(t + ms{6300}));
  BOOST_TEST(p.restarts() == 6);
  BOOST_TEST(p.recent_restarts() == 2);
  BOOST_TEST(p.window().count() == 1000);
}
