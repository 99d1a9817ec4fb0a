#include <boost/test/unit_test.hpp>

#include "pipeline/top.hpp"

using namespace cotflow;

BOOST_AUTO_TEST_CASE(prometheus_text_parses_into_samples) {
  auto m = parse_prometheus("# HELP x y\n# TYPE x counter\nx 3\n"
                            "h_bucket{d=\"a\",le=\"0.1\"} 2\n");
  BOOST_TEST(m["x"] == 3);
  BOOST_TEST(m["h_bucket{d=\"a\",le=\"0.1\"}"] == 2);
}

BOOST_AUTO_TEST_CASE(quantiles_come_from_the_interval_between_scrapes) {
  std::map<std::string, double> before = {
    {"h_bucket{d=\"a\",le=\"0.01\"}", 100},
    {"h_bucket{d=\"a\",le=\"0.1\"}", 100},
    {"h_bucket{d=\"a\",le=\"+Inf\"}", 100}};
  // In the interval: 10 below 10 ms, 90 between 10 and 100 ms.
  std::map<std::string, double> now = {
    {"h_bucket{d=\"a\",le=\"0.01\"}", 110},
    {"h_bucket{d=\"a\",le=\"0.1\"}", 200},
    {"h_bucket{d=\"a\",le=\"+Inf\"}", 200}};
  auto p50 = histogram_quantile(before, now, "h", "d=\"a\"", 0.5);
  BOOST_TEST(p50 > 0.01);
  BOOST_TEST(p50 < 0.1);
  BOOST_TEST(histogram_quantile(before, now, "h", "d=\"a\"", 0.05) <= 0.01);
  BOOST_TEST(histogram_quantile(now, now, "h", "d=\"a\"", 0.5) < 0);
}
