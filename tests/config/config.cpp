#include <boost/test/unit_test.hpp>

BOOST_AUTO_TEST_CASE(placeholder_is_replaced_by_real_tests) {
  BOOST_TEST(true);
}
