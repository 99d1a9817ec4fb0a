#include <boost/test/unit_test.hpp>

#include "pipeline/core/tap.hpp"

using cotflow::event_tap;
using namespace std::chrono_literals;

BOOST_AUTO_TEST_CASE(nobody_watching_costs_nothing_and_keeps_nothing) {
  event_tap tap;
  BOOST_TEST(!tap.watching());
  tap.offer(false, "u", "a-h-G", "cam", "<event/>");
  auto v = tap.attach({});
  BOOST_TEST(tap.watching());
  BOOST_TEST(v->take(0ms).empty()); // what passed before is not kept
  tap.detach(v);
  BOOST_TEST(!tap.watching());
}

BOOST_AUTO_TEST_CASE(each_viewer_gets_what_its_filter_lets_through) {
  event_tap tap;
  auto hostile = tap.attach({false, "", "a-h", ""});
  auto cam = tap.attach({false, "", "", "cam-1"});
  auto one = tap.attach({false, "u-2", "", ""});
  auto dead = tap.attach({true, "", "", ""});
  tap.offer(false, "u-1", "a-h-G", "cam-1", "e1");
  tap.offer(false, "u-2", "a-f-G", "cam-2", "e2");
  tap.offer(true, "", "", "", "d1");
  BOOST_TEST(hostile->take(0ms) == std::vector<std::string>{"e1"});
  BOOST_TEST(cam->take(0ms) == std::vector<std::string>{"e1"});
  BOOST_TEST(one->take(0ms) == std::vector<std::string>{"e2"});
  BOOST_TEST(dead->take(0ms) == std::vector<std::string>{"d1"});
}

BOOST_AUTO_TEST_CASE(a_slow_viewer_loses_lines_counted_never_blocks) {
  event_tap tap;
  auto slow = tap.attach({}, 3);
  for (int i = 0; i < 10; ++i)
    tap.offer(false, "u", "a-f", "s", "e" + std::to_string(i));
  BOOST_TEST(slow->take(0ms) == (std::vector<std::string>{"e0", "e1", "e2"}));
  BOOST_TEST(slow->dropped() == 7u);
  BOOST_TEST(tap.dropped() == 7u);
  tap.detach(slow);
  BOOST_TEST(tap.dropped() == 7u); // kept for the metric
}
