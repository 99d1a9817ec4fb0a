#include <boost/test/unit_test.hpp>

#include "pipeline/core/stats.hpp"

#include <prometheus/histogram.h>

#include <random>
#include <vector>

// latency_tally adds a batch of latencies to a histogram in one update: the
// histogram must end up exactly as if each had been observed on its own.

namespace {

prometheus::ClientMetric::Histogram snapshot(prometheus::Histogram& h) {
  return h.Collect().histogram;
}

} // namespace

BOOST_AUTO_TEST_CASE(a_tally_counts_as_observing_one_by_one) {
  prometheus::Histogram one_by_one{cotflow::latency_buckets()};
  prometheus::Histogram tallied{cotflow::latency_buckets()};
  cotflow::latency_tally tally;
  std::mt19937 rng{7};
  std::uniform_real_distribution<double> u{0, 12};
  // Negative: a record timestamp ahead of this host's clock.
  std::vector<double> values{-0.5, 0, 0.001, 0.0010001, 0.0025, 10, 10.5};
  for (int i = 0; i < 1000; ++i)
    values.push_back(u(rng) * u(rng) / 12); // many small, a few large
  size_t n = 0;
  for (auto v : values) {
    one_by_one.Observe(v);
    tally.add(v);
    if (++n % 37 == 0)
      tally.flush_into(&tallied); // batches of any size
  }
  tally.flush_into(&tallied);
  tally.flush_into(&tallied); // nothing left: no change
  auto a = snapshot(one_by_one);
  auto b = snapshot(tallied);
  BOOST_TEST(a.sample_count == values.size());
  BOOST_TEST(b.sample_count == a.sample_count);
  BOOST_TEST(b.sample_sum == a.sample_sum, boost::test_tools::tolerance(1e-9));
  BOOST_TEST_REQUIRE(b.bucket.size() == a.bucket.size());
  for (size_t i = 0; i < a.bucket.size(); ++i) {
    BOOST_TEST(b.bucket[i].upper_bound == a.bucket[i].upper_bound);
    BOOST_TEST(b.bucket[i].cumulative_count == a.bucket[i].cumulative_count,
               "bucket le=" << a.bucket[i].upper_bound);
  }
}
