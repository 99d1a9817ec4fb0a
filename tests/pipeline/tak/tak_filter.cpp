#include <boost/test/unit_test.hpp>

#include "config/config.hpp"
#include "pipeline/codec/cot_encoder.hpp"
#include "pipeline/codec/decoder.hpp"
#include "pipeline/tak/tak_filter.hpp"
#include "pipeline/tak/url/url.hpp"

using namespace cotflow;

namespace {

tak_url parse(const std::string& url) {
  std::string err;
  auto u = parse_tak_url(url, err);
  BOOST_REQUIRE_MESSAGE(u, err);
  return *u;
}

} // namespace

BOOST_AUTO_TEST_CASE(without_filters_a_destination_takes_everything) {
  auto u = parse("tcp://h:8087");
  BOOST_TEST(destination_accepts(u, "a-h-G", "cam-1"));
  BOOST_TEST(destination_accepts(u, "t-x-d-d", ""));
}

BOOST_AUTO_TEST_CASE(type_prefixes_match_whole_components) {
  auto u = parse("tcp://h:8087?types=a-h|a-u-G");
  BOOST_TEST(destination_accepts(u, "a-h-G-U-C-I", ""));
  BOOST_TEST(destination_accepts(u, "a-h", ""));
  BOOST_TEST(destination_accepts(u, "a-u-G-E-V", ""));
  BOOST_TEST(!destination_accepts(u, "a-u-A", ""));
  BOOST_TEST(!destination_accepts(u, "a-f-G", ""));
  // a-h must not match a-hx.
  BOOST_TEST(!destination_accepts(parse("tcp://h:1?types=a-h"), "a-hx-G", ""));
}

BOOST_AUTO_TEST_CASE(affiliations_take_words_or_letters) {
  auto u = parse("tcp://h:8087?affiliations=hostile|u");
  BOOST_TEST(destination_accepts(u, "a-h-G", ""));
  BOOST_TEST(destination_accepts(u, "a-u-S", ""));
  BOOST_TEST(!destination_accepts(u, "a-f-G", ""));
  BOOST_TEST(!destination_accepts(u, "t-x-d-d", ""));
}

BOOST_AUTO_TEST_CASE(sources_match_exactly_and_filters_combine) {
  auto u = parse("tcp://h:8087?sources=cam-1|radar-2&types=a-h");
  BOOST_TEST(destination_accepts(u, "a-h-G", "cam-1"));
  BOOST_TEST(!destination_accepts(u, "a-h-G", "cam-10"));
  BOOST_TEST(!destination_accepts(u, "a-f-G", "radar-2"));
}

BOOST_AUTO_TEST_CASE(bad_filters_are_refused) {
  std::string err;
  BOOST_TEST(!parse_tak_url("tcp://h:1?types=not a type", err));
  BOOST_TEST(!parse_tak_url("tcp://h:1?affiliations=enemy", err));
  BOOST_TEST(!parse_tak_url("tcp://h:1?coalesce=maybe", err));
  BOOST_TEST(parse("tcp://h:1?coalesce=true").coalesce);
}

BOOST_AUTO_TEST_CASE(an_ended_track_becomes_a_forced_delete_of_its_uid) {
  decoder dec{65536};
  detection d;
  BOOST_REQUIRE(!dec.decode(R"({"id":"7","source":"cam","time":)"
                            R"("2026-11-26T12:00:00Z","lat":1,"lon":2,)"
                            R"("classification":"person","ended":true})",
                            d));
  BOOST_TEST(d.ended);
  cot_encoder enc{default_config().cot};
  std::string xml;
  std::string type;
  auto now = d.time_ms + 1000;
  BOOST_TEST((enc.encode(d, now, xml, &type) == encode_outcome::encoded));
  BOOST_TEST(type == "t-x-d-d");
  BOOST_TEST(xml.find("type=\"t-x-d-d\"") != std::string::npos);
  BOOST_TEST(xml.find("<link uid=\"cam-7\"") != std::string::npos);
  BOOST_TEST(xml.find("<__forcedelete/>") != std::string::npos);
  BOOST_TEST(xml.find("uid=\"cam-7-delete\"") != std::string::npos);
  BOOST_TEST(dec
               .decode(R"({"id":"7","time":"2026-11-26T12:00:00Z",)"
                       R"("lat":1,"lon":2,"ended":"yes"})",
                       d)
               .has_value());
}

BOOST_AUTO_TEST_CASE(a_ping_is_a_t_x_c_t_event) {
  auto ping = ping_event("cotflow-a", 1795696496789);
  BOOST_TEST(ping.find("type=\"t-x-c-t\"") != std::string::npos);
  BOOST_TEST(ping.find("uid=\"cotflow-a\"") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(an_ended_track_needs_no_position) {
  decoder dec{65536};
  detection d;
  BOOST_TEST(!dec
                .decode(R"({"id":"7","time":"2026-11-26T12:00:00Z",)"
                        R"("ended":true})",
                        d)
                .has_value());
  BOOST_TEST(d.ended);
  cot_encoder enc{default_config().cot};
  std::string xml;
  BOOST_TEST((enc.encode(d, d.time_ms, xml) == encode_outcome::encoded));
  BOOST_TEST(xml.find("lat=\"0.0\"") != std::string::npos);
  // Without "ended", the position stays required.
  BOOST_TEST(
    dec.decode(R"({"id":"7","time":"2026-11-26T12:00:00Z"})", d).has_value());
}
