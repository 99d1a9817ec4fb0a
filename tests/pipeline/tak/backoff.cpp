#include <boost/test/unit_test.hpp>

#include "pipeline/tak/backoff.hpp"

using cotflow::backoff;
using ms = std::chrono::milliseconds;

BOOST_AUTO_TEST_CASE(delays_double_with_jitter_up_to_the_cap) {
  backoff b{ms{1000}, ms{60000}, 1};
  int64_t base = 1000;
  for (int i = 0; i < 12; ++i) {
    auto d = b.next().count();
    BOOST_TEST(d >= base / 2);
    BOOST_TEST(d <= base);
    base = std::min<int64_t>(base * 2, 60000);
  }
  BOOST_TEST(b.attempts() == 12);
}

BOOST_AUTO_TEST_CASE(reset_starts_over_from_the_minimum) {
  backoff b{ms{1000}, ms{60000}, 2};
  for (int i = 0; i < 8; ++i)
    b.next();
  b.reset();
  BOOST_TEST(b.next().count() <= 1000);
}

BOOST_AUTO_TEST_CASE(jitter_spreads_clients_that_failed_together) {
  backoff a{ms{1000}, ms{60000}, 3};
  backoff b{ms{1000}, ms{60000}, 4};
  int same = 0;
  for (int i = 0; i < 10; ++i)
    same += a.next() == b.next();
  BOOST_TEST(same < 10);
}
