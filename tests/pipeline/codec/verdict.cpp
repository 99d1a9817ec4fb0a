// The verdict of `cotflow validate` on one record: what the encoders do
// with it, from the same configuration.
#include <boost/test/unit_test.hpp>

#include "config/config.hpp"
#include "pipeline/codec/verdict.hpp"

#include <string>

using cotflow::config;
using cotflow::default_config;
using cotflow::detection;
using cotflow::record_checker;
using cotflow::verdict;

namespace {

// 2026-11-26T12:34:56.789Z, computed with `date -u -d ... +%s`.
constexpr int64_t now = 1795696496789;

const std::string flat = R"({"id":"t1","time":"2026-11-26T12:34:00Z",)"
                         R"("lat":48.5,"lon":-3.25})";
const std::string timeless_feature
  = R"({"type":"Feature","geometry":{"type":"Point",)"
    R"("coordinates":[-3.25,48.5]},"properties":{"uid":"f1"}})";

bool has(const std::string& text, const std::string& what) {
  return text.find(what) != std::string::npos;
}

} // namespace

BOOST_AUTO_TEST_SUITE(verdict_suite)

BOOST_AUTO_TEST_CASE(a_valid_record_is_its_cot_event) {
  record_checker check{default_config()};
  auto v = check.check(flat, now);
  BOOST_TEST((v.what == verdict::kind::encoded));
  BOOST_TEST(has(v.text, R"(<event version="2.0" uid="t1")"), v.text);
  BOOST_TEST(has(v.text, R"(time="2026-11-26T12:34:00.000Z")"), v.text);
  BOOST_TEST((v.time_from == detection::time_origin::record));
}

BOOST_AUTO_TEST_CASE(a_refusal_carries_the_dead_letter_reason_and_detail) {
  record_checker check{default_config()};
  auto v = check.check(R"({"id":"t1","lat":48.5,"lon":-3.25})", now);
  BOOST_TEST((v.what == verdict::kind::refused));
  BOOST_TEST(v.text == "missing_field");
  BOOST_TEST(v.detail == "time");
  BOOST_TEST(check.check("not json", now).text == "invalid_json");
  // The checker is reused across records, as an encoder's decoder is.
  BOOST_TEST((check.check(flat, now).what == verdict::kind::encoded));
}

BOOST_AUTO_TEST_CASE(a_feature_without_time_gets_the_receive_time) {
  // Offline there is no Kafka timestamp, whatever cot.missing_time says.
  for (auto setting : {"kafka_timestamp", "receive_time"}) {
    auto cfg = default_config();
    cfg.cot.missing_time = setting;
    record_checker check{cfg};
    auto v = check.check(timeless_feature, now);
    BOOST_TEST((v.what == verdict::kind::encoded), setting);
    BOOST_TEST((v.time_from == detection::time_origin::receive_time));
    BOOST_TEST(has(v.text, R"(time="2026-11-26T12:34:56.789Z")"), v.text);
  }
  auto cfg = default_config();
  cfg.cot.missing_time = "refuse";
  record_checker check{cfg};
  auto v = check.check(timeless_feature, now);
  BOOST_TEST((v.what == verdict::kind::refused));
  BOOST_TEST(v.text == "missing_field");
}

BOOST_AUTO_TEST_CASE(the_cot_settings_decide_what_is_dropped) {
  auto cfg = default_config();
  cfg.cot.max_age_s = 10;
  record_checker check{cfg};
  auto v = check.check(flat, now);
  BOOST_TEST((v.what == verdict::kind::dropped));
  BOOST_TEST(v.text == "dropped_too_old");
  cfg.cot.max_age_s = 3600;
  cfg.cot.uid_prefix = "sensor-";
  record_checker prefixed{cfg};
  BOOST_TEST(has(prefixed.check(flat, now).text, R"(uid="sensor-t1")"));
}

BOOST_AUTO_TEST_CASE(the_record_size_limit_is_the_pipelines) {
  auto cfg = default_config();
  cfg.pipeline.max_record_bytes = 16;
  record_checker check{cfg};
  BOOST_TEST(check.check(flat, now).text == "too_large");
}

BOOST_AUTO_TEST_SUITE_END()
