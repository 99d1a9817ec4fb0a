// The circuit breaker's transitions, open waits and half-open probes, driven
// by a fake clock.
#include <boost/test/unit_test.hpp>

#include "pipeline/tak/circuit_breaker.hpp"

#include "config/config.hpp"

#include <string>
#include <vector>

using namespace cotflow;
using ms = std::chrono::milliseconds;
using tp = circuit_breaker::clock::time_point;

namespace {

const tp t0 = tp{} + ms{1000000};

breaker_settings settings(int consecutive, double rate, int window,
                          int64_t open_min, int64_t open_max, int probes) {
  breaker_settings s;
  s.consecutive_failures = consecutive;
  s.failure_rate = rate;
  s.window = window;
  s.open_min = ms{open_min};
  s.open_max = ms{open_max};
  s.probes = probes;
  return s;
}

/// One step of a scenario: at `at` ms, do `op` ('F' failure, 'S' success,
/// 'A' allow expecting `allowed`), then expect `state`.
struct step {
  int64_t at;
  char op;
  bool allowed;
  circuit_state state;
};

void play(circuit_breaker& b, const std::vector<step>& steps) {
  for (size_t i = 0; i < steps.size(); ++i) {
    auto& s = steps[i];
    auto now = t0 + ms{s.at};
    switch (s.op) {
      case 'F':
        b.failure(now, "boom");
        break;
      case 'S':
        b.success(now);
        break;
      case 'A':
        BOOST_TEST(b.allow(now) == s.allowed, "step " << i);
        break;
    }
    BOOST_TEST(to_string(b.state()) == to_string(s.state), "step " << i);
  }
}

constexpr auto C = circuit_state::closed;
constexpr auto O = circuit_state::open;
constexpr auto H = circuit_state::half_open;

} // namespace

BOOST_AUTO_TEST_CASE(consecutive_failures_open_it_and_a_success_resets) {
  circuit_breaker b{settings(3, 0, 20, 1000, 8000, 1), 1};
  play(b, {{0, 'F', false, C},
           {1, 'F', false, C},
           {2, 'S', false, C}, // resets the run of failures
           {3, 'F', false, C},
           {4, 'F', false, C},
           {5, 'A', true, C},
           {6, 'F', false, O},
           {7, 'A', false, O}});
  BOOST_TEST(b.trips() == 1u);
  BOOST_TEST(b.last_trip_reason().find("3 consecutive failures") == 0u);
  BOOST_TEST(b.last_trip_reason().find("boom") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(the_failure_rate_over_the_window_opens_it) {
  // Never three in a row, but half of the last 10 fail.
  circuit_breaker b{settings(3, 0.5, 10, 1000, 8000, 1), 1};
  std::vector<step> steps;
  for (int i = 0; i < 9; ++i)
    steps.push_back({i, i % 2 ? 'F' : 'S', false, C});
  steps.push_back({9, 'F', false, O});
  play(b, steps);
  BOOST_TEST(b.last_trip_reason().find("50% of the last 10") == 0u);
}

BOOST_AUTO_TEST_CASE(the_rate_is_judged_only_on_a_full_window) {
  circuit_breaker b{settings(0, 0.5, 10, 1000, 8000, 1), 1};
  // 4 failures in the first 4 outcomes: the window is not full yet.
  play(b, {{0, 'F', false, C},
           {1, 'F', false, C},
           {2, 'F', false, C},
           {3, 'F', false, C}});
  for (int i = 0; i < 5; ++i)
    b.success(t0 + ms{10 + i});
  BOOST_TEST(to_string(b.state()) == "closed");
  // 10 outcomes, 5 failures with this one: opens.
  b.failure(t0 + ms{20}, "boom");
  BOOST_TEST(to_string(b.state()) == "open");
}

BOOST_AUTO_TEST_CASE(half_open_grants_the_probes_and_closes_on_success) {
  circuit_breaker b{settings(1, 0, 20, 1000, 8000, 2), 1};
  b.failure(t0, "down");
  auto until = (b.open_until() - t0) / ms{1};
  BOOST_TEST(until >= 1000);
  BOOST_TEST(until <= 1250);
  play(b, {{until - 1, 'A', false, O},
           {until, 'A', true, H},
           {until + 1, 'A', true, H},
           {until + 2, 'A', false, H}, // both probes are out
           {until + 3, 'S', false, H},
           {until + 4, 'S', false, C},
           {until + 5, 'A', true, C}});
  BOOST_TEST(b.transitions().size() == 3u);
  BOOST_TEST(to_string(b.transitions().back().to) == "closed");
}

BOOST_AUTO_TEST_CASE(a_failed_probe_reopens_for_longer_up_to_the_cap) {
  circuit_breaker b{settings(1, 0, 20, 1000, 5000, 1), 42};
  auto now = t0;
  b.failure(now, "down");
  std::vector<int64_t> waits;
  for (int i = 0; i < 6; ++i) {
    auto wait = (b.open_until() - now) / ms{1};
    waits.push_back(wait);
    now = b.open_until();
    BOOST_TEST(b.allow(now));
    BOOST_TEST(to_string(b.state()) == "half-open");
    b.failure(now, "still down");
    BOOST_TEST(to_string(b.state()) == "open");
  }
  // Floors 1000, 2000, 4000, then the 5000 cap; jitter adds at most 25%
  // and never passes the cap.
  std::vector<int64_t> floors{1000, 2000, 4000, 5000, 5000, 5000};
  for (size_t i = 0; i < waits.size(); ++i) {
    BOOST_TEST(waits[i] >= floors[i], "wait " << i << ": " << waits[i]);
    BOOST_TEST(waits[i] <= std::min<int64_t>(floors[i] * 5 / 4, 5000),
               "wait " << i << ": " << waits[i]);
  }
  BOOST_TEST(b.trips() == 7u);
  BOOST_TEST(b.last_trip_reason().find("probe failed") == 0u);
}

BOOST_AUTO_TEST_CASE(closing_resets_the_wait_to_the_floor) {
  circuit_breaker b{settings(1, 0, 20, 1000, 60000, 1), 7};
  auto now = t0;
  for (int i = 0; i < 4; ++i) { // grow the wait
    b.failure(now, "down");
    now = b.open_until();
    b.allow(now);
  }
  b.success(now);
  BOOST_TEST(to_string(b.state()) == "closed");
  b.failure(now, "down again");
  auto wait = (b.open_until() - now) / ms{1};
  BOOST_TEST(wait >= 1000);
  BOOST_TEST(wait <= 1250);
}

BOOST_AUTO_TEST_CASE(failures_while_open_change_nothing) {
  circuit_breaker b{settings(1, 0, 20, 1000, 8000, 1), 1};
  b.failure(t0, "down");
  auto until = b.open_until();
  b.failure(t0 + ms{10}, "again");
  BOOST_TEST(b.trips() == 1u);
  BOOST_TEST((b.open_until() == until));
}

BOOST_AUTO_TEST_CASE(reconfigure_applies_new_thresholds) {
  circuit_breaker b{settings(5, 0, 20, 1000, 8000, 1), 1};
  b.failure(t0, "x");
  b.failure(t0, "x");
  BOOST_TEST(to_string(b.state()) == "closed");
  b.reconfigure(settings(3, 0, 20, 1000, 8000, 1));
  b.failure(t0, "x");
  BOOST_TEST(to_string(b.state()) == "open");
}

BOOST_AUTO_TEST_CASE(the_settings_come_from_the_tak_breaker_keys) {
  tak_config c;
  c.breaker_failures = 7;
  c.breaker_failure_rate = 0.25;
  c.breaker_window = 40;
  c.breaker_open_min_ms = 1500;
  c.breaker_open_max_ms = 90000;
  c.breaker_probes = 3;
  auto s = breaker_settings::from(c);
  BOOST_TEST(s.consecutive_failures == 7);
  BOOST_TEST(s.failure_rate == 0.25);
  BOOST_TEST(s.window == 40);
  BOOST_TEST(s.open_min.count() == 1500);
  BOOST_TEST(s.open_max.count() == 90000);
  BOOST_TEST(s.probes == 3);
}
