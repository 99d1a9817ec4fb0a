#include <boost/test/unit_test.hpp>

#include "pipeline/core/time.hpp"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <iterator>
#include <optional>
#include <random>
#include <string>
#include <vector>

using cotflow::format_rfc3339;
using cotflow::parse_rfc3339;
using cotflow::rfc3339;

namespace {

// Known values, computed with `date -u -d ... +%s`.
constexpr int64_t known_ms = 1795696496789;    // 2026-11-26T12:34:56.789Z
constexpr int64_t leap_day_ms = 1709164800000; // 2024-02-29T00:00:00Z
constexpr int64_t y2k_ms = 946684800000;       // 2000-01-01T00:00:00Z

} // namespace

BOOST_AUTO_TEST_SUITE(parsing)

BOOST_AUTO_TEST_CASE(a_utc_time_with_milliseconds_parses_to_epoch_ms) {
  auto t = parse_rfc3339("2026-11-26T12:34:56.789Z");
  BOOST_TEST_REQUIRE(t.has_value());
  BOOST_TEST(*t == known_ms);
}

BOOST_AUTO_TEST_CASE(a_utc_time_without_fraction_parses_to_whole_seconds) {
  BOOST_TEST(parse_rfc3339("2026-11-26T12:34:56Z").value_or(-1)
             == known_ms - 789);
  BOOST_TEST(parse_rfc3339("2000-01-01T00:00:00Z").value_or(-1) == y2k_ms);
  BOOST_TEST(parse_rfc3339("2024-02-29T00:00:00Z").value_or(-1) == leap_day_ms);
  BOOST_TEST(parse_rfc3339("1970-01-01T00:00:00Z").value_or(-1) == 0);
}

BOOST_AUTO_TEST_CASE(fractional_seconds_of_one_to_nine_digits_are_accepted) {
  const int64_t base = known_ms - 789;
  struct sample {
    const char* text;
    int64_t ms;
  };
  const std::vector<sample> samples = {
    {"2026-11-26T12:34:56.7Z", base + 700},
    {"2026-11-26T12:34:56.78Z", base + 780},
    {"2026-11-26T12:34:56.789Z", base + 789},
    {"2026-11-26T12:34:56.7891Z", base + 789},
    {"2026-11-26T12:34:56.78912Z", base + 789},
    {"2026-11-26T12:34:56.789123Z", base + 789},
    {"2026-11-26T12:34:56.7891234Z", base + 789},
    {"2026-11-26T12:34:56.78912345Z", base + 789},
    {"2026-11-26T12:34:56.789123456Z", base + 789},
    {"2026-11-26T12:34:56.000000001Z", base},
    {"2026-11-26T12:34:56.999999999Z", base + 999},
  };
  for (const auto& s : samples) {
    BOOST_TEST_CONTEXT(s.text) {
      auto t = parse_rfc3339(s.text);
      BOOST_TEST_REQUIRE(t.has_value());
      BOOST_TEST(*t == s.ms);
    }
  }
}

BOOST_AUTO_TEST_CASE(positive_and_negative_offsets_are_converted_to_utc) {
  BOOST_TEST(parse_rfc3339("2026-11-26T14:34:56.789+02:00").value_or(-1)
             == known_ms);
  BOOST_TEST(parse_rfc3339("2026-11-26T07:04:56.789-05:30").value_or(-1)
             == known_ms);
  BOOST_TEST(parse_rfc3339("2026-11-26T12:34:56.789+00:00").value_or(-1)
             == known_ms);
  BOOST_TEST(parse_rfc3339("2026-11-26T12:34:56.789-00:00").value_or(-1)
             == known_ms);
  // An offset that crosses midnight and the day boundary.
  BOOST_TEST(parse_rfc3339("2026-11-27T01:34:56.789+13:00").value_or(-1)
             == known_ms);
}

BOOST_AUTO_TEST_CASE(lower_case_separators_are_accepted) {
  BOOST_TEST(parse_rfc3339("2026-11-26t12:34:56.789z").value_or(-1)
             == known_ms);
}

BOOST_AUTO_TEST_CASE(garbage_is_refused) {
  const std::vector<std::string> bad = {
    "",
    "garbage",
    "now",
    "1700000000",
    "1795696496789",
    "2026-11-26",
    "2026-11-26T12:34Z",
    "2026/11/26T12:34:56Z",
    "2026-11-26X12:34:56Z",
    "2026-11-26T12-34-56Z",
    "20x6-11-26T12:34:56Z",
    "2026-11-26T12:34:56.Z",
    "2026-11-26T12:34:56.789Zjunk",
    "2026-11-26T12:34:56.789Z ",
    " 2026-11-26T12:34:56.789Z",
    "2026-11-26T12:34:56+0200",
    "2026-11-26T12:34:56+02",
    "2026-11-26T12:34:56+02:0",
    "2026-11-26T12:34:56+24:00",
    "2026-11-26T12:34:56+02:60",
    "2026-11-26T12:34:56.78aZ",
  };
  for (const auto& s : bad)
    BOOST_TEST_CONTEXT("'" << s << "'") {
      BOOST_TEST(!parse_rfc3339(s).has_value());
    }
}

BOOST_AUTO_TEST_CASE(a_time_without_a_zone_is_refused) {
  BOOST_TEST(!parse_rfc3339("2026-11-26T12:34:56").has_value());
  BOOST_TEST(!parse_rfc3339("2026-11-26T12:34:56.789").has_value());
}

BOOST_AUTO_TEST_CASE(impossible_months_days_and_clock_times_are_refused) {
  const std::vector<std::string> bad = {
    "2026-00-10T00:00:00Z", "2026-13-10T00:00:00Z", "2026-01-00T00:00:00Z",
    "2026-01-32T00:00:00Z", "2026-04-31T00:00:00Z", "2026-06-31T00:00:00Z",
    "2026-02-30T00:00:00Z", "2026-11-26T24:00:00Z", "2026-11-26T12:60:00Z",
    "2026-11-26T12:34:61Z",
  };
  for (const auto& s : bad)
    BOOST_TEST_CONTEXT(s) {
      BOOST_TEST(!parse_rfc3339(s).has_value());
    }
}

BOOST_AUTO_TEST_CASE(february_29_is_accepted_in_a_leap_year) {
  BOOST_TEST(parse_rfc3339("2024-02-29T00:00:00Z").value_or(-1) == leap_day_ms);
  BOOST_TEST(parse_rfc3339("2000-02-29T00:00:00Z").has_value());
}

// RFC 3339 §5.7: the day of month depends on the year; February 29 of a
// common year must not silently become March 1.
BOOST_AUTO_TEST_CASE(february_29_is_refused_outside_leap_years) {
  BOOST_TEST(!parse_rfc3339("2023-02-29T00:00:00Z").has_value());
  BOOST_TEST(!parse_rfc3339("2100-02-29T00:00:00Z").has_value());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(formatting)

BOOST_AUTO_TEST_CASE(the_epoch_formats_as_1970_with_milliseconds) {
  BOOST_TEST(rfc3339(0) == "1970-01-01T00:00:00.000Z");
}

BOOST_AUTO_TEST_CASE(a_known_date_formats_exactly) {
  BOOST_TEST(rfc3339(known_ms) == "2026-11-26T12:34:56.789Z");
  BOOST_TEST(rfc3339(leap_day_ms) == "2024-02-29T00:00:00.000Z");
  BOOST_TEST(rfc3339(y2k_ms + 5) == "2000-01-01T00:00:00.005Z");
  BOOST_TEST(rfc3339(y2k_ms - 1) == "1999-12-31T23:59:59.999Z");
}

BOOST_AUTO_TEST_CASE(a_time_before_the_epoch_formats_with_floor_division) {
  BOOST_TEST(rfc3339(-1) == "1969-12-31T23:59:59.999Z");
}

BOOST_AUTO_TEST_CASE(output_is_always_24_characters_with_milliseconds) {
  for (int64_t ms : {int64_t{0}, int64_t{1}, int64_t{999}, y2k_ms, known_ms,
                     int64_t{4102444799999}}) {
    BOOST_TEST_CONTEXT(ms) {
      auto s = rfc3339(ms);
      BOOST_TEST(s.size() == 24u);
      BOOST_TEST(s[19] == '.');
      BOOST_TEST(s[23] == 'Z');
    }
  }
}

BOOST_AUTO_TEST_CASE(format_rfc3339_writes_exactly_24_characters) {
  char buf[32];
  std::fill(std::begin(buf), std::end(buf), '#');
  format_rfc3339(known_ms, buf);
  BOOST_TEST(std::string(buf, 24) == "2026-11-26T12:34:56.789Z");
  for (size_t i = 24; i < sizeof(buf); ++i)
    BOOST_TEST(buf[i] == '#');
}

BOOST_AUTO_TEST_CASE(formatting_then_parsing_round_trips) {
  // Every 7919th hour plus a varying millisecond, 2000..2100.
  for (int64_t ms = y2k_ms; ms < 4102444800000;
       ms += int64_t{7919} * 3600 * 1000 + 37) {
    auto back = parse_rfc3339(rfc3339(ms));
    BOOST_TEST_REQUIRE(back.has_value());
    BOOST_TEST_REQUIRE(*back == ms);
  }
}

BOOST_AUTO_TEST_CASE(the_date_and_value_caches_never_mix_days) {
  // format_rfc3339 keeps the date and the last seconds per thread: go
  // back and forth over midnight, repeat values, step by a millisecond.
  const int64_t midnight = 1795737600000; // 2026-11-27T00:00:00.000Z
  const int64_t sequence[] = {midnight - 1,
                              midnight,
                              midnight,
                              midnight - 1,
                              midnight + 86399999,
                              midnight + 86400000,
                              midnight - 86400000,
                              midnight + 1,
                              0,
                              -1,
                              midnight};
  for (auto ms : sequence) {
    BOOST_TEST_CONTEXT(ms) {
      auto text = rfc3339(ms);
      BOOST_TEST(parse_rfc3339(text).value_or(-2) == ms);
    }
  }
  BOOST_TEST(rfc3339(midnight - 1) == "2026-11-26T23:59:59.999Z");
  BOOST_TEST(rfc3339(midnight) == "2026-11-27T00:00:00.000Z");
  BOOST_TEST(rfc3339(midnight - 1) == "2026-11-26T23:59:59.999Z");
  BOOST_TEST(rfc3339(-1) == "1969-12-31T23:59:59.999Z");
}

BOOST_AUTO_TEST_CASE(formatting_matches_gmtime_over_a_random_walk) {
  // Small steps (mostly within one second, the per-second cache), jumps
  // over seconds, days and back, and times before the epoch.
  std::mt19937_64 rng{42};
  int64_t ms = 1795737600000 - 5000;
  for (int i = 0; i < 200000; ++i) {
    switch (rng() % 16) {
      case 0:
        ms += static_cast<int64_t>(rng() % 3000) - 1500;
        break;
      case 1:
        ms += static_cast<int64_t>(rng() % 200000000) - 100000000;
        break;
      case 2:
        ms = static_cast<int64_t>(rng() % 4000) - 2000;
        break;
      case 3: // back to today, give or take two days
        ms = 1795737600000 + static_cast<int64_t>(rng() % 345600000)
             - 172800000;
        break;
      default:
        ms += static_cast<int64_t>(rng() % 7);
        break;
    }
    int64_t secs = ms >= 0 ? ms / 1000 : (ms - 999) / 1000;
    auto t = static_cast<time_t>(secs);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char want[96];
    std::snprintf(want, sizeof(want), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
                  tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                  tm.tm_min, tm.tm_sec, static_cast<int>(ms - secs * 1000));
    auto got = rfc3339(ms);
    if (got != want)
      BOOST_TEST_REQUIRE(got == std::string{want}, "at " << ms);
  }
}

BOOST_AUTO_TEST_CASE(now_ms_formats_and_parses_back) {
  auto now = cotflow::now_ms();
  BOOST_TEST(now > y2k_ms);
  BOOST_TEST(parse_rfc3339(rfc3339(now)).value_or(-1) == now);
}

BOOST_AUTO_TEST_SUITE_END()
