#include <boost/test/unit_test.hpp>

#include "tests/pipeline/codec/decoder_vectors.hpp"

#include "pipeline/codec/decoder.hpp"
#include "pipeline/codec/generator.hpp"
#include "pipeline/codec/xml_text.hpp"
#include "pipeline/core/detection.hpp"

#include <cmath>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

using cotflow::decoder;
using namespace std::string_literals;
using cotflow::detection;
using cotflow::refusal;
using cotflow::refusal_reason;

namespace {

// 2026-11-26T12:34:56.789Z, computed with `date -u -d ... +%s`.
constexpr int64_t known_ms = 1795696496789;
constexpr size_t max_bytes = 64 * 1024;

/// A flat detection: id, time, lat and lon unless `extra` (JSON members)
/// sets them, followed by `extra`.
std::string flat(const std::string& extra = "") {
  const std::pair<const char*, const char*> base[] = {
    {"id", "\"t1\""},
    {"time", "\"2026-11-26T12:34:56.789Z\""},
    {"lat", "48.5"},
    {"lon", "-3.25"},
  };
  std::string s = "{";
  for (const auto& [key, value] : base) {
    if (extra.find("\"" + std::string{key} + "\":") != std::string::npos)
      continue;
    s += (s.size() > 1 ? "," : "") + std::string{"\""} + key + "\":" + value;
  }
  if (!extra.empty())
    s += (s.size() > 1 ? "," : "") + extra;
  return s + "}";
}

/// A flat detection built from the given members only.
std::string object(const std::string& members) {
  return "{" + members + "}";
}

/// A GeoJSON Point Feature with `coords` and `props` members.
std::string feature(const std::string& coords = "[-3.25,48.5]",
                    const std::string& props
                    = R"("uid":"f1","time":"2026-11-26T12:34:56.789Z")",
                    const std::string& extra = "") {
  return R"({"type":"Feature","geometry":{"type":"Point","coordinates":)"
         + coords + R"(},"properties":{)" + props + "}"
         + (extra.empty() ? "" : "," + extra) + "}";
}

/// Every string of `d` is what XML, a Kafka key and a header can carry;
/// id and source hold no control character.
void expect_xml_safe(const detection& d) {
  namespace xt = cotflow::xml_text;
  BOOST_TEST(!xt::first_identifier_flaw(d.id));
  BOOST_TEST(!xt::first_identifier_flaw(d.source));
  for (auto* text : {&d.classification, &d.affiliation, &d.callsign, &d.remarks,
                     &d.type, &d.how, &d.geopointsrc, &d.altsrc})
    BOOST_TEST(!xt::first_flaw(*text), *text);
}

struct fixture {
  decoder dec{max_bytes};
  /// RapidJSON alone, for what must decode the same either way.
  decoder full{max_bytes, false};
  detection d;

  std::optional<refusal> decode(const std::string& bytes) {
    return dec.decode(bytes, d);
  }

  /// Decodes `bytes` and expects a refusal for `reason` whose detail
  /// mentions `field`.
  void expect_refusal(const std::string& bytes, refusal_reason reason,
                      const std::string& field) {
    BOOST_TEST_CONTEXT(bytes) {
      auto r = decode(bytes);
      BOOST_TEST_REQUIRE(r.has_value());
      BOOST_TEST(to_string(r->reason) == to_string(reason));
      BOOST_TEST(r->detail.find(field) != std::string::npos,
                 "detail '" << r->detail << "' names '" << field << "'");
      // The other path refuses it alike.
      detection other;
      auto o = full.decode(bytes, other);
      BOOST_TEST_REQUIRE(o.has_value());
      BOOST_TEST(to_string(o->reason) == to_string(r->reason));
      BOOST_TEST(o->detail == r->detail);
    }
  }

  void expect_ok_both(const std::string& bytes) {
    expect_ok(bytes);
    detection other;
    auto r = full.decode(bytes, other);
    BOOST_TEST(!r.has_value());
    BOOST_TEST(other.callsign == d.callsign);
    BOOST_TEST(other.replaced_chars == d.replaced_chars);
  }

  void expect_ok(const std::string& bytes) {
    BOOST_TEST_CONTEXT(bytes) {
      auto r = decode(bytes);
      BOOST_TEST(!r.has_value(), "refused: " << (r ? to_string(r->reason) : "")
                                             << " " << (r ? r->detail : ""));
    }
  }
};

} // namespace

BOOST_FIXTURE_TEST_SUITE(accepted, fixture)

BOOST_AUTO_TEST_CASE(a_minimal_flat_detection_decodes) {
  expect_ok(flat());
  BOOST_TEST(d.id == "t1");
  BOOST_TEST(d.time_ms == known_ms);
  BOOST_TEST(d.lat == 48.5);
  BOOST_TEST(d.lon == -3.25);
  BOOST_TEST(std::isnan(d.hae));
  BOOST_TEST(std::isnan(d.ce));
  BOOST_TEST(std::isnan(d.le));
  BOOST_TEST(std::isnan(d.confidence));
  BOOST_TEST(std::isnan(d.course));
  BOOST_TEST(std::isnan(d.speed));
  BOOST_TEST(std::isnan(d.stale_s));
  BOOST_TEST(d.callsign.empty());
  BOOST_TEST(d.source.empty());
  BOOST_TEST(d.type.empty());
  BOOST_TEST(d.stale_ms == 0);
}

BOOST_AUTO_TEST_CASE(every_optional_flat_field_is_read) {
  expect_ok(flat(R"("hae":120.5,"ce":5,"le":7.5,"classification":"person",)"
                 R"("affiliation":"hostile","confidence":0.87,)"
                 R"("course":271.5,"speed":3.25,"callsign":"Alpha 1",)"
                 R"("source":"cam-7","remarks":"near gate","stale_s":30,)"
                 R"("how":"m-g","geopointsrc":"GPS","altsrc":"DTED0")"));
  BOOST_TEST(d.hae == 120.5);
  BOOST_TEST(d.ce == 5.0);
  BOOST_TEST(d.le == 7.5);
  BOOST_TEST(d.classification == "person");
  BOOST_TEST(d.affiliation == "hostile");
  BOOST_TEST(d.confidence == 0.87);
  BOOST_TEST(d.course == 271.5);
  BOOST_TEST(d.speed == 3.25);
  BOOST_TEST(d.callsign == "Alpha 1");
  BOOST_TEST(d.source == "cam-7");
  BOOST_TEST(d.remarks == "near gate");
  BOOST_TEST(d.stale_s == 30.0);
  BOOST_TEST(d.how == "m-g");
  BOOST_TEST(d.geopointsrc == "GPS");
  BOOST_TEST(d.altsrc == "DTED0");
}

BOOST_AUTO_TEST_CASE(time_may_be_epoch_milliseconds) {
  expect_ok(object(R"("id":"t1","time":1795696496789,"lat":1,"lon":2)"));
  BOOST_TEST(d.time_ms == known_ms);
}

BOOST_AUTO_TEST_CASE(time_may_carry_an_offset) {
  expect_ok(object(
    R"("id":"t1","time":"2026-11-26T14:34:56.789+02:00","lat":1,"lon":2)"));
  BOOST_TEST(d.time_ms == known_ms);
}

BOOST_AUTO_TEST_CASE(a_numeric_id_is_accepted_as_text) {
  expect_ok(object(R"("id":42,"time":1795696496789,"lat":1,"lon":2)"));
  BOOST_TEST(d.id == "42");
}

BOOST_AUTO_TEST_CASE(boundary_coordinates_are_accepted) {
  expect_ok(object(R"("id":"a","time":1795696496789,"lat":90,"lon":180)"));
  expect_ok(object(R"("id":"a","time":1795696496789,"lat":-90,"lon":-180)"));
  expect_ok(flat(R"("confidence":0,"course":360,"ce":0)"));
  expect_ok(flat(R"("confidence":1,"course":0)"));
}

BOOST_AUTO_TEST_CASE(null_optional_fields_count_as_absent) {
  expect_ok(flat(R"("hae":null,"callsign":null,"confidence":null)"));
  BOOST_TEST(std::isnan(d.hae));
  BOOST_TEST(d.callsign.empty());
}

BOOST_AUTO_TEST_CASE(unknown_extra_fields_are_never_fatal) {
  expect_ok(flat(R"("extra":{"nested":[1,2,{"x":null}]},"tags":["a","b"],)"
                 R"("flag":true,"n":-1e300,"weird key \" ":"\u00e9")"));
  BOOST_TEST(d.id == "t1");
  expect_ok(feature("[-3.25,48.5]",
                    R"("uid":"f1","time":"2026-11-26T12:34:56.789Z",)"
                    R"("color":"red","meta":{"a":[1]})",
                    R"("bbox":[0,0,1,1],"crs":{"x":1})"));
  BOOST_TEST(d.id == "f1");
}

BOOST_AUTO_TEST_CASE(escapes_are_unescaped_in_every_text_field) {
  // Strings are unescaped in place; long ones cross the 16-byte blocks the
  // SIMD scans read.
  const std::string long_text(70, 'x');
  expect_ok(flat(R"("callsign":"A\"1\\\/\u00e9\n","remarks":")" + long_text
                 + R"(\t)" + long_text + R"(","source":"\ud83d\ude00")"));
  BOOST_TEST(d.callsign == "A\"1\\/\xc3\xa9\n");
  BOOST_TEST(d.remarks == long_text + "\t" + long_text);
  BOOST_TEST(d.source == "\xf0\x9f\x98\x80");
}

BOOST_AUTO_TEST_CASE(the_first_of_duplicate_names_counts) {
  expect_ok(flat(R"("callsign":"first","callsign":"second",)"
                 R"("hae":1,"hae":"not a number")"));
  BOOST_TEST(d.callsign == "first");
  BOOST_TEST(d.hae == 1.0);
  // Also when the first is null: it stands for the field being absent.
  expect_ok(flat(R"("callsign":null,"callsign":"second")"));
  BOOST_TEST(d.callsign.empty());
}

BOOST_AUTO_TEST_CASE(only_members_at_their_own_place_count) {
  // A field's name inside another object is not that field.
  // (flat() leaves out its own member of a name that `extra` has.)
  expect_ok(flat(R"("extra":{"callsign":"inner","hae":1},)"
                 R"("list":[{"callsign":"inner"}])"));
  BOOST_TEST(d.callsign.empty());
  BOOST_TEST(std::isnan(d.hae));
  expect_refusal(
    feature("[1,2]", R"("x":{"uid":"inner","time":1795696496789})"),
    refusal_reason::missing_field, "id");
  // properties inside properties, geometry inside properties: extra.
  expect_ok(feature("[1,2]", R"("uid":"f","time":1795696496789,)"
                             R"("properties":{"callsign":"inner"},)"
                             R"("geometry":{"type":"Line"})"));
  BOOST_TEST(d.callsign.empty());
  BOOST_TEST(d.lon == 1.0);
  // A geometry's other members, nested or not, are extra.
  expect_ok(R"({"type":"Feature","geometry":{"bbox":[[0,0],[5,5]],)"
            R"("crs":{"type":"Polygon","coordinates":[9,9]},"type":"Point",)"
            R"("coordinates":[1,2]},"properties":{"uid":"f",)"
            R"("time":1795696496789}})");
  BOOST_TEST(d.lon == 1.0);
  BOOST_TEST(d.lat == 2.0);
}

BOOST_AUTO_TEST_CASE(the_first_geometry_properties_and_coordinates_count) {
  expect_ok(R"({"type":"Feature","geometry":{"type":"Point","coordinates":)"
            R"([1,2],"coordinates":[3,4],"type":"Line"},"geometry":null,)"
            R"("properties":{"uid":"a","time":1795696496789},)"
            R"("properties":{"uid":"b"}})");
  BOOST_TEST(d.lon == 1.0);
  BOOST_TEST(d.id == "a");
  expect_refusal(R"({"type":"Feature","geometry":"none","geometry":)"
                 R"({"type":"Point","coordinates":[1,2]}})",
                 refusal_reason::wrong_type, "geometry");
}

BOOST_AUTO_TEST_CASE(coordinates_are_numbers_at_their_top_level) {
  expect_refusal(feature("[[1,2],3]"), refusal_reason::wrong_type, "lon");
  expect_refusal(feature(R"([1,{"lat":2}])"), refusal_reason::wrong_type,
                 "lat");
  expect_refusal(feature("[1,2,[3]]"), refusal_reason::wrong_type, "hae");
  expect_refusal(feature("[1,2,null]"), refusal_reason::wrong_type, "hae");
  expect_refusal(feature("[[1,2,3],[4,5,6],[7,8,9],[1,2,3]]"),
                 refusal_reason::wrong_type, "geometry.coordinates");
  expect_ok(feature("[1.5,-2.25,-10]"));
  BOOST_TEST(d.hae == -10.0);
}

BOOST_AUTO_TEST_CASE(nesting_around_the_fast_parsers_limit_decodes_the_same) {
  // Up to 64 levels one parser reads the record; deeper, another parses
  // it again from the start. Both give the same detection.
  for (int levels : {1, 62, 63, 64, 65, 66, 200}) {
    BOOST_TEST_CONTEXT(levels << " levels") {
      auto nest = std::string(levels, '[') + std::string(levels, ']');
      expect_ok(
        flat(R"("callsign":"c","extra":)" + nest + R"(,"remarks":"after")"));
      BOOST_TEST(d.callsign == "c");
      BOOST_TEST(d.remarks == "after");
      expect_ok(feature("[1,2]", R"("uid":"f","x":)" + nest
                                   + R"(,"time":1795696496789,"remarks":"r")"));
      BOOST_TEST(d.id == "f");
      BOOST_TEST(d.remarks == "r");
      expect_refusal(flat(R"("extra":)" + nest + R"(,"lat":"x")"),
                     refusal_reason::wrong_type, "lat");
      // An error past the nesting is at the same offset either way.
      auto bad = flat(R"("extra":)" + nest + ",");
      auto r = decode(bad);
      BOOST_TEST_REQUIRE(r.has_value());
      BOOST_TEST(to_string(r->reason) == "invalid_json");
    }
  }
}

BOOST_AUTO_TEST_CASE(names_that_only_resemble_fields_are_extra) {
  expect_ok(flat(R"("Callsign":"x","callsig":"x","callsignx":"x",)"
                 R"("i":"x","ids":"x","lat ":"x","stale_ms":"x")"));
  BOOST_TEST(d.callsign.empty());
  BOOST_TEST(d.id == "t1");
}

BOOST_AUTO_TEST_CASE(a_record_after_a_larger_one_is_decoded_alone) {
  // The decoder reuses its buffer: nothing of a longer record may remain.
  expect_ok(flat(R"("remarks":")" + std::string(3000, 'r') + "\""));
  expect_ok(object(R"("id":"b","time":1795696496789,"lat":1,"lon":2)"));
  BOOST_TEST(d.id == "b");
  BOOST_TEST(d.remarks.empty());
  expect_refusal(R"({"id":"c")", refusal_reason::invalid_json, "");
}

BOOST_AUTO_TEST_CASE(a_point_feature_with_lon_lat_decodes) {
  expect_ok(feature());
  BOOST_TEST(d.id == "f1");
  BOOST_TEST(d.lon == -3.25);
  BOOST_TEST(d.lat == 48.5);
  BOOST_TEST(std::isnan(d.hae));
  BOOST_TEST(d.time_ms == known_ms);
}

BOOST_AUTO_TEST_CASE(a_point_feature_with_lon_lat_hae_decodes) {
  expect_ok(feature("[10.5,-20.25,350.5]"));
  BOOST_TEST(d.lon == 10.5);
  BOOST_TEST(d.lat == -20.25);
  BOOST_TEST(d.hae == 350.5);
}

BOOST_AUTO_TEST_CASE(the_feature_id_comes_first_then_uid_then_id) {
  const std::string t = R"("time":"2026-11-26T12:34:56.789Z")";
  expect_ok(feature("[1,2]", R"("uid":"u","id":"i",)" + t, R"("id":"F")"));
  BOOST_TEST(d.id == "F");
  expect_ok(feature("[1,2]", R"("uid":"u","id":"i",)" + t));
  BOOST_TEST(d.id == "u");
  expect_ok(feature("[1,2]", R"("id":"i",)" + t));
  BOOST_TEST(d.id == "i");
  expect_ok(feature("[1,2]", t, R"("id":17)"));
  BOOST_TEST(d.id == "17");
}

BOOST_AUTO_TEST_CASE(feature_properties_in_the_tak_convention_are_read) {
  expect_ok(feature(
    "[1,2]",
    R"("uid":"f1","time":"2026-11-26T12:34:56.789Z",)"
    R"("start":"2026-11-26T12:34:56.000Z","stale":"2026-11-26T12:39:56Z",)"
    R"("type":"a-f-G-U-C","how":"h-e","callsign":"Bravo","course":90,)"
    R"("speed":1.5,"remarks":"hi","ce":3,"le":4,"source":"ais")"));
  BOOST_TEST(d.type == "a-f-G-U-C");
  BOOST_TEST(d.how == "h-e");
  BOOST_TEST(d.callsign == "Bravo");
  BOOST_TEST(d.course == 90.0);
  BOOST_TEST(d.speed == 1.5);
  BOOST_TEST(d.remarks == "hi");
  BOOST_TEST(d.ce == 3.0);
  BOOST_TEST(d.le == 4.0);
  BOOST_TEST(d.source == "ais");
  BOOST_TEST(d.start_ms == known_ms - 789);
  BOOST_TEST(d.stale_ms == known_ms - 789 + 300000);
}

BOOST_AUTO_TEST_CASE(a_feature_without_time_uses_start) {
  expect_ok(feature("[1,2]", R"("uid":"f1","start":1795696496789)"));
  BOOST_TEST(d.time_ms == known_ms);
}

BOOST_AUTO_TEST_CASE(a_feature_without_any_time_waits_for_one_when_allowed) {
  // Tracker and ETL feeds often send none: with allow_missing_time the
  // Feature decodes with time 0, and fill_missing_time gives it the Kafka
  // record's timestamp, or the receive time.
  dec.allow_missing_time(true);
  expect_ok(feature("[1,2]", R"("uid":"f1","callsign":"c")"));
  BOOST_TEST(d.time_ms == 0);
  BOOST_TEST((d.time_from == detection::time_origin::record));
  auto now = known_ms + 5000;
  cotflow::fill_missing_time(d, known_ms, now, true);
  BOOST_TEST(d.time_ms == known_ms);
  BOOST_TEST((d.time_from == detection::time_origin::kafka_timestamp));
  // No timestamp on the record (-1), or an implausible one: received now.
  for (int64_t ts : {int64_t{-1}, int64_t{0}, int64_t{1795696496}}) {
    expect_ok(feature("[1,2]", R"("uid":"f1")"));
    cotflow::fill_missing_time(d, ts, now, true);
    BOOST_TEST(d.time_ms == now);
    BOOST_TEST((d.time_from == detection::time_origin::receive_time));
  }
  // receive_time chosen: the timestamp is not used.
  expect_ok(feature("[1,2]", R"("uid":"f1")"));
  cotflow::fill_missing_time(d, known_ms, now, false);
  BOOST_TEST(d.time_ms == now);
  // A record's own time is never replaced.
  expect_ok(feature("[1,2]", R"("uid":"f1","time":1795696496789)"));
  cotflow::fill_missing_time(d, known_ms + 1, now, true);
  BOOST_TEST(d.time_ms == known_ms);
  BOOST_TEST((d.time_from == detection::time_origin::record));
  // A flat detection still needs its time; a bad time is still refused.
  expect_refusal(object(R"("id":"a","lat":1,"lon":2)"),
                 refusal_reason::missing_field, "time");
  expect_refusal(feature("[1,2]", R"("uid":"f1","time":"yesterday")"),
                 refusal_reason::bad_time, "time");
}

BOOST_AUTO_TEST_CASE(a_record_larger_than_the_parse_buffers_decodes) {
  std::string extra = R"("pad":[)";
  for (int i = 0; i < 5000; ++i)
    extra += (i ? "," : "") + std::to_string(i);
  extra += "]";
  expect_ok(flat(extra));
  BOOST_TEST(d.id == "t1");
  expect_ok(flat());
  BOOST_TEST(d.lat == 48.5);
}

BOOST_AUTO_TEST_CASE(a_reused_decoder_leaks_nothing_between_records) {
  expect_ok(flat(R"("callsign":"Alpha","hae":10,"confidence":0.5,)"
                 R"("source":"cam","classification":"uav","course":5)"));
  BOOST_TEST(d.callsign == "Alpha");
  expect_ok(flat());
  BOOST_TEST(d.callsign.empty());
  BOOST_TEST(d.source.empty());
  BOOST_TEST(d.classification.empty());
  BOOST_TEST(std::isnan(d.hae));
  BOOST_TEST(std::isnan(d.confidence));
  BOOST_TEST(std::isnan(d.course));
  // A feature with type and stale, then a flat record.
  expect_ok(feature("[1,2,3]",
                    R"("uid":"f","time":1795696496789,"type":"a-h-G",)"
                    R"("stale":1795696596789)"));
  expect_ok(flat());
  BOOST_TEST(d.type.empty());
  BOOST_TEST(d.stale_ms == 0);
  BOOST_TEST(std::isnan(d.hae));
  // A refusal in between leaves no trace either.
  BOOST_TEST(decode("{").has_value());
  expect_ok(flat());
  BOOST_TEST(d.id == "t1");
}

BOOST_AUTO_TEST_CASE(a_reused_decoder_matches_a_fresh_one) {
  const std::vector<std::string> records = {
    flat(R"("callsign":"A","speed":2,"remarks":"x","stale_s":9)"),
    flat(),
    feature("[5,6,7]", R"("uid":"g","time":1795696496789,"how":"h-g-i-g-o")"),
    "[1]",
    flat(R"("lat":91)"),
    feature(),
    flat(R"("affiliation":"friend","le":3)"),
    flat(),
  };
  decoder reused{max_bytes};
  for (const auto& bytes : records) {
    BOOST_TEST_CONTEXT(bytes) {
      detection a;
      detection b;
      auto ra = reused.decode(bytes, a);
      decoder fresh{max_bytes};
      auto rb = fresh.decode(bytes, b);
      BOOST_TEST_REQUIRE(ra.has_value() == rb.has_value());
      if (ra) {
        BOOST_TEST(to_string(ra->reason) == to_string(rb->reason));
        BOOST_TEST(ra->detail == rb->detail);
        continue;
      }
      BOOST_TEST(a.id == b.id);
      BOOST_TEST(a.callsign == b.callsign);
      BOOST_TEST(a.remarks == b.remarks);
      BOOST_TEST(a.how == b.how);
      BOOST_TEST(a.affiliation == b.affiliation);
      BOOST_TEST(a.time_ms == b.time_ms);
      BOOST_TEST(a.lat == b.lat);
      BOOST_TEST(a.lon == b.lon);
      BOOST_TEST(std::isnan(a.hae) == std::isnan(b.hae));
      BOOST_TEST(std::isnan(a.speed) == std::isnan(b.speed));
      BOOST_TEST(std::isnan(a.le) == std::isnan(b.le));
      BOOST_TEST(std::isnan(a.stale_s) == std::isnan(b.stale_s));
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(refused, fixture)

BOOST_AUTO_TEST_CASE(every_refusal_reason_has_its_wire_name) {
  BOOST_TEST(to_string(refusal_reason::too_large) == "too_large");
  BOOST_TEST(to_string(refusal_reason::invalid_json) == "invalid_json");
  BOOST_TEST(to_string(refusal_reason::not_an_object) == "not_an_object");
  BOOST_TEST(to_string(refusal_reason::missing_field) == "missing_field");
  BOOST_TEST(to_string(refusal_reason::wrong_type) == "wrong_type");
  BOOST_TEST(to_string(refusal_reason::out_of_range) == "out_of_range");
  BOOST_TEST(to_string(refusal_reason::non_finite) == "non_finite");
  BOOST_TEST(to_string(refusal_reason::bad_time) == "bad_time");
  BOOST_TEST(to_string(refusal_reason::unsupported_geometry)
             == "unsupported_geometry");
}

BOOST_AUTO_TEST_CASE(a_record_over_the_size_limit_is_too_large) {
  decoder small{64};
  std::string bytes = flat(R"("remarks":"padding padding padding")");
  BOOST_TEST_REQUIRE(bytes.size() > 64u);
  auto r = small.decode(bytes, d);
  BOOST_TEST_REQUIRE(r.has_value());
  BOOST_TEST(to_string(r->reason) == "too_large");
  BOOST_TEST(r->detail.find(std::to_string(bytes.size())) != std::string::npos);
  // Exactly at the limit is fine.
  decoder exact{bytes.size()};
  BOOST_TEST(!exact.decode(bytes, d).has_value());
}

BOOST_AUTO_TEST_CASE(malformed_json_is_invalid_json) {
  const std::vector<std::string> bad = {
    "",
    "{",
    flat().substr(0, flat().size() - 1),
    flat().substr(0, 20),
    flat() + "x",
    flat() + "{}",
    "{\"id\":\"a\",}",
    "{id:\"a\"}",
    "{'id':'a'}",
    "not json",
  };
  for (const auto& b : bad)
    expect_refusal(b, refusal_reason::invalid_json, "");
}

BOOST_AUTO_TEST_CASE(invalid_utf8_bytes_are_invalid_json) {
  expect_refusal(flat("\"remarks\":\"a\xff\xfe b\""),
                 refusal_reason::invalid_json, "");
  expect_refusal(flat("\"callsign\":\"\xc3\""), refusal_reason::invalid_json,
                 "");
  // An encoded surrogate half is not UTF-8 either.
  expect_refusal(flat("\"remarks\":\"\xed\xa0\x80\""),
                 refusal_reason::invalid_json, "");
  // A lone surrogate escape.
  expect_refusal(flat(R"("remarks":"\ud800")"), refusal_reason::invalid_json,
                 "");
}

BOOST_AUTO_TEST_CASE(an_invalid_byte_anywhere_in_mostly_ascii_text_is_found) {
  // All-ASCII records skip RapidJSON's validation: the ASCII check reads
  // 8 bytes at a time, so try every position within a word and the tail.
  for (size_t pad = 0; pad < 17; ++pad) {
    auto text = std::string(pad, 'a') + "\xff" + std::string(16 - pad, 'b');
    BOOST_TEST_CONTEXT("invalid byte after " << pad << " ASCII bytes") {
      expect_refusal(flat("\"remarks\":\"" + text + "\""),
                     refusal_reason::invalid_json, "");
    }
  }
}

BOOST_AUTO_TEST_CASE(nul_bytes_are_refused_or_end_the_record) {
  using namespace std::string_literals;
  // Inside a string or before the object is complete: invalid JSON.
  expect_refusal(flat("\"remarks\":\"a\0b\""s), refusal_reason::invalid_json,
                 "");
  expect_refusal("{\"id\":\0\"a\"}"s, refusal_reason::invalid_json, "");
  // After a complete object a NUL ends the text, as for a C string.
  expect_ok(flat() + "\0trailing"s);
}

BOOST_AUTO_TEST_CASE(raw_control_bytes_in_text_are_invalid_json_anywhere) {
  // JSON forbids raw bytes below 0x20 in strings. RapidJSON's SIMD scan of
  // long strings missed 0x1A..0x1F (found by a differential fuzz): try
  // every such byte at every position of a string longer than two blocks.
  for (int c = 0x01; c < 0x20; ++c)
    for (size_t pad = 0; pad < 40; ++pad) {
      auto text = std::string(pad, 'a') + static_cast<char>(c)
                  + std::string(40 - pad, 'b');
      BOOST_TEST_CONTEXT("byte " << c << " after " << pad << " bytes") {
        expect_refusal(flat("\"remarks\":\"" + text + "\""),
                       refusal_reason::invalid_json, "");
        // And in a name.
        expect_refusal(flat("\"" + text + "\":1"), refusal_reason::invalid_json,
                       "");
      }
    }
}

BOOST_AUTO_TEST_CASE(a_utf8_byte_order_mark_is_skipped) {
  expect_ok("\xEF\xBB\xBF" + flat());
  BOOST_TEST(d.id == "t1");
  // Error offsets count it.
  auto r = decode("\xEF\xBB\xBF{\"id\":}");
  BOOST_TEST_REQUIRE(r.has_value());
  BOOST_TEST(r->detail.find("at byte 9") != std::string::npos, r->detail);
  // Only the whole mark: a stray byte of it is invalid JSON.
  expect_refusal("\xBF" + flat(), refusal_reason::invalid_json, "");
}

BOOST_AUTO_TEST_CASE(valid_utf8_text_is_kept) {
  expect_ok(flat("\"callsign\":\"\xc3\xa9quipe \xe2\x9c\x88\""));
  BOOST_TEST(d.callsign == "\xc3\xa9quipe \xe2\x9c\x88");
}

BOOST_AUTO_TEST_CASE(a_top_level_that_is_not_an_object_is_refused) {
  expect_refusal("[1,2]", refusal_reason::not_an_object, "");
  expect_refusal("42", refusal_reason::not_an_object, "");
  expect_refusal("\"text\"", refusal_reason::not_an_object, "");
  expect_refusal("null", refusal_reason::not_an_object, "");
  expect_refusal("[" + flat() + "]", refusal_reason::not_an_object, "");
}

BOOST_AUTO_TEST_CASE(a_missing_required_flat_field_is_named) {
  expect_refusal(object(R"("time":1795696496789,"lat":1,"lon":2)"),
                 refusal_reason::missing_field, "id");
  expect_refusal(object(R"("id":"a","lat":1,"lon":2)"),
                 refusal_reason::missing_field, "time");
  expect_refusal(object(R"("id":"a","time":1795696496789,"lon":2)"),
                 refusal_reason::missing_field, "lat");
  expect_refusal(object(R"("id":"a","time":1795696496789,"lat":1)"),
                 refusal_reason::missing_field, "lon");
  expect_refusal(object(R"("id":null,"time":1795696496789,"lat":1,"lon":2)"),
                 refusal_reason::missing_field, "id");
  expect_refusal(object(R"("id":"","time":1795696496789,"lat":1,"lon":2)"),
                 refusal_reason::missing_field, "id");
  expect_refusal("{}", refusal_reason::missing_field, "id");
}

BOOST_AUTO_TEST_CASE(a_missing_required_feature_field_is_named) {
  expect_refusal(R"({"type":"Feature","properties":{"uid":"a"}})",
                 refusal_reason::missing_field, "geometry");
  expect_refusal(feature("[1,2]", R"("uid":"f1")"),
                 refusal_reason::missing_field, "properties.time");
  expect_refusal(feature("[1,2]", R"("time":1795696496789)"),
                 refusal_reason::missing_field, "id");
  expect_refusal(
    R"({"type":"Feature","geometry":{"type":"Point"},"properties":{}})",
    refusal_reason::missing_field, "geometry.coordinates");
  expect_refusal(
    R"({"type":"Feature","geometry":{"coordinates":[1,2]},"properties":{}})",
    refusal_reason::missing_field, "geometry.type");
}

BOOST_AUTO_TEST_CASE(a_field_of_the_wrong_type_is_named) {
  expect_refusal(flat(R"("lat":"48.5")"), refusal_reason::wrong_type, "lat");
  expect_refusal(flat(R"("lon":[1])"), refusal_reason::wrong_type, "lon");
  expect_refusal(flat(R"("id":{"x":1})"), refusal_reason::wrong_type, "id");
  expect_refusal(flat(R"("id":true)"), refusal_reason::wrong_type, "id");
  expect_refusal(flat(R"("callsign":["a"])"), refusal_reason::wrong_type,
                 "callsign");
  expect_refusal(flat(R"("confidence":"high")"), refusal_reason::wrong_type,
                 "confidence");
  expect_refusal(flat(R"("time":true)"), refusal_reason::wrong_type, "time");
  expect_refusal(flat(R"("how":"not a code")"), refusal_reason::wrong_type,
                 "how");
  expect_refusal(flat(R"("how":"m--g")"), refusal_reason::wrong_type, "how");
  expect_refusal(flat(R"("how":"m-g\"/><x")"), refusal_reason::wrong_type,
                 "how");
  expect_refusal(
    feature("[1,2]", R"("uid":"f","time":1795696496789,"type":"a h G")"),
    refusal_reason::wrong_type, "properties.type");
  expect_refusal(
    feature("[1,2]", R"("uid":"f","time":1795696496789,"type":"<a>")"),
    refusal_reason::wrong_type, "properties.type");
  expect_refusal(feature(R"(["1",2])"), refusal_reason::wrong_type, "lon");
  expect_refusal(feature(R"([1,"2"])"), refusal_reason::wrong_type, "lat");
  expect_refusal(feature("[1]"), refusal_reason::wrong_type,
                 "geometry.coordinates");
  expect_refusal(feature("[1,2,3,4]"), refusal_reason::wrong_type,
                 "geometry.coordinates");
  expect_refusal(feature(R"({"lon":1})"), refusal_reason::wrong_type,
                 "geometry.coordinates");
  expect_refusal(R"({"type":"Feature","geometry":[1,2]})",
                 refusal_reason::wrong_type, "geometry");
  expect_refusal(
    R"({"type":"Feature","geometry":{"type":"Point","coordinates":[1,2]},)"
    R"("properties":[1]})",
    refusal_reason::wrong_type, "properties");
}

BOOST_AUTO_TEST_CASE(an_out_of_range_number_is_named) {
  expect_refusal(flat(R"("lat":91)"), refusal_reason::out_of_range, "lat");
  expect_refusal(flat(R"("lat":-90.0001)"), refusal_reason::out_of_range,
                 "lat");
  expect_refusal(flat(R"("lon":-181)"), refusal_reason::out_of_range, "lon");
  expect_refusal(flat(R"("lon":180.5)"), refusal_reason::out_of_range, "lon");
  expect_refusal(flat(R"("confidence":1.5)"), refusal_reason::out_of_range,
                 "confidence");
  expect_refusal(flat(R"("confidence":-0.1)"), refusal_reason::out_of_range,
                 "confidence");
  expect_refusal(flat(R"("course":361)"), refusal_reason::out_of_range,
                 "course");
  expect_refusal(flat(R"("course":-1)"), refusal_reason::out_of_range,
                 "course");
  expect_refusal(flat(R"("ce":-1)"), refusal_reason::out_of_range, "ce");
  expect_refusal(flat(R"("le":-0.5)"), refusal_reason::out_of_range, "le");
  expect_refusal(flat(R"("speed":-2)"), refusal_reason::out_of_range, "speed");
  expect_refusal(flat(R"("stale_s":0)"), refusal_reason::out_of_range,
                 "stale_s");
  expect_refusal(feature("[1,91]"), refusal_reason::out_of_range, "lat");
  expect_refusal(feature("[-181,1]"), refusal_reason::out_of_range, "lon");
  expect_refusal(feature("[1,2,-30000]"), refusal_reason::out_of_range, "hae");
}

BOOST_AUTO_TEST_CASE(ranges_end_where_tak_servers_scrubber_drops_events) {
  // TAK Server's ScrubInvalidValues drops an event whose speed is over
  // 999999 m/s or whose course is outside 0..360.
  expect_ok(flat(R"("speed":999999,"course":360)"));
  BOOST_TEST(d.speed == 999999);
  BOOST_TEST(d.course == 360);
  expect_ok(
    feature("[1,2]", R"("uid":"f","time":1795696496789,"speed":999999)"));
  BOOST_TEST(d.speed == 999999);
  expect_refusal(flat(R"("speed":999999.5)"), refusal_reason::out_of_range,
                 "speed");
  expect_refusal(
    feature("[1,2]", R"("uid":"f","time":1795696496789,"speed":1e6)"),
    refusal_reason::out_of_range, "speed");
  expect_refusal(flat(R"("course":360.5)"), refusal_reason::out_of_range,
                 "course");
  expect_refusal(flat(R"("hae":9999999.5)"), refusal_reason::out_of_range,
                 "hae");
  expect_refusal(flat(R"("ce":1e8)"), refusal_reason::out_of_range, "ce");
  expect_refusal(flat(R"("le":1e8)"), refusal_reason::out_of_range, "le");
}

BOOST_AUTO_TEST_CASE(an_out_of_range_detail_gives_the_value_and_the_range) {
  auto r = decode(flat(R"("speed":1000000)"));
  BOOST_TEST_REQUIRE(r.has_value());
  BOOST_TEST(r->detail == "speed 1000000 outside [0, 999999]");
  r = decode(flat(R"("lat":-90.0001)"));
  BOOST_TEST_REQUIRE(r.has_value());
  BOOST_TEST(r->detail == "lat -90.0001 outside [-90, 90]");
  r = decode(feature("[1,2,-30000]"));
  BOOST_TEST_REQUIRE(r.has_value());
  BOOST_TEST(r->detail == "hae -30000 outside [-20000, 9999999]");
}

BOOST_AUTO_TEST_CASE(clamping_sets_each_track_and_error_number_to_its_bound) {
  dec.clamp_out_of_range(true);
  full.clamp_out_of_range(true);
  expect_ok_both(
    flat(R"("hae":-30000,"ce":-1,"le":1e8,"course":400,"speed":1000000)"));
  BOOST_TEST(d.hae == -20000);
  BOOST_TEST(d.ce == 0);
  BOOST_TEST(d.le == 9999999);
  BOOST_TEST(d.course == 360);
  BOOST_TEST(d.speed == 999999);
  BOOST_TEST(d.clamped
             == (cotflow::clamped_hae | cotflow::clamped_ce
                 | cotflow::clamped_le | cotflow::clamped_course
                 | cotflow::clamped_speed));
  BOOST_TEST(cotflow::clamped_count(d.clamped) == 5u);
  expect_ok(flat(R"("course":-0.5,"speed":12)"));
  BOOST_TEST(d.course == 0);
  BOOST_TEST(d.speed == 12);
  BOOST_TEST(d.clamped == cotflow::clamped_course);
  expect_ok(
    feature("[1,2,1e8]", R"("uid":"f","time":1795696496789,"speed":-3)"));
  BOOST_TEST(d.hae == 9999999);
  BOOST_TEST(d.speed == 0);
  BOOST_TEST(d.clamped == (cotflow::clamped_hae | cotflow::clamped_speed));
  expect_ok(feature("[1,2]", R"("uid":"f","time":1795696496789,"hae":-1e6)"));
  BOOST_TEST(d.hae == -20000);
  BOOST_TEST(d.clamped == cotflow::clamped_hae);
  // In range: nothing to say, and the next record starts clean.
  expect_ok(flat(R"("speed":999999,"course":0)"));
  BOOST_TEST(d.clamped == 0);
}

BOOST_AUTO_TEST_CASE(clamping_leaves_positions_and_non_numbers_refused) {
  dec.clamp_out_of_range(true);
  full.clamp_out_of_range(true);
  expect_refusal(flat(R"("lat":91,"speed":2e6)"), refusal_reason::out_of_range,
                 "lat");
  expect_refusal(flat(R"("lon":-181)"), refusal_reason::out_of_range, "lon");
  expect_refusal(feature("[181,1]"), refusal_reason::out_of_range, "lon");
  expect_refusal(flat(R"("confidence":2)"), refusal_reason::out_of_range,
                 "confidence");
  expect_refusal(flat(R"("stale_s":0)"), refusal_reason::out_of_range,
                 "stale_s");
  expect_refusal(flat(R"("speed":Infinity)"), refusal_reason::non_finite,
                 "speed");
  expect_refusal(flat(R"("course":"400")"), refusal_reason::wrong_type,
                 "course");
}

BOOST_AUTO_TEST_CASE(the_configuration_chooses_refuse_or_clamp) {
  auto cfg = cotflow::default_config();
  BOOST_TEST(cfg.cot.out_of_range == "refuse");
  detection out;
  BOOST_TEST(decoder{cfg}.decode(flat(R"("speed":1e6)"), out).has_value());
  cfg.cot.out_of_range = "clamp";
  BOOST_TEST(!decoder{cfg}.decode(flat(R"("speed":1e6)"), out).has_value());
  BOOST_TEST(out.speed == 999999);
  BOOST_TEST(out.clamped == cotflow::clamped_speed);
}

BOOST_AUTO_TEST_CASE(an_id_longer_than_256_characters_is_out_of_range) {
  std::string id256(256, 'x');
  expect_ok(
    object(R"("id":")" + id256 + R"(","time":1795696496789,"lat":1,"lon":2)"));
  BOOST_TEST(d.id == id256);
  expect_refusal(
    object(R"("id":")" + id256 + R"(x","time":1795696496789,"lat":1,"lon":2)"),
    refusal_reason::out_of_range, "id");
  expect_refusal(
    feature("[1,2]", R"("time":1795696496789)", R"("id":")" + id256 + R"(y")"),
    refusal_reason::out_of_range, "id");
}

BOOST_AUTO_TEST_CASE(non_finite_numbers_are_named) {
  expect_refusal(flat(R"("lat":NaN)"), refusal_reason::non_finite, "lat");
  expect_refusal(flat(R"("lon":Infinity)"), refusal_reason::non_finite, "lon");
  expect_refusal(flat(R"("hae":-Infinity)"), refusal_reason::non_finite, "hae");
  expect_refusal(flat(R"("speed":NaN)"), refusal_reason::non_finite, "speed");
  expect_refusal(flat(R"("time":NaN)"), refusal_reason::non_finite, "time");
  expect_refusal(feature("[NaN,1]"), refusal_reason::non_finite, "lon");
  expect_refusal(feature("[1,2,Infinity]"), refusal_reason::non_finite, "hae");
}

BOOST_AUTO_TEST_CASE(a_number_too_big_for_a_double_is_non_finite) {
  auto r = decode(flat(R"("lat":1e999)"));
  BOOST_TEST_REQUIRE(r.has_value());
  BOOST_TEST(to_string(r->reason) == "non_finite");
  r = decode(flat(R"("ce":-1e999)"));
  BOOST_TEST_REQUIRE(r.has_value());
  BOOST_TEST(to_string(r->reason) == "non_finite");
}

BOOST_AUTO_TEST_CASE(a_time_that_is_not_rfc3339_is_a_bad_time) {
  expect_refusal(flat(R"("time":"yesterday")"), refusal_reason::bad_time,
                 "time");
  expect_refusal(flat(R"("time":"2026-11-26 12:34")"), refusal_reason::bad_time,
                 "time");
  expect_refusal(flat(R"("time":"2026-11-26T12:34:56")"),
                 refusal_reason::bad_time, "time");
  expect_refusal(flat(R"("time":"2026-13-26T12:34:56Z")"),
                 refusal_reason::bad_time, "time");
  expect_refusal(feature("[1,2]", R"("uid":"f","time":"soon")"),
                 refusal_reason::bad_time, "time");
  expect_refusal(
    feature("[1,2]", R"("uid":"f","time":1795696496789,"stale":"later")"),
    refusal_reason::bad_time, "stale");
}

BOOST_AUTO_TEST_CASE(epoch_seconds_are_a_bad_time) {
  expect_refusal(flat(R"("time":1700000000)"), refusal_reason::bad_time,
                 "time");
  expect_refusal(flat(R"("time":0)"), refusal_reason::bad_time, "time");
  expect_refusal(flat(R"("time":-5)"), refusal_reason::bad_time, "time");
  // Beyond int64 (a cast there would be undefined behaviour).
  expect_refusal(flat(R"("time":1e300)"), refusal_reason::bad_time, "time");
  expect_refusal(flat(R"("time":-1e19)"), refusal_reason::bad_time, "time");
  expect_refusal(flat(R"("time":"1700000000")"), refusal_reason::bad_time,
                 "time");
}

BOOST_AUTO_TEST_CASE(geometries_tak_cannot_draw_are_unsupported) {
  expect_refusal(R"({"type":"Feature","geometry":{"type":"MultiPolygon",)"
                 R"("coordinates":[[[[1,2],[3,4],[1,2]]]]},"properties":{}})",
                 refusal_reason::unsupported_geometry, "MultiPolygon");
  expect_refusal(R"({"type":"Feature","geometry":{"type":"Polygon",)"
                 R"("coordinates":[[[0,0],[4,0],[4,4],[0,0]],)"
                 R"([[1,1],[2,1],[2,2],[1,1]]]},"properties":{"uid":"a",)"
                 R"("time":1795696496789}})",
                 refusal_reason::unsupported_geometry, "holes");
  expect_refusal(R"({"type":"FeatureCollection","features":[)" + feature()
                   + "]}",
                 refusal_reason::unsupported_geometry, "FeatureCollection");
}

BOOST_AUTO_TEST_CASE(the_first_problem_in_field_order_is_reported) {
  // A refusal is stable for the same input: decoding twice gives the same.
  auto bytes = flat(R"("lat":91,"confidence":2)");
  auto a = decode(bytes);
  auto b = decode(bytes);
  BOOST_TEST_REQUIRE(a.has_value());
  BOOST_TEST_REQUIRE(b.has_value());
  BOOST_TEST(to_string(a->reason) == to_string(b->reason));
  BOOST_TEST(a->detail == b->detail);
}

BOOST_AUTO_TEST_SUITE_END()

// What JSON can spell and UTF-8 or XML cannot carry (lone surrogates,
// U+0000, U+FFFE, controls): refused in an id or source, replaced in text,
// by the fast path and RapidJSON alike.
BOOST_FIXTURE_TEST_SUITE(text_xml_can_carry, fixture)

namespace {

const std::string fffd = "\xEF\xBF\xBD";

/// Escapes that decode to what text may not hold, each with what the text
/// "x<escape>y" becomes.
const std::pair<const char*, std::string> replaced[] = {
  {R"(\udc00)", "x" + fffd + "y"},
  {R"(\udfff)", "x" + fffd + "y"},
  {R"(\udc00\udc00)", "x" + fffd + fffd + "y"},
  {R"(\u0000)", "x" + fffd + "y"},
  {R"(\u0001)", "x" + fffd + "y"},
  {R"(\u001f)", "x" + fffd + "y"},
  {R"(\ufffe)", "x" + fffd + "y"},
  {R"(\uffff)", "x" + fffd + "y"},
};

} // namespace

BOOST_AUTO_TEST_CASE(text_replaces_what_xml_cannot_carry) {
  for (auto& [escape, want] : replaced)
    for (auto field : {"callsign", "remarks", "classification", "geopointsrc"})
      BOOST_TEST_CONTEXT(field << " with " << escape) {
        expect_ok_both(
          flat(std::string{"\""} + field + "\":\"x" + escape + "y\""));
        auto& got = std::string{field} == "callsign"         ? d.callsign
                    : std::string{field} == "remarks"        ? d.remarks
                    : std::string{field} == "classification" ? d.classification
                                                             : d.geopointsrc;
        BOOST_TEST(got == want);
        BOOST_TEST(d.replaced_chars == (want.size() - 2) / 3);
      }
}

BOOST_AUTO_TEST_CASE(text_keeps_what_xml_can_carry) {
  // Tab and line breaks, DEL and C1 controls, a surrogate pair, the last
  // characters before the two that XML excludes.
  expect_ok_both(flat(
    R"("remarks":"a\tb\nc\rd\u007f\u0085\ud83d\ude00\ufffd\ud7ff\ue000")"));
  BOOST_TEST(d.remarks
             == "a\tb\nc\rd\x7f\xc2\x85\xf0\x9f\x98\x80\xef\xbf\xbd"
                "\xed\x9f\xbf\xee\x80\x80");
  BOOST_TEST(d.replaced_chars == 0u);
}

BOOST_AUTO_TEST_CASE(wrong_surrogate_pairs_are_invalid_json) {
  for (auto bad : {R"(\ud800)", R"(\udbff)", R"(\ud800\u0041)",
                   R"(\ud800\ud800)", R"(\udc00\ud800)", R"(\ud800x)"})
    expect_refusal(flat(std::string{R"("callsign":"x)"} + bad + "y\""),
                   refusal_reason::invalid_json, "");
}

BOOST_AUTO_TEST_CASE(an_id_or_source_that_text_rules_would_alter_is_refused) {
  // Replacing would make "a\u0001" and "a\u0002" one TAK uid and one
  // Kafka key: such an id is refused, never altered.
  for (auto& [escape, want] : replaced) {
    expect_refusal(flat(std::string{R"("id":"x)"} + escape + "y\""),
                   refusal_reason::invalid_id, "id holds U+");
    expect_refusal(flat(std::string{R"("source":"x)"} + escape + "y\""),
                   refusal_reason::invalid_id, "source holds U+");
    expect_refusal(feature("[1,2]", std::string{R"("uid":"x)"} + escape
                                      + R"(y","time":1795696496789)"),
                   refusal_reason::invalid_id, "uid holds U+");
  }
  // Controls XML allows are refused in ids too: tab, line breaks, DEL, C1.
  for (auto escape :
       {R"(\t)", R"(\n)", R"(\r)", R"(\u007f)", R"(\u0085)", R"(\u009f)"})
    expect_refusal(flat(std::string{R"("id":"x)"} + escape + "y\""),
                   refusal_reason::invalid_id, "(a control character)");
  expect_refusal(flat(R"("id":"lone-\udc00")"), refusal_reason::invalid_id,
                 "U+DC00 (a lone surrogate) at byte 5");
}

BOOST_AUTO_TEST_CASE(ids_may_hold_any_other_character) {
  expect_ok_both(flat(R"("id":"\u00e9t\u00e9-\ud83d\ude00 \u00a0")"));
  BOOST_TEST(d.id == "\xc3\xa9t\xc3\xa9-\xf0\x9f\x98\x80 \xc2\xa0");
}

BOOST_AUTO_TEST_CASE(raw_bytes_that_are_not_utf8_are_invalid_json) {
  // Overlong forms, encoded surrogates, past U+10FFFF, stray continuation
  // bytes and cut sequences, in text and in an id.
  for (auto bad :
       {"\xc0\xaf", "\xc1\xbf", "\xe0\x80\xaf", "\xe0\x9f\xbf", "\xed\xa0\x80",
        "\xed\xbf\xbf", "\xf0\x80\x80\xaf", "\xf4\x90\x80\x80",
        "\xf5\x80\x80\x80", "\x80", "\xbf", "\xe2\x82", "\xf0\x9f\x98"}) {
    expect_refusal(flat(std::string{"\"callsign\":\"x"} + bad + "y\""),
                   refusal_reason::invalid_json, "");
    expect_refusal(flat(std::string{"\"id\":\"x"} + bad + "y\""),
                   refusal_reason::invalid_json, "");
  }
}

BOOST_AUTO_TEST_CASE(a_geometry_type_in_a_refusal_is_utf8) {
  // The detail goes into a Kafka header.
  expect_refusal(
    R"({"type":"Feature","geometry":{"type":"Line\udc00","coordinates":[1,2]},)"
    R"("properties":{"uid":"a","time":1795696496789}})",
    refusal_reason::unsupported_geometry, "Line" + fffd);
}

BOOST_AUTO_TEST_CASE(long_text_is_cut_on_a_character_boundary) {
  expect_ok_both(flat(R"("remarks":")" + std::string(5000, 'r') + "\""));
  BOOST_TEST(d.remarks.size() == 4096u);
  BOOST_TEST(d.remarks == std::string(4093, 'r') + "\xE2\x80\xA6");
  BOOST_TEST(d.truncated_fields == 1u);
  // A two-byte character across the limit is dropped whole.
  dec.max_text(20);
  std::string e = "\xc3\xa9";
  expect_ok(flat(R"("callsign":")" + std::string(16, 'c') + e + e + e
                 + R"(","remarks":"short")"));
  BOOST_TEST(d.callsign == std::string(16, 'c') + "\xE2\x80\xA6");
  BOOST_TEST(d.remarks == "short");
  BOOST_TEST(d.truncated_fields == 1u);
  // At the limit exactly: kept as it is.
  expect_ok(flat(R"("callsign":")" + std::string(20, 'c') + "\""));
  BOOST_TEST(d.callsign == std::string(20, 'c'));
  BOOST_TEST(d.truncated_fields == 0u);
}

BOOST_AUTO_TEST_CASE(long_ids_and_codes_stay_refused) {
  dec.max_text(20);
  expect_refusal(flat(R"("id":")" + std::string(300, 'i') + "\""),
                 refusal_reason::out_of_range, "id");
  expect_refusal(flat(R"("geopointsrc":")" + std::string(65, 'g') + "\""),
                 refusal_reason::out_of_range, "geopointsrc");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(hostile_input)

BOOST_AUTO_TEST_CASE(deep_nesting_is_refused_without_exhausting_the_stack) {
  // 30,000 levels: a recursive parser would overflow a worker's stack.
  decoder dec{max_bytes};
  detection d;
  std::string deep(30000, '[');
  deep += std::string(30000, ']');
  auto r = dec.decode(deep, d);
  BOOST_REQUIRE(r.has_value());
  BOOST_TEST((r->reason == refusal_reason::not_an_object));
  std::string nested = flat("\"extra\":" + std::string(20000, '[')
                            + std::string(20000, ']'));
  BOOST_TEST(!dec.decode(nested, d).has_value());
  BOOST_TEST(d.id == "t1");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(fast_parser)

namespace {

/// The same text field by field; NaN equals NaN.
void expect_same(const cotflow::detection& a, const cotflow::detection& b) {
  auto same = [](double x, double y) {
    return (std::isnan(x) && std::isnan(y))
           || (x == y && std::signbit(x) == std::signbit(y));
  };
  BOOST_TEST(a.id == b.id);
  BOOST_TEST(a.source == b.source);
  BOOST_TEST(a.classification == b.classification);
  BOOST_TEST(a.affiliation == b.affiliation);
  BOOST_TEST(a.callsign == b.callsign);
  BOOST_TEST(a.remarks == b.remarks);
  BOOST_TEST(a.type == b.type);
  BOOST_TEST(a.how == b.how);
  BOOST_TEST(a.geopointsrc == b.geopointsrc);
  BOOST_TEST(a.altsrc == b.altsrc);
  BOOST_TEST(a.time_ms == b.time_ms);
  BOOST_TEST(a.start_ms == b.start_ms);
  BOOST_TEST(a.stale_ms == b.stale_ms);
  BOOST_TEST(a.ended == b.ended);
  BOOST_TEST(a.replaced_chars == b.replaced_chars);
  BOOST_TEST(a.truncated_fields == b.truncated_fields);
  for (auto [x, y] : {std::pair{a.lat, b.lat},
                      {a.lon, b.lon},
                      {a.hae, b.hae},
                      {a.ce, b.ce},
                      {a.le, b.le},
                      {a.confidence, b.confidence},
                      {a.course, b.course},
                      {a.speed, b.speed},
                      {a.stale_s, b.stale_s}})
    BOOST_TEST(same(x, y), x << " vs " << y);
}

} // namespace

BOOST_AUTO_TEST_CASE(it_decodes_every_record_as_rapidjson_does) {
  // Generated records of both shapes with their malformed share, and
  // mutations of them with the bytes where the two parsers could differ.
  // A failure prints the record.
  decoder fast{max_bytes, true};
  decoder full{max_bytes, false};
  cotflow::detection a, b;
  cotflow::detection_generator gen{{7, 40, 5, 0.05, 0.5, 0}};
  std::mt19937_64 rng{11};
  // std::string literals ("..."s): the NUL bytes are part of them.
  const std::string alphabet = "\"\\{}[],:0123456789.-+eE \t\n\x01\x1f"
                               "\x7f\x80\xc3\xa9\xed\0tfnulaxNIudDcCfF"s;
  // Escapes spliced in whole: the ones UTF-8 or XML cannot carry as they
  // are, and their neighbours.
  const std::vector<std::string> escapes = {
    R"(\u0000)",       R"(\u001f)", R"(\ud800)",       R"(\udbff)",
    R"(\udc00)",       R"(\udfff)", R"(\ud83d\ude00)", R"(\ud800\ud800)",
    R"(\udc00\ud800)", R"(\ufffe)", R"(\uffff)",       R"(\u0085)",
    R"(\u00e9)",       R"(\t)"};
  cotflow::generated_record rec;
  std::vector<std::string> inputs = {
    "",
    " ",
    "{}",
    "[]",
    "0",
    "-0",
    "-0.0",
    "1.",
    ".5",
    "01",
    "1e5",
    "-",
    "123456789012345",
    "1234567890123456",
    "0.000000000000001",
    "999999999999999.9",
    R"({"a":-0,"b":-0.0})",
    "nul",
    "tru",
    "{\"a\"",
    "{\"a\":}",
    "{\"a\" 1}",
    "[1,]",
    "{,}",
    "\"abc",
    "{\"x\":1}\0junk"s,
    "\0{}"s,
    "[1,\0]"s,
    "{\"x\":1} x",
    "\xEF\xBB\xBF{\"id\":1}",
  };
  for (int i = 0; i < 4000; ++i) {
    gen.next(rec, 1795696496789 + i);
    inputs.push_back(rec.payload);
    for (int m = 0; m < 5; ++m) {
      auto t = rec.payload;
      auto at = std::uniform_int_distribution<size_t>{0, t.size()}(rng);
      if (m == 4) {
        // An escape inside a string: after a quote that opens a value.
        auto quote = t.find(":\"", at);
        if (quote == std::string::npos)
          quote = t.find(":\"");
        if (quote != std::string::npos)
          t.insert(quote + 2, escapes[std::uniform_int_distribution<size_t>{
                                0, escapes.size() - 1}(rng)]);
        inputs.push_back(std::move(t));
        continue;
      }
      auto c = alphabet[std::uniform_int_distribution<size_t>{0, alphabet.size()
                                                                   - 1}(rng)];
      switch (m) {
        case 0:
          t.insert(t.begin() + static_cast<long>(at), c);
          break;
        case 1:
          if (at < t.size())
            t[at] = c;
          break;
        case 2:
          t.resize(at);
          break;
        default:
          if (at < t.size())
            t.erase(at, 1);
          break;
      }
      inputs.push_back(std::move(t));
    }
  }
  for (auto& in : inputs) {
    BOOST_TEST_CONTEXT(in) {
      auto ra = fast.decode(in, a);
      auto rb = full.decode(in, b);
      BOOST_TEST_REQUIRE(ra.has_value() == rb.has_value());
      if (ra) {
        BOOST_TEST(to_string(ra->reason) == to_string(rb->reason));
        BOOST_TEST(ra->detail == rb->detail);
      } else {
        expect_same(a, b);
        expect_xml_safe(a);
      }
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()

// The vectors of decoder_vectors.txt, which the JSON Schema test
// (decoder_schema) reads too: the verdicts docs/input-format.md promises.
BOOST_AUTO_TEST_SUITE(vectors)

BOOST_AUTO_TEST_CASE(every_vector_gets_its_verdict_from_both_parsers) {
  namespace dv = cotflow::decoder_vectors;
  auto vectors = dv::load(COTFLOW_DECODER_VECTORS);
  BOOST_TEST_REQUIRE(vectors.size() > 100u);
  for (const auto& v : vectors)
    for (bool fast : {true, false})
      BOOST_TEST_CONTEXT("line " << v.line << ": " << v.name
                                 << (fast ? "" : " (RapidJSON alone)")) {
        auto r = dv::decode(v, fast);
        std::string got = r ? std::string{to_string(r->reason)} : "accept";
        BOOST_TEST(got == v.verdict, got << (r ? ": " + r->detail : ""));
        if (r && !v.detail_word.empty())
          BOOST_TEST(r->detail.find(v.detail_word) != std::string::npos,
                     "detail '" << r->detail << "' holds '" << v.detail_word
                                << "'");
      }
}

BOOST_AUTO_TEST_CASE(every_refusal_reason_has_a_vector_and_names_are_unique) {
  auto vectors = cotflow::decoder_vectors::load(COTFLOW_DECODER_VECTORS);
  std::set<std::string> names;
  std::set<std::string> verdicts;
  for (const auto& v : vectors) {
    BOOST_TEST(names.insert(v.name).second,
               "line " << v.line << ": " << v.name << " again");
    verdicts.insert(v.verdict);
  }
  for (auto r :
       {refusal_reason::too_large, refusal_reason::invalid_json,
        refusal_reason::not_an_object, refusal_reason::missing_field,
        refusal_reason::wrong_type, refusal_reason::out_of_range,
        refusal_reason::non_finite, refusal_reason::bad_time,
        refusal_reason::unsupported_geometry, refusal_reason::invalid_id})
    BOOST_TEST(verdicts.count(std::string{to_string(r)}) == 1u, to_string(r));
  BOOST_TEST(verdicts.count("accept") == 1u);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(drawings_and_cloudtak_properties, fixture)

/// A Feature of geometry `geometry` (JSON) with properties `props` besides
/// its uid and time.
std::string drawing(const std::string& geometry, const std::string& props) {
  return R"({"type":"Feature","geometry":)" + geometry
         + R"(,"properties":{"uid":"s1","time":1795696496789)"
         + (props.empty() ? "" : "," + props) + "}}";
}

/// Decodes `bytes` with both parsers, requiring both to accept it alike
/// (the drawing and the elements included).
void decode_both(fixture& f, const std::string& bytes) {
  BOOST_TEST_CONTEXT(bytes) {
    auto r = f.decode(bytes);
    BOOST_TEST_REQUIRE(!r.has_value(), (r ? r->detail : ""));
    detection other;
    BOOST_TEST_REQUIRE(!f.full.decode(bytes, other).has_value());
    BOOST_TEST(other.shape.vertices == f.d.shape.vertices);
    BOOST_TEST(other.extra_detail.size() == f.d.extra_detail.size());
    BOOST_TEST(other.contact_attrs.size() == f.d.contact_attrs.size());
  }
}

using shape_t = cotflow::drawing::shape_t;

BOOST_AUTO_TEST_CASE(a_linestring_is_a_u_d_f_line_with_its_vertices) {
  decode_both(*this,
              drawing(R"({"type":"LineString","coordinates":[[1,2],[3,4],)"
                      R"([5,6,7]]})",
                      ""));
  BOOST_TEST((d.shape.shape == shape_t::line));
  BOOST_TEST(d.type == "u-d-f");
  BOOST_TEST_REQUIRE(d.shape.vertices.size() == 3u);
  BOOST_TEST(d.shape.vertices[0].first == 2.0); // lat
  BOOST_TEST(d.shape.vertices[0].second == 1.0);
  // Its point is the middle vertex.
  BOOST_TEST(d.lat == 4.0);
  BOOST_TEST(d.lon == 3.0);
  // simplestyle-spec's defaults; a line is never filled.
  BOOST_TEST(d.shape.stroke_argb == static_cast<int32_t>(0xFF555555u));
  BOOST_TEST(d.shape.fill_argb == 0);
  BOOST_TEST(d.shape.stroke_width == 2.0);
  BOOST_TEST(d.shape.stroke_style == "solid");
  BOOST_TEST(d.shape.labels == -1);
}

BOOST_AUTO_TEST_CASE(a_polygon_ring_is_closed_and_its_point_is_the_mean) {
  decode_both(*this, drawing(R"({"type":"Polygon","coordinates":)"
                             R"([[[0,0],[4,0],[4,2],[0,2]]]})",
                             R"("fill":"#0F0","fill-opacity":0.25,)"
                             R"("stroke":-65536,"stroke-width":4.5,)"
                             R"("stroke-style":"dashed","labels":false)"));
  BOOST_TEST((d.shape.shape == shape_t::polygon));
  BOOST_TEST_REQUIRE(d.shape.vertices.size() == 5u);
  BOOST_TEST((d.shape.vertices.front() == d.shape.vertices.back()));
  BOOST_TEST(d.lat == 1.0);
  BOOST_TEST(d.lon == 2.0);
  // #0F0 at 0.25: alpha round(63.75) = 64.
  BOOST_TEST(d.shape.fill_argb == 0x4000FF00);
  BOOST_TEST(d.shape.stroke_argb == -65536);
  BOOST_TEST(d.shape.stroke_width == 4.5);
  BOOST_TEST(d.shape.stroke_style == "dashed");
  BOOST_TEST(d.shape.labels == 0);
}

BOOST_AUTO_TEST_CASE(a_polygon_across_the_antimeridian_has_its_point_on_it) {
  decode_both(*this, drawing(R"({"type":"Polygon","coordinates":)"
                             R"([[[179,0],[-179,0],[-179,2],[179,2]]]})",
                             ""));
  BOOST_TEST(d.lat == 1.0);
  BOOST_TEST(std::fabs(std::fabs(d.lon) - 180.0) < 1e-9);
  decode_both(*this, drawing(R"({"type":"Polygon","coordinates":)"
                             R"([[[170,0],[179,0],[-178,2],[175,2]]]})",
                             ""));
  BOOST_TEST(std::fabs(d.lon - 176.5) < 1e-9);
}

BOOST_AUTO_TEST_CASE(a_drawing_keeps_its_given_type_and_center) {
  decode_both(*this,
              drawing(R"({"type":"LineString","coordinates":[[1,2],[3,4]]})",
                      R"("type":"b-m-r","center":[10,20,30])"));
  BOOST_TEST(d.type == "b-m-r");
  BOOST_TEST(d.lat == 20.0);
  BOOST_TEST(d.lon == 10.0);
  BOOST_TEST(d.hae == 30.0);
}

BOOST_AUTO_TEST_CASE(the_vertex_limit_is_a_setting) {
  dec.max_vertices(4);
  auto five = drawing(R"({"type":"LineString","coordinates":)"
                      R"([[1,1],[2,2],[3,3],[4,4],[5,5]]})",
                      "");
  auto r = decode(five);
  BOOST_TEST_REQUIRE(r.has_value());
  BOOST_TEST(r->detail.find("cot.max_vertices (4)") != std::string::npos);
  // A ring of four that closing would make five is refused too.
  r = decode(drawing(R"({"type":"Polygon","coordinates":)"
                     R"([[[0,0],[1,0],[1,1],[0,1]]]})",
                     ""));
  BOOST_TEST_REQUIRE(r.has_value());
  BOOST_TEST(to_string(r->reason) == "out_of_range");
}

/// The attribute `name` of `attrs`, or "(none)".
std::string attr(const std::vector<cotflow::xml_attr>& attrs,
                 const std::string& name) {
  for (auto& a : attrs)
    if (a.name == name)
      return a.value;
  return "(none)";
}

/// The first element named `name` of `d`'s extra detail, or null.
const cotflow::detail_element* element(const detection& d,
                                       const std::string& name) {
  for (auto& e : d.extra_detail)
    if (e.name == name)
      return &e;
  return nullptr;
}

BOOST_AUTO_TEST_CASE(every_cloudtak_property_becomes_its_element) {
  decode_both(
    *this,
    feature("[1,2]",
            R"("uid":"p1","time":1795696496789,"archived":true,)"
            R"("icon":"set-1:Military/soldier","marker-color":"#FF0000",)"
            R"("marker-opacity":0.5,"group":{"name":"Cyan","role":"HQ"},)"
            R"("contact":{"phone":"+1555","endpoint":"*:-1:stcp",)"
            R"("callsign":"ignored"},"status":{"battery":88.5,)"
            R"("readiness":true},"links":[{"uid":"cam-7","relation":"p-p"}],)"
            R"("dest":{"callsign":"Alpha"},"milsym":{"id":"S"},)"
            R"("milicon":{"id":"1003"},"takv":{"device":"d","os":"o"},)"
            R"("mission":{"name":"ops","missionLayer":{"uid":"l-1"}},)"
            R"("precisionlocation":{"geopointsrc":"GPS","altsrc":"DTED2"})"));
  BOOST_TEST(attr(d.contact_attrs, "phone") == "+1555");
  BOOST_TEST(attr(d.contact_attrs, "endpoint") == "*:-1:stcp");
  BOOST_TEST(attr(d.contact_attrs, "callsign") == "(none)");
  BOOST_TEST(d.geopointsrc == "GPS");
  BOOST_TEST(d.altsrc == "DTED2");
  auto group = element(d, "__group");
  BOOST_TEST_REQUIRE(group);
  BOOST_TEST(attr(group->attrs, "name") == "Cyan");
  BOOST_TEST(attr(group->attrs, "role") == "HQ");
  BOOST_TEST(attr(element(d, "status")->attrs, "battery") == "88.5");
  BOOST_TEST(attr(element(d, "status")->attrs, "readiness") == "true");
  BOOST_TEST(attr(element(d, "link")->attrs, "relation") == "p-p");
  auto marti = element(d, "marti");
  BOOST_TEST_REQUIRE(marti);
  BOOST_TEST_REQUIRE(marti->children.size() == 1u);
  BOOST_TEST(attr(marti->children[0].attrs, "callsign") == "Alpha");
  BOOST_TEST(attr(element(d, "__milsym")->attrs, "id") == "S");
  BOOST_TEST(attr(element(d, "__milicon")->attrs, "id") == "1003");
  BOOST_TEST(attr(element(d, "takv")->attrs, "os") == "o");
  auto mission = element(d, "mission");
  BOOST_TEST_REQUIRE(mission);
  BOOST_TEST_REQUIRE(mission->children.size() == 1u);
  BOOST_TEST(std::string{mission->children[0].children.at(0).name} == "uid");
  BOOST_TEST(mission->children[0].children.at(0).text == "l-1");
  BOOST_TEST(element(d, "archive"));
  // CloudTAK's web form of an icon is ATAK's path to its file.
  BOOST_TEST(attr(element(d, "usericon")->attrs, "iconsetpath")
             == "set-1/Military/soldier.png");
  BOOST_TEST(d.has_icon);
  // #FF0000 at 0.5: alpha 128, written as ATAK's signed ARGB.
  BOOST_TEST(attr(element(d, "color")->attrs, "argb")
             == std::to_string(static_cast<int32_t>(0x80FF0000u)));
  BOOST_TEST(d.has_color);
}

BOOST_AUTO_TEST_CASE(flat_precisionlocation_fields_win_over_the_nested_one) {
  decode_both(*this,
              feature("[1,2]", R"("uid":"p1","time":1795696496789,)"
                               R"("geopointsrc":"USER",)"
                               R"("precisionlocation":{"geopointsrc":"GPS",)"
                               R"("altsrc":"DTED2"})"));
  BOOST_TEST(d.geopointsrc == "USER");
  BOOST_TEST(d.altsrc == "DTED2");
}

BOOST_AUTO_TEST_CASE(element_text_follows_the_text_rule) {
  // \u0000 is no XML character: replaced and counted, as in a callsign.
  decode_both(*this, feature("[1,2]", R"("uid":"p1","time":1795696496789,)"
                                      R"("group":{"name":"a\u0000b"})"));
  auto group = element(d, "__group");
  BOOST_TEST_REQUIRE(group);
  BOOST_TEST(attr(group->attrs, "name")
             == "a\xEF\xBF\xBD"
                "b");
  BOOST_TEST(d.replaced_chars == 1u);
}

BOOST_AUTO_TEST_CASE(a_decoder_reused_forgets_the_previous_drawing) {
  decode_both(*this,
              drawing(R"({"type":"LineString","coordinates":[[1,2],[3,4]]})",
                      R"("group":{"name":"Red"})"));
  BOOST_TEST_REQUIRE(!decode(feature()).has_value());
  BOOST_TEST((d.shape.shape == shape_t::none));
  BOOST_TEST(d.shape.vertices.empty());
  BOOST_TEST(d.extra_detail.empty());
  BOOST_TEST(!d.has_icon);
}

BOOST_AUTO_TEST_SUITE_END()
