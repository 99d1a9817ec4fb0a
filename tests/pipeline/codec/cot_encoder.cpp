#include <boost/test/unit_test.hpp>

#include "config/config.hpp"
#include "pipeline/codec/cot_encoder.hpp"
#include "pipeline/codec/decoder.hpp"
#include "pipeline/codec/xml_text.hpp"
#include "pipeline/core/detection.hpp"
#include "pipeline/core/time.hpp"
#include "tests/support/cot_schema.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <unistd.h>
#include <vector>

using cotflow::cot_config;
using cotflow::cot_encoder;
using cotflow::detection;
using cotflow::encode_outcome;
using cotflow::test::have_cot_schema;
using cotflow::test::require_cot_schema;
namespace utf = boost::unit_test;

namespace {

// 2026-11-26T12:34:56.789Z, computed with `date -u -d ... +%s`.
constexpr int64_t now = 1795696496789;
const char* const xmllint = "/usr/bin/xmllint";

/// The characters that must never appear raw in any attribute or text.
const std::string nasty = "<x a=\"1\" b='2'>&amp;</x>";

/// One element of a parsed event: its name, attributes and text.
struct element {
  std::string name;
  std::map<std::string, std::string> attrs;
  std::string text;
};

/// Resolves the five named entities and decimal character references;
/// returns nullopt for anything else after '&'.
std::optional<std::string> unescape(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '&') {
      out += s[i];
      continue;
    }
    auto semi = s.find(';', i);
    if (semi == std::string::npos)
      return std::nullopt;
    auto ent = s.substr(i + 1, semi - i - 1);
    if (ent == "lt")
      out += '<';
    else if (ent == "gt")
      out += '>';
    else if (ent == "amp")
      out += '&';
    else if (ent == "quot")
      out += '"';
    else if (ent == "apos")
      out += '\'';
    else if (ent.size() > 1 && ent[0] == '#'
             && ent.find_first_not_of("0123456789", 1) == std::string::npos)
      out += static_cast<char>(std::stoi(ent.substr(1)));
    else
      return std::nullopt;
    i = semi;
  }
  return out;
}

/// A strict little parser for the XML the encoder writes (no prolog, no
/// comments, double-quoted attributes). Fails the test on anything that is
/// not well-formed; returns the elements in document order.
std::vector<element> parse(const std::string& xml) {
  std::vector<element> out;
  std::vector<std::string> open;
  size_t i = 0;
  auto fail = [&](const std::string& why) {
    BOOST_FAIL("not well-formed at byte " << i << ": " << why << "\n" << xml);
  };
  auto name_char = [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-'
           || c == '.' || c == ':';
  };
  while (i < xml.size()) {
    if (xml[i] != '<') {
      auto lt = xml.find('<', i);
      if (lt == std::string::npos || open.empty())
        fail("text outside the root element");
      auto raw = xml.substr(i, lt - i);
      if (raw.find('>') != std::string::npos)
        fail("raw '>' in text");
      auto text = unescape(raw);
      if (!text)
        fail("bad entity in text");
      out.back().text += *text; // text only follows <remarks> here
      i = lt;
      continue;
    }
    ++i;
    if (i < xml.size() && xml[i] == '/') {
      auto gt = xml.find('>', i);
      if (gt == std::string::npos)
        fail("unterminated end tag");
      auto name = xml.substr(i + 1, gt - i - 1);
      if (open.empty() || open.back() != name)
        fail("mismatched end tag " + name);
      open.pop_back();
      i = gt + 1;
      continue;
    }
    element e;
    while (i < xml.size() && name_char(xml[i]))
      e.name += xml[i++];
    if (e.name.empty())
      fail("empty element name");
    bool self_closing = false;
    for (;;) {
      while (i < xml.size() && xml[i] == ' ')
        ++i;
      if (i >= xml.size())
        fail("unterminated start tag");
      if (xml[i] == '>') {
        ++i;
        break;
      }
      if (xml.compare(i, 2, "/>") == 0) {
        i += 2;
        self_closing = true;
        break;
      }
      std::string an;
      while (i < xml.size() && name_char(xml[i]))
        an += xml[i++];
      if (an.empty() || xml.compare(i, 2, "=\"") != 0)
        fail("bad attribute in <" + e.name + ">");
      i += 2;
      auto q = xml.find('"', i);
      if (q == std::string::npos)
        fail("unterminated attribute value");
      auto raw = xml.substr(i, q - i);
      if (raw.find('<') != std::string::npos)
        fail("raw '<' in attribute " + an);
      auto value = unescape(raw);
      if (!value)
        fail("bad entity in attribute " + an);
      if (e.attrs.count(an))
        fail("duplicate attribute " + an);
      e.attrs[an] = *value;
      i = q + 1;
      if (i < xml.size() && xml[i] != ' ' && xml[i] != '>' && xml[i] != '/')
        fail("no space after attribute " + an);
    }
    if (open.empty() && !out.empty())
      fail("second root element");
    if (!self_closing)
      open.push_back(e.name);
    out.push_back(std::move(e));
  }
  if (!open.empty())
    fail("unclosed element " + open.back());
  return out;
}

/// The first element called `name`, failing the test when there is none.
const element& find(const std::vector<element>& es, const std::string& name) {
  for (const auto& e : es)
    if (e.name == name)
      return e;
  BOOST_FAIL("no <" << name << "> element");
  throw 0; // unreachable
}

bool has(const std::vector<element>& es, const std::string& name) {
  for (const auto& e : es)
    if (e.name == name)
      return true;
  return false;
}

cot_config default_cot() {
  return cotflow::default_config().cot;
}

/// A valid detection seen one second before `now`.
detection sample() {
  detection d;
  d.clear();
  d.id = "t1";
  d.time_ms = now - 1000;
  d.lat = 48.5;
  d.lon = -3.25;
  return d;
}

std::string encode_ok(const cot_encoder& enc, const detection& d) {
  std::string xml;
  auto outcome = enc.encode(d, now, xml);
  BOOST_TEST_REQUIRE(to_string(outcome) == "encoded");
  return xml;
}

std::vector<element> encode_and_parse(const cot_encoder& enc,
                                      const detection& d) {
  return parse(encode_ok(enc, d));
}

/// Runs xmllint on `xml` (against the schema at `xsd` unless empty: else
/// only for well-formedness); returns its exit status.
int run_xmllint(const std::string& xml, const std::string& xsd = "") {
  char path[] = "/tmp/cotflow_test_event_XXXXXX";
  int fd = mkstemp(path);
  BOOST_TEST_REQUIRE(fd >= 0);
  close(fd);
  {
    std::ofstream f{path, std::ios::binary};
    f << xml;
  }
  std::string cmd = std::string{xmllint} + " --noout "
                    + (xsd.empty() ? "" : "--schema " + xsd + " ") + path
                    + " >/dev/null 2>&1";
  int rc = std::system(cmd.c_str());
  std::remove(path);
  return rc;
}

} // namespace

BOOST_AUTO_TEST_SUITE(structure)

BOOST_AUTO_TEST_CASE(a_minimal_event_has_every_required_part) {
  cot_encoder enc{default_cot()};
  auto es = encode_and_parse(enc, sample());
  BOOST_TEST_REQUIRE(es.size() >= 3u);
  const auto& ev = es[0];
  BOOST_TEST(ev.name == "event");
  BOOST_TEST(ev.attrs.at("version") == "2.0");
  BOOST_TEST(ev.attrs.at("uid") == "t1");
  BOOST_TEST(ev.attrs.at("type") == "a-u-G");
  BOOST_TEST(ev.attrs.at("how") == "m-g");
  for (auto a : {"time", "start", "stale"})
    BOOST_TEST(ev.attrs.count(a) == 1u);
  const auto& pt = find(es, "point");
  BOOST_TEST(pt.attrs.at("lat") == "48.5000000");
  BOOST_TEST(pt.attrs.at("lon") == "-3.2500000");
  BOOST_TEST(has(es, "detail"));
}

BOOST_AUTO_TEST_CASE(the_flow_tags_element_exists) {
  cot_encoder enc{default_cot()};
  auto es = encode_and_parse(enc, sample());
  const auto& tags = find(es, "_flow-tags_");
  BOOST_TEST(tags.attrs.at("cotflow") == cotflow::rfc3339(now));
}

BOOST_AUTO_TEST_CASE(a_time_cotflow_filled_in_says_where_it_came_from) {
  cot_encoder enc{default_cot()};
  BOOST_TEST(!has(encode_and_parse(enc, sample()), "_cotflow_"));
  auto d = sample();
  d.time_from = detection::time_origin::kafka_timestamp;
  auto es = encode_and_parse(enc, d);
  BOOST_TEST(find(es, "_cotflow_").attrs.at("time_source")
             == "kafka_timestamp");
  BOOST_TEST(es[0].attrs.at("time") == cotflow::rfc3339(d.time_ms));
  d.time_from = detection::time_origin::receive_time;
  BOOST_TEST(find(encode_and_parse(enc, d), "_cotflow_").attrs.at("time_source")
             == "receive_time");
}

BOOST_AUTO_TEST_CASE(numbers_cotflow_clamped_are_named) {
  cot_encoder enc{default_cot()};
  auto d = sample();
  d.speed = 999999;
  d.clamped = cotflow::clamped_speed;
  auto es = encode_and_parse(enc, d);
  const auto& marks = find(es, "_cotflow_");
  BOOST_TEST(marks.attrs.at("clamped") == "speed");
  BOOST_TEST(marks.attrs.count("time_source") == 0u);
  BOOST_TEST(find(es, "track").attrs.at("speed") == "999999.00");
  // With a filled-in time, in the same element.
  d.clamped = cotflow::clamped_hae | cotflow::clamped_course
              | cotflow::clamped_speed;
  d.time_from = detection::time_origin::receive_time;
  es = encode_and_parse(enc, d);
  BOOST_TEST(
    std::count_if(es.begin(), es.end(),
                  [](const element& e) { return e.name == "_cotflow_"; })
    == 1);
  BOOST_TEST(find(es, "_cotflow_").attrs.at("clamped") == "hae course speed");
  BOOST_TEST(find(es, "_cotflow_").attrs.at("time_source") == "receive_time");
}

BOOST_AUTO_TEST_CASE(unknown_hae_ce_and_le_are_9999999) {
  cot_encoder enc{default_cot()};
  auto pt = find(encode_and_parse(enc, sample()), "point");
  BOOST_TEST(pt.attrs.at("hae") == "9999999.0");
  BOOST_TEST(pt.attrs.at("ce") == "9999999.0");
  BOOST_TEST(pt.attrs.at("le") == "9999999.0");
}

BOOST_AUTO_TEST_CASE(known_hae_ce_and_le_are_written) {
  cot_encoder enc{default_cot()};
  auto d = sample();
  d.hae = 120.5;
  d.ce = 5;
  d.le = 0;
  auto pt = find(encode_and_parse(enc, d), "point");
  BOOST_TEST(pt.attrs.at("hae") == "120.5");
  BOOST_TEST(pt.attrs.at("ce") == "5.0");
  BOOST_TEST(pt.attrs.at("le") == "0.0");
}

BOOST_AUTO_TEST_CASE(times_are_rfc3339_with_milliseconds) {
  cot_encoder enc{default_cot()};
  auto d = sample();
  d.time_ms = now - 1234;
  auto ev = encode_and_parse(enc, d)[0];
  BOOST_TEST(ev.attrs.at("time") == "2026-11-26T12:34:55.555Z");
  BOOST_TEST(ev.attrs.at("start") == "2026-11-26T12:34:55.555Z");
  for (auto a : {"time", "start", "stale"}) {
    const auto& v = ev.attrs.at(a);
    BOOST_TEST(v.size() == 24u);
    BOOST_TEST(cotflow::parse_rfc3339(v).has_value());
  }
}

BOOST_AUTO_TEST_CASE(an_explicit_start_is_kept) {
  cot_encoder enc{default_cot()};
  auto d = sample();
  d.start_ms = now - 5000;
  auto ev = encode_and_parse(enc, d)[0];
  BOOST_TEST(ev.attrs.at("start") == cotflow::rfc3339(now - 5000));
  BOOST_TEST(ev.attrs.at("time") == cotflow::rfc3339(now - 1000));
}

BOOST_AUTO_TEST_CASE(the_contact_callsign_falls_back_to_the_id) {
  cot_encoder enc{default_cot()};
  auto d = sample();
  BOOST_TEST(find(encode_and_parse(enc, d), "contact").attrs.at("callsign")
             == "t1");
  d.callsign = "Alpha 1";
  BOOST_TEST(find(encode_and_parse(enc, d), "contact").attrs.at("callsign")
             == "Alpha 1");
}

BOOST_AUTO_TEST_CASE(track_appears_only_when_course_or_speed_is_known) {
  // Each attribute only as given: a speed-only track written with course
  // 0 would point due north on the map (issue 24).
  cot_encoder enc{default_cot()};
  auto d = sample();
  BOOST_TEST(!has(encode_and_parse(enc, d), "track"));
  d.course = 271.5;
  auto t = find(encode_and_parse(enc, d), "track");
  BOOST_TEST(t.attrs.at("course") == "271.5");
  BOOST_TEST(t.attrs.count("speed") == 0u);
  d.course = NAN;
  d.speed = 3.25;
  t = find(encode_and_parse(enc, d), "track");
  BOOST_TEST(t.attrs.at("speed") == "3.25");
  BOOST_TEST(t.attrs.count("course") == 0u);
  d.course = 0;
  t = find(encode_and_parse(enc, d), "track");
  BOOST_TEST(t.attrs.at("course") == "0.0");
  BOOST_TEST(t.attrs.at("speed") == "3.25");
}

BOOST_AUTO_TEST_CASE(precisionlocation_appears_only_when_known) {
  cot_encoder enc{default_cot()};
  auto d = sample();
  BOOST_TEST(!has(encode_and_parse(enc, d), "precisionlocation"));
  d.geopointsrc = "GPS";
  auto p = find(encode_and_parse(enc, d), "precisionlocation");
  BOOST_TEST(p.attrs.at("geopointsrc") == "GPS");
  BOOST_TEST(p.attrs.count("altsrc") == 0u);
}

BOOST_AUTO_TEST_CASE(remarks_carry_classification_confidence_and_source) {
  cot_encoder enc{default_cot()};
  auto d = sample();
  d.classification = "person";
  d.confidence = 0.87;
  d.source = "cam-7";
  d.remarks = "near gate";
  auto r = find(encode_and_parse(enc, d), "remarks");
  BOOST_TEST(r.attrs.at("source") == "cam-7");
  BOOST_TEST(r.text.find("person") != std::string::npos);
  BOOST_TEST(r.text.find("0.87") != std::string::npos);
  BOOST_TEST(r.text.find("cam-7") != std::string::npos);
  BOOST_TEST(r.text.find("near gate") != std::string::npos);
  BOOST_TEST(r.text.find("LOW CONFIDENCE") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(the_output_buffer_is_cleared_first) {
  cot_encoder enc{default_cot()};
  std::string xml = "left over";
  enc.encode(sample(), now, xml);
  BOOST_TEST(xml.rfind("<event", 0) == 0u);
  auto once = xml;
  enc.encode(sample(), now, xml);
  BOOST_TEST(xml == once);
}

// Its own CTest test, cot_encoder_schema (tests/support/cot_schema.hpp).
BOOST_AUTO_TEST_CASE(events_validate_against_the_cot_schema,
                     *utf::label("cot_schema") * utf::disabled()
                       * utf::precondition(have_cot_schema)) {
  auto xsd = require_cot_schema();
  cot_encoder enc{default_cot()};
  auto d = sample();
  BOOST_TEST(run_xmllint(encode_ok(enc, d), xsd) == 0);
  d.hae = -12.5;
  d.ce = 3;
  d.le = 4;
  d.course = 359.9;
  d.speed = 12;
  d.callsign = nasty;
  d.remarks = nasty + "\x01\t\n";
  d.source = nasty;
  d.classification = "person";
  d.affiliation = "hostile";
  d.confidence = 0.5;
  d.geopointsrc = "GPS";
  d.altsrc = "DTED0";
  d.lat = -90;
  d.lon = 180;
  d.time_from = detection::time_origin::kafka_timestamp;
  BOOST_TEST(run_xmllint(encode_ok(enc, d), xsd) == 0);
  d.clamped = cotflow::clamped_ce | cotflow::clamped_speed;
  BOOST_TEST(run_xmllint(encode_ok(enc, d), xsd) == 0);
  auto cfg = default_cot();
  cfg.uid_prefix = nasty;
  BOOST_TEST(run_xmllint(encode_ok(cot_encoder{cfg}, d), xsd) == 0);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(escaping)

BOOST_AUTO_TEST_CASE(xml_escape_escapes_the_five_special_characters) {
  std::string out = "keep:";
  cotflow::xml_escape("<a href=\"x\">&'", out);
  BOOST_TEST(out == "keep:&lt;a href=&quot;x&quot;&gt;&amp;&apos;");
}

BOOST_AUTO_TEST_CASE(xml_escape_replaces_forbidden_control_characters) {
  std::string out;
  cotflow::xml_escape(std::string{"a\x01"
                                  "b\x1f"
                                  "c"}
                        + '\0' + "d",
                      out);
  BOOST_TEST(out
             == "a\xEF\xBF\xBD"
                "b\xEF\xBF\xBD"
                "c\xEF\xBF\xBD"
                "d");
  out.clear();
  cotflow::xml_escape("\t\n\r", out);
  BOOST_TEST(out == "&#9;&#10;&#13;");
  out.clear();
  cotflow::xml_escape("\xc3\xa9", out); // UTF-8 passes through
  BOOST_TEST(out == "\xc3\xa9");
}

BOOST_AUTO_TEST_CASE(no_text_field_can_inject_markup) {
  auto cfg = default_cot();
  cfg.uid_prefix = "p" + nasty;
  cot_encoder enc{cfg};
  auto d = sample();
  d.id = "i" + nasty;
  d.source = "s" + nasty;
  d.callsign = "c" + nasty;
  d.remarks = "r" + nasty;
  d.classification = "k" + nasty;
  d.confidence = 0.5;
  auto es = encode_and_parse(enc, d);
  // Only the encoder's own elements exist.
  for (const auto& e : es)
    BOOST_TEST((e.name == "event" || e.name == "point" || e.name == "detail"
                || e.name == "contact" || e.name == "remarks"
                || e.name == "_flow-tags_"),
               "unexpected element <" << e.name << ">");
  BOOST_TEST(es[0].attrs.at("uid") == "p" + nasty + "s" + nasty + "-i" + nasty);
  BOOST_TEST(find(es, "contact").attrs.at("callsign") == "c" + nasty);
  const auto& r = find(es, "remarks");
  BOOST_TEST(r.attrs.at("source") == "s" + nasty);
  BOOST_TEST(r.text.find("k" + nasty) != std::string::npos);
  BOOST_TEST(r.text.find("r" + nasty) != std::string::npos);
  BOOST_TEST(r.text.find("s" + nasty) != std::string::npos);
  // The classification is unknown, so the type is the default.
  BOOST_TEST(es[0].attrs.at("type") == "a-u-G");
}

BOOST_AUTO_TEST_CASE(an_id_alone_as_callsign_is_escaped) {
  cot_encoder enc{default_cot()};
  auto d = sample();
  d.id = "\"/><evil/><x a=\"";
  auto es = encode_and_parse(enc, d);
  BOOST_TEST(!has(es, "evil"));
  BOOST_TEST(find(es, "contact").attrs.at("callsign") == d.id);
  BOOST_TEST(es[0].attrs.at("uid") == d.id);
}

BOOST_AUTO_TEST_CASE(precision_sources_and_how_are_escaped) {
  cot_encoder enc{default_cot()};
  auto d = sample();
  d.geopointsrc = nasty;
  d.altsrc = nasty;
  auto es = encode_and_parse(enc, d);
  const auto& p = find(es, "precisionlocation");
  BOOST_TEST(p.attrs.at("geopointsrc") == nasty);
  BOOST_TEST(p.attrs.at("altsrc") == nasty);
  auto cfg = default_cot();
  cfg.how = "m-g\"<";
  es = encode_and_parse(cot_encoder{cfg}, sample());
  BOOST_TEST(es[0].attrs.at("how") == "m-g\"<");
}

BOOST_AUTO_TEST_CASE(control_characters_never_reach_the_xml) {
  cot_encoder enc{default_cot()};
  auto d = sample();
  d.callsign = std::string{"a\x01\x02\x1b"
                           "b"}
               + '\0';
  d.remarks = "line1\nline2\x07";
  d.id = "id\x0b";
  auto xml = encode_ok(enc, d);
  for (char c : xml) {
    auto u = static_cast<unsigned char>(c);
    BOOST_TEST_REQUIRE(u >= 0x20u, "raw control byte " << unsigned{u});
  }
  auto es = parse(xml);
  BOOST_TEST(find(es, "remarks").text.find("line1\nline2")
             != std::string::npos);
  BOOST_TEST(run_xmllint(xml) == 0);
}

// U+FFFE and U+FFFF are valid UTF-8, so the decoder accepts them, but
// XML 1.0 §2.2 forbids them: they are replaced like the other forbidden
// characters (U+FFFD).
BOOST_AUTO_TEST_CASE(xml_escape_matches_a_byte_by_byte_reference) {
  // xml_escape appends runs of plain bytes at once; this is the rule byte
  // by byte, on random text rich in what it must replace.
  auto reference = [](const std::string& t) {
    std::string out;
    for (size_t i = 0; i < t.size(); ++i) {
      auto c = static_cast<unsigned char>(t[i]);
      if (c == '<')
        out += "&lt;";
      else if (c == '>')
        out += "&gt;";
      else if (c == '&')
        out += "&amp;";
      else if (c == '"')
        out += "&quot;";
      else if (c == '\'')
        out += "&apos;";
      else if (c == '\t')
        out += "&#9;";
      else if (c == '\n')
        out += "&#10;";
      else if (c == '\r')
        out += "&#13;";
      else if (c < 0x20)
        out += "\xEF\xBF\xBD";
      else if (c == 0xEF && i + 2 < t.size()
               && static_cast<unsigned char>(t[i + 1]) == 0xBF
               && (static_cast<unsigned char>(t[i + 2]) & 0xFE) == 0xBE) {
        out += "\xEF\xBF\xBD";
        i += 2;
      } else
        out += static_cast<char>(c);
    }
    return out;
  };
  const unsigned char alphabet[] = {'a',  'Z',  ' ',  '<',  '>',  '&', '"',
                                    '\'', '\t', '\n', '\r', 0,    1,   0x1f,
                                    0xEF, 0xBF, 0xBE, 0xBD, 0xC3, 0xA9};
  std::srand(7);
  for (int n = 0; n < 20000; ++n) {
    std::string t(static_cast<size_t>(std::rand() % 12), ' ');
    for (auto& c : t)
      c = static_cast<char>(alphabet[std::rand() % sizeof(alphabet)]);
    std::string out = "prefix";
    cotflow::xml_escape(t, out);
    BOOST_TEST_REQUIRE(out == "prefix" + reference(t));
  }
}

BOOST_AUTO_TEST_CASE(every_escape_json_allows_encodes_to_well_formed_xml) {
  // Each escape that UTF-8 or XML cannot carry as it is, in every text
  // field and in the id: the record is refused (invalid_id, invalid_json)
  // or its event is well-formed XML. All events go to xmllint at once.
  cotflow::decoder dec{64 * 1024};
  cot_encoder enc{default_cot()};
  detection d;
  const char* escapes[] = {
    R"(\u0000)", R"(\u0001)", R"(\u001f)",       R"(\ud800)",       R"(\udbff)",
    R"(\udc00)", R"(\udfff)", R"(\udc00\udc00)", R"(\ud800\udc00)", R"(\ufffe)",
    R"(\uffff)", R"(\u007f)", R"(\u0085)",       R"(\t)",           R"(\r\n)"};
  const char* fields[] = {"id",          "source",         "callsign",
                          "remarks",     "classification", "affiliation",
                          "geopointsrc", "altsrc"};
  std::string all = "<events>";
  int events = 0, refused = 0;
  for (auto escape : escapes)
    for (auto field : fields) {
      std::string value = std::string{"a"} + escape + "b";
      std::string rec = R"({"id":"t1","time":1795696495789,"lat":1,"lon":2,)";
      if (std::string{field} == "id")
        rec = R"({"time":1795696495789,"lat":1,"lon":2,)";
      rec += std::string{"\""} + field + "\":\"" + value + "\"}";
      BOOST_TEST_CONTEXT(rec) {
        if (auto r = dec.decode(rec, d)) {
          auto reason = std::string{to_string(r->reason)};
          BOOST_TEST((reason == "invalid_id" || reason == "invalid_json"));
          ++refused;
          continue;
        }
        auto xml = encode_ok(enc, d);
        // The uid is the Kafka key as well.
        std::string uid;
        enc.uid(d, uid);
        BOOST_TEST(!cotflow::xml_text::first_identifier_flaw(uid));
        // Without an XML declaration, should the event have one.
        auto decl = xml.rfind("<?xml", 0) == 0 ? xml.find("?>") + 2 : 0;
        all += xml.substr(decl);
        ++events;
      }
    }
  all += "</events>";
  BOOST_TEST(events > 0);
  BOOST_TEST(refused > 0);
  BOOST_TEST(!cotflow::xml_text::first_flaw(all));
  BOOST_TEST(run_xmllint(all) == 0);
}

BOOST_AUTO_TEST_CASE(noncharacters_forbidden_by_xml_never_reach_the_xml) {
  cotflow::decoder dec{64 * 1024};
  detection d;
  auto r = dec.decode(R"({"id":"t1","time":1795696495789,"lat":1,"lon":2,)"
                      R"("callsign":"a\uFFFFb\uFFFEc"})",
                      d);
  BOOST_TEST_REQUIRE(!r.has_value());
  cot_encoder enc{default_cot()};
  auto xml = encode_ok(enc, d);
  BOOST_TEST(xml.find("\xEF\xBF\xBF") == std::string::npos);
  BOOST_TEST(xml.find("\xEF\xBF\xBE") == std::string::npos);
  BOOST_TEST(run_xmllint(xml) == 0);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(stale_and_drops)

BOOST_AUTO_TEST_CASE(stale_is_now_plus_the_ttl_not_source_time_plus_ttl) {
  auto cfg = default_cot();
  cfg.stale_s = 120;
  cot_encoder enc{cfg};
  auto d = sample();
  d.time_ms = now - 60 * 1000; // a minute old
  auto ev = encode_and_parse(enc, d)[0];
  BOOST_TEST(ev.attrs.at("stale") == cotflow::rfc3339(now + 120 * 1000));
}

BOOST_AUTO_TEST_CASE(the_longest_matching_stale_by_type_prefix_wins) {
  auto cfg = default_cot();
  cfg.stale_s = 120;
  cfg.stale_by_type = {
    {"a", 10}, {"a-h", 20}, {"a-h-G", 30}, {"a-h-G-U-C-I-X", 99}, {"a-f", 40}};
  cot_encoder enc{cfg};
  auto d = sample();
  d.classification = "person";
  d.affiliation = "hostile"; // a-h-G-U-C-I
  auto stale = [&](const detection& x) {
    auto v = encode_and_parse(enc, x)[0].attrs.at("stale");
    return cotflow::parse_rfc3339(v).value_or(0) - now;
  };
  BOOST_TEST(stale(d) == 30 * 1000);
  d.affiliation = "friend"; // a-f-G-U-C-I
  BOOST_TEST(stale(d) == 40 * 1000);
  d.affiliation = "neutral"; // a-n-G-U-C-I
  BOOST_TEST(stale(d) == 10 * 1000);
  d.type = "b-m-p-s-p-i"; // no prefix matches
  BOOST_TEST(stale(d) == 120 * 1000);
  d.type = "a-hx"; // "a-h" is a prefix of the text but not of the type
  BOOST_TEST(stale(d) == 10 * 1000);
}

BOOST_AUTO_TEST_CASE(stale_s_from_the_record_wins) {
  auto cfg = default_cot();
  cfg.stale_s = 120;
  cfg.stale_by_type = {{"a-u-G", 30}};
  cot_encoder enc{cfg};
  auto d = sample();
  d.stale_s = 7;
  auto ev = encode_and_parse(enc, d)[0];
  BOOST_TEST(ev.attrs.at("stale") == cotflow::rfc3339(now + 7000));
}

BOOST_AUTO_TEST_CASE(an_explicit_future_stale_is_kept) {
  cot_encoder enc{default_cot()};
  auto d = sample();
  d.stale_ms = now + 5000;
  auto ev = encode_and_parse(enc, d)[0];
  BOOST_TEST(ev.attrs.at("stale") == cotflow::rfc3339(now + 5000));
}

BOOST_AUTO_TEST_CASE(an_explicit_stale_in_the_past_is_dropped_stale) {
  cot_encoder enc{default_cot()};
  auto d = sample();
  d.stale_ms = now - 1;
  std::string xml = "x";
  BOOST_TEST(to_string(enc.encode(d, now, xml)) == "dropped_stale");
  BOOST_TEST(xml.empty());
  d.stale_ms = now;
  BOOST_TEST(to_string(enc.encode(d, now, xml)) == "dropped_stale");
}

BOOST_AUTO_TEST_CASE(a_geojson_feature_already_stale_is_dropped) {
  cotflow::decoder dec{64 * 1024};
  detection d;
  // time 10 s ago, stale 5 s ago.
  auto r = dec.decode(
    R"({"type":"Feature","geometry":{"type":"Point","coordinates":[1,2]},)"
    R"("properties":{"uid":"f","time":"2026-11-26T12:34:46.789Z",)"
    R"("stale":"2026-11-26T12:34:51.789Z"}})",
    d);
  BOOST_TEST_REQUIRE(!r.has_value());
  cot_encoder enc{default_cot()};
  std::string xml;
  BOOST_TEST(to_string(enc.encode(d, now, xml)) == "dropped_stale");
}

BOOST_AUTO_TEST_CASE(a_record_older_than_max_age_is_dropped_too_old) {
  auto cfg = default_cot();
  cfg.max_age_s = 60;
  cot_encoder enc{cfg};
  auto d = sample();
  std::string xml;
  d.time_ms = now - 60 * 1000 - 1;
  BOOST_TEST(to_string(enc.encode(d, now, xml)) == "dropped_too_old");
  BOOST_TEST(xml.empty());
  d.time_ms = now - 60 * 1000;
  BOOST_TEST(to_string(enc.encode(d, now, xml)) == "encoded");
}

BOOST_AUTO_TEST_CASE(low_confidence_is_dropped_when_configured_to_drop) {
  auto cfg = default_cot();
  cfg.min_confidence = 0.5;
  cfg.low_confidence = "drop";
  cot_encoder enc{cfg};
  auto d = sample();
  std::string xml;
  d.confidence = 0.49;
  BOOST_TEST(to_string(enc.encode(d, now, xml)) == "dropped_low_confidence");
  d.confidence = 0.5;
  BOOST_TEST(to_string(enc.encode(d, now, xml)) == "encoded");
  d.confidence = NAN; // unknown confidence is never low
  BOOST_TEST(to_string(enc.encode(d, now, xml)) == "encoded");
}

BOOST_AUTO_TEST_CASE(low_confidence_is_flagged_in_remarks_when_configured) {
  auto cfg = default_cot();
  cfg.min_confidence = 0.5;
  cfg.low_confidence = "flag";
  cot_encoder enc{cfg};
  auto d = sample();
  d.confidence = 0.2;
  auto r = find(encode_and_parse(enc, d), "remarks");
  BOOST_TEST(r.text.find("LOW CONFIDENCE") != std::string::npos);
  d.confidence = 0.9;
  r = find(encode_and_parse(enc, d), "remarks");
  BOOST_TEST(r.text.find("LOW CONFIDENCE") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(every_outcome_has_its_wire_name) {
  BOOST_TEST(to_string(encode_outcome::encoded) == "encoded");
  BOOST_TEST(to_string(encode_outcome::dropped_stale) == "dropped_stale");
  BOOST_TEST(to_string(encode_outcome::dropped_too_old) == "dropped_too_old");
  BOOST_TEST(to_string(encode_outcome::dropped_low_confidence)
             == "dropped_low_confidence");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(numbers)

BOOST_AUTO_TEST_CASE(fixed_decimals_are_exactly_printfs) {
  // append_fixed avoids printf; it must write what %.*f writes, including
  // exact ties of the binary value (0.125 -> "0.12"), values just beside
  // them, negative zero and values too large for its fast path.
  std::vector<double> values = {
    0.0,     -0.0, 0.125, 0.375, 2.5,   -2.5,   1e-9,     -1e-9,
    0.05,    0.15, 0.25,  1.005, 48.5,  -3.25,  90.0,     -180.0,
    9999999, 1e13, 1e14,  1e15,  1e300, 5e-324, 123456.7, 0.999999995};
  std::srand(11);
  for (int n = 0; n < 200000; ++n) {
    double unit = static_cast<double>(std::rand()) / RAND_MAX;
    switch (n % 5) {
      case 0:
        values.push_back((unit - 0.5) * 360);
        break; // coordinates
      case 1:
        values.push_back(unit * 1e7);
        break; // ce, le, hae
      case 2:
        values.push_back(unit);
        break; // confidence
      case 3:  // multiples of 2^-k: exact ties at some precision
        values.push_back(std::ldexp(std::rand() % 100000, -(n % 17)));
        break;
      case 4: // one ulp beside a tie
        values.push_back(std::nextafter(std::ldexp(std::rand() % 1000, -3),
                                        unit < 0.5 ? 0.0 : 1e9));
        break;
    }
  }
  for (double v : values)
    for (int precision : {1, 2, 7}) {
      char want[400];
      std::snprintf(want, sizeof(want), "%.*f", precision, v);
      std::string got;
      cotflow::append_fixed(got, v, precision);
      BOOST_TEST_REQUIRE(got == want, "%.*f of " << std::hexfloat << v
                                                 << " precision " << precision);
    }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(types_and_uids)

BOOST_AUTO_TEST_CASE(classification_and_affiliation_map_to_a_cot_type) {
  cot_encoder enc{default_cot()};
  auto d = sample();
  d.classification = "person";
  d.affiliation = "hostile";
  BOOST_TEST(enc.cot_type(d) == "a-h-G-U-C-I");
  d.classification = "uav";
  d.affiliation = "friend";
  BOOST_TEST(enc.cot_type(d) == "a-f-A-M-F-Q");
  d.classification = "vehicle";
  d.affiliation = "";
  BOOST_TEST(enc.cot_type(d) == "a-u-G-E-V");
  BOOST_TEST(encode_and_parse(enc, d)[0].attrs.at("type") == "a-u-G-E-V");
}

BOOST_AUTO_TEST_CASE(type_mapping_is_case_insensitive) {
  cot_encoder enc{default_cot()};
  auto d = sample();
  d.classification = "PERSON";
  d.affiliation = "Hostile";
  BOOST_TEST(enc.cot_type(d) == "a-h-G-U-C-I");
}

BOOST_AUTO_TEST_CASE(of_names_differing_only_in_case_the_first_counts) {
  auto c = default_cot();
  // The configuration's maps are ordered: "Car" comes before "car".
  c.classification_types["Car"] = "G-E-V-C";
  c.classification_types["car"] = "G-E-V";
  c.affiliation_codes["Friend"] = "n";
  cot_encoder enc{c};
  auto d = sample();
  d.classification = "CAR";
  d.affiliation = "friend";
  BOOST_TEST(enc.cot_type(d) == "a-n-G-E-V-C");
}

BOOST_AUTO_TEST_CASE(an_unknown_classification_uses_the_default_type) {
  cot_encoder enc{default_cot()};
  auto d = sample();
  d.classification = "spaceship";
  BOOST_TEST(enc.cot_type(d) == "a-u-G");
  d.affiliation = "hostile";
  BOOST_TEST(enc.cot_type(d) == "a-h-G");
  d.classification = "";
  d.affiliation = "friend";
  BOOST_TEST(enc.cot_type(d) == "a-f-G");
  auto cfg = default_cot();
  cfg.default_type = "a-u-A";
  d.affiliation = "neutral";
  BOOST_TEST(cot_encoder{cfg}.cot_type(d) == "a-n-A");
}

BOOST_AUTO_TEST_CASE(an_unknown_affiliation_is_u) {
  cot_encoder enc{default_cot()};
  auto d = sample();
  d.classification = "person";
  d.affiliation = "frenemy";
  BOOST_TEST(enc.cot_type(d) == "a-u-G-U-C-I");
}

BOOST_AUTO_TEST_CASE(an_explicit_type_wins) {
  cot_encoder enc{default_cot()};
  auto d = sample();
  d.classification = "person";
  d.affiliation = "hostile";
  d.type = "a-f-A-M-F-Q";
  BOOST_TEST(enc.cot_type(d) == "a-f-A-M-F-Q");
  BOOST_TEST(encode_and_parse(enc, d)[0].attrs.at("type") == "a-f-A-M-F-Q");
}

BOOST_AUTO_TEST_CASE(a_configured_mapping_is_used) {
  auto cfg = default_cot();
  cfg.classification_types["kayak"] = "S-X-K";
  cfg.affiliation_codes["ally"] = "f";
  cot_encoder enc{cfg};
  auto d = sample();
  d.classification = "Kayak";
  d.affiliation = "ALLY";
  BOOST_TEST(enc.cot_type(d) == "a-f-S-X-K");
}

BOOST_AUTO_TEST_CASE(an_explicit_how_wins_over_the_configured_one) {
  cot_encoder enc{default_cot()};
  auto d = sample();
  d.how = "h-e";
  BOOST_TEST(encode_and_parse(enc, d)[0].attrs.at("how") == "h-e");
}

BOOST_AUTO_TEST_CASE(the_uid_is_source_dash_id_or_the_id_alone) {
  cot_encoder enc{default_cot()};
  auto d = sample();
  std::string uid;
  enc.uid(d, uid);
  BOOST_TEST(uid == "t1");
  d.source = "cam-7";
  enc.uid(d, uid);
  BOOST_TEST(uid == "cam-7-t1");
  BOOST_TEST(encode_and_parse(enc, d)[0].attrs.at("uid") == "cam-7-t1");
}

BOOST_AUTO_TEST_CASE(the_uid_prefix_is_prepended) {
  auto cfg = default_cot();
  cfg.uid_prefix = "cotflow.";
  cot_encoder enc{cfg};
  auto d = sample();
  d.source = "cam-7";
  std::string uid = "stale content";
  enc.uid(d, uid);
  BOOST_TEST(uid == "cotflow.cam-7-t1");
  BOOST_TEST(encode_and_parse(enc, d)[0].attrs.at("uid") == uid);
}

BOOST_AUTO_TEST_CASE(the_uid_is_stable_across_updates) {
  cot_encoder enc{default_cot()};
  auto d = sample();
  d.source = "radar";
  auto first = encode_and_parse(enc, d)[0].attrs.at("uid");
  d.lat = 10;
  d.time_ms = now - 10;
  d.callsign = "renamed";
  d.classification = "vehicle";
  BOOST_TEST(encode_and_parse(enc, d)[0].attrs.at("uid") == first);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(drawings_and_cloudtak_properties)

/// The event of a GeoJSON record, decoded with the pipeline's defaults.
std::string event_of(const std::string& record) {
  cotflow::decoder dec{cotflow::default_config()};
  detection d;
  auto r = dec.decode(record, d);
  BOOST_TEST_REQUIRE(!r.has_value(), (r ? r->detail : ""));
  d.time_ms = now - 1000;
  return encode_ok(cot_encoder{default_cot()}, d);
}

const std::string line_record
  = R"({"type":"Feature","id":"route-1","geometry":{"type":"LineString",)"
    R"("coordinates":[[-77.03,38.89],[-77.02,38.9],[-77.01,38.91]]},)"
    R"("properties":{"time":1795696496789,"callsign":"Route <A>",)"
    R"("stroke":"#ff0000","stroke-width":4,"stroke-style":"dashed",)"
    R"("labels":true}})";

const std::string polygon_record
  = R"({"type":"Feature","id":"area-1","geometry":{"type":"Polygon",)"
    R"("coordinates":[[[-77.03,38.89],[-77.02,38.89],[-77.02,38.9],)"
    R"([-77.03,38.9],[-77.03,38.89]]]},"properties":{)"
    R"("time":1795696496789,"fill":"#00ff00","fill-opacity":0.25}})";

const std::string point_record
  = R"({"type":"Feature","id":"pt-1","geometry":{"type":"Point",)"
    R"("coordinates":[-77.03,38.89,10]},"properties":{)"
    R"("time":1795696496789,"callsign":"Bravo","type":"a-f-G-U-C",)"
    R"("archived":true,"icon":"set:Military/soldier.png",)"
    R"("marker-color":"#FF0000","group":{"name":"Cyan",)"
    R"("role":"Team Member"},"contact":{"phone":"+1 & 2"},)"
    R"("status":{"battery":88},"links":[{"uid":"cam-7",)"
    R"("relation":"p-p","type":"a-f-G-E-S"}],"dest":[{"callsign":)"
    R"("Alpha"},{"group":"Blue"}],"mission":{"name":"ops",)"
    R"("missionLayer":{"name":"<layer>"}},"milsym":{"id":"SFG"}}})";

/// The `name` elements of `es`.
std::vector<element> all(const std::vector<element>& es,
                         const std::string& name) {
  std::vector<element> out;
  for (auto& e : es)
    if (e.name == name)
      out.push_back(e);
  return out;
}

BOOST_AUTO_TEST_CASE(a_line_is_a_u_d_f_shape_with_link_points) {
  auto es = parse(event_of(line_record));
  BOOST_TEST(es[0].attrs.at("type") == "u-d-f");
  auto links = all(es, "link");
  BOOST_TEST_REQUIRE(links.size() == 3u);
  BOOST_TEST(links[0].attrs.at("point") == "38.8900000,-77.0300000");
  BOOST_TEST(links[2].attrs.at("point") == "38.9100000,-77.0100000");
  // Its point is the middle vertex.
  BOOST_TEST(all(es, "point")[0].attrs.at("lat") == "38.9000000");
  BOOST_TEST(all(es, "strokeColor")[0].attrs.at("value") == "-65536");
  BOOST_TEST(all(es, "strokeWeight")[0].attrs.at("value") == "4.0");
  BOOST_TEST(all(es, "strokeStyle")[0].attrs.at("value") == "dashed");
  BOOST_TEST(all(es, "fillColor")[0].attrs.at("value") == "0");
  BOOST_TEST(all(es, "labels_on")[0].attrs.at("value") == "true");
  BOOST_TEST(all(es, "contact")[0].attrs.at("callsign") == "Route <A>");
}

BOOST_AUTO_TEST_CASE(a_polygon_repeats_its_first_vertex_last) {
  auto es = parse(event_of(polygon_record));
  auto links = all(es, "link");
  BOOST_TEST_REQUIRE(links.size() == 5u);
  BOOST_TEST(links.front().attrs.at("point") == links.back().attrs.at("point"));
  // #00ff00 at 0.25 (alpha 64).
  BOOST_TEST(all(es, "fillColor")[0].attrs.at("value")
             == std::to_string(0x4000FF00));
  BOOST_TEST(!has(es, "labels_on"));
}

BOOST_AUTO_TEST_CASE(cloudtak_properties_become_detail_elements) {
  auto es = parse(event_of(point_record));
  BOOST_TEST(all(es, "contact")[0].attrs.at("phone") == "+1 & 2");
  BOOST_TEST(all(es, "__group")[0].attrs.at("role") == "Team Member");
  BOOST_TEST(all(es, "status")[0].attrs.at("battery") == "88");
  BOOST_TEST(all(es, "link")[0].attrs.at("relation") == "p-p");
  auto dests = all(es, "dest");
  BOOST_TEST_REQUIRE(dests.size() == 2u);
  BOOST_TEST(dests[1].attrs.at("group") == "Blue");
  BOOST_TEST(has(es, "marti"));
  BOOST_TEST(all(es, "name")[0].text == "<layer>");
  BOOST_TEST(has(es, "missionLayer"));
  BOOST_TEST(has(es, "archive"));
  BOOST_TEST(all(es, "usericon")[0].attrs.at("iconsetpath")
             == "set/Military/soldier.png");
  BOOST_TEST(all(es, "color")[0].attrs.at("argb") == "-65536");
  BOOST_TEST(all(es, "__milsym")[0].attrs.at("id") == "SFG");
}

BOOST_AUTO_TEST_CASE(drawings_and_cloudtak_events_validate_against_the_schema,
                     *utf::label("cot_schema") * utf::disabled()
                       * utf::precondition(have_cot_schema)) {
  auto xsd = require_cot_schema();
  for (auto* record : {&line_record, &polygon_record, &point_record})
    BOOST_TEST(run_xmllint(event_of(*record), xsd) == 0, *record);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(presentation)

using cotflow::presentation_config;
using cotflow::presentation_rule;

/// cot.how m-g and flagging below 0.5, as the presentation tests use it.
cot_config flagging_cot() {
  auto cfg = default_cot();
  cfg.min_confidence = 0.5;
  cfg.low_confidence = "flag";
  return cfg;
}

/// A rule of every kind: a camera with a placed sensor in team mode,
/// colours for hostiles, another look below 0.5.
presentation_config full_presentation() {
  presentation_config p;
  auto& cam = p.sources["cam"];
  cam.how = "m-i";
  cam.icon = "6d180af4-0fce-4a9a-bc93-f0a1ca9e6cb7/Sensors/camera.png";
  cam.team = cotflow::team_style{"Cyan", "", ""};
  cam.sensor.emplace();
  cam.sensor->lat = 48.25;
  cam.sensor->lon = -3.5;
  cam.sensor->hae = 20;
  cam.sensor->azimuth = 90;
  cam.sensor->fov = 60;
  cam.sensor->range = 500;
  cam.sensor->callsign = "North gate";
  p.types["a-h"].color = "#FFFF0000";
  p.types["a-h"].how = "m-f";
  p.low_confidence.type = "a-u-G";
  p.low_confidence.color = "#80808080";
  return p;
}

/// Every detection shape the other tests use, for comparisons.
std::vector<detection> varied_detections() {
  std::vector<detection> ds;
  auto d = sample();
  ds.push_back(d);
  d.source = "radar";
  d.classification = "person";
  d.affiliation = "hostile";
  d.confidence = 0.2; // flagged
  ds.push_back(d);
  d.confidence = 0.9;
  d.callsign = nasty;
  d.course = 10;
  ds.push_back(d);
  d.ended = true;
  ds.push_back(d);
  return ds;
}

BOOST_AUTO_TEST_CASE(without_presentation_events_are_unchanged) {
  auto cfg = flagging_cot();
  cot_encoder plain{cfg};
  cot_encoder off{cfg, presentation_config{}};
  // Rules for other sources and types leave these events alone too.
  presentation_config elsewhere;
  elsewhere.sources["cam"].how = "m-i";
  elsewhere.types["b-m"].color = "#FF00FF00";
  cot_encoder other{cfg, elsewhere};
  BOOST_TEST(!off.presenting());
  for (auto& d : varied_detections()) {
    std::string a, b, c, type_a, type_b;
    int64_t stale_a = 0, stale_b = 0;
    plain.encode(d, now, a, &type_a, &stale_a);
    off.encode(d, now, b, &type_b, &stale_b);
    other.encode(d, now, c);
    BOOST_TEST(a == b);
    BOOST_TEST(a == c);
    BOOST_TEST(type_a == type_b);
    BOOST_TEST(stale_a == stale_b);
    std::string xml, uid, type;
    int64_t stale = 0;
    BOOST_TEST(!off.sensor_event(d, now, xml, uid, type, stale));
  }
}

BOOST_AUTO_TEST_CASE(how_comes_from_the_record_then_source_then_type) {
  cot_encoder enc{flagging_cot(), full_presentation()};
  auto d = sample();
  d.source = "cam";
  d.affiliation = "hostile";
  auto how = [&] { return encode_and_parse(enc, d)[0].attrs.at("how"); };
  BOOST_TEST(how() == "m-i"); // the source's rule wins over a-h's
  d.source = "radar";
  BOOST_TEST(how() == "m-f"); // a-h's
  d.affiliation = "friend";
  BOOST_TEST(how() == "m-g"); // cot.how
  d.how = "h-e";
  BOOST_TEST(how() == "h-e"); // the record's own
  d.source = "cam";
  BOOST_TEST(how() == "h-e");
}

BOOST_AUTO_TEST_CASE(icon_colour_team_and_sensor_link_are_written) {
  cot_encoder enc{flagging_cot(), full_presentation()};
  auto d = sample();
  d.source = "cam";
  d.affiliation = "hostile";
  d.callsign = "walker";
  auto es = encode_and_parse(enc, d);
  BOOST_TEST(find(es, "contact").attrs.at("callsign") == "walker");
  BOOST_TEST(find(es, "contact").attrs.at("endpoint") == "*:-1:stcp");
  BOOST_TEST(find(es, "__group").attrs.at("name") == "Cyan");
  BOOST_TEST(find(es, "__group").attrs.at("role") == "Team Member");
  BOOST_TEST(find(es, "usericon").attrs.at("iconsetpath")
             == "6d180af4-0fce-4a9a-bc93-f0a1ca9e6cb7/Sensors/camera.png");
  BOOST_TEST(find(es, "color").attrs.at("argb") == "-65536"); // a-h's
  auto& link = find(es, "link");
  BOOST_TEST(link.attrs.at("uid") == "sensor-cam");
  BOOST_TEST(link.attrs.at("relation") == "p-p");
  BOOST_TEST(link.attrs.at("type") == "b-m-p-s-p-loc");
  // A source without a rule has only its type's.
  d.source = "radar";
  es = encode_and_parse(enc, d);
  BOOST_TEST(find(es, "color").attrs.at("argb") == "-65536");
  BOOST_TEST(!has(es, "__group"));
  BOOST_TEST(!has(es, "usericon"));
  BOOST_TEST(!has(es, "link"));
  BOOST_TEST(find(es, "contact").attrs.count("endpoint") == 0u);
}

BOOST_AUTO_TEST_CASE(a_sources_rule_wins_over_its_types_field_by_field) {
  presentation_config p;
  p.types["a-h"].color = "#FFFF0000";
  p.types["a-h"].icon = "set/type/icon.png";
  p.sources["cam"].color = "#FF0000FF";
  p.sources["cam"].sensor.emplace(); // a link, no sensor event
  p.sources["cam"].sensor->uid = "known-camera";
  p.sources["cam"].sensor->type = "a-f-G-E-S";
  cot_encoder enc{default_cot(), p};
  auto d = sample();
  d.source = "cam";
  d.affiliation = "hostile";
  auto es = encode_and_parse(enc, d);
  BOOST_TEST(find(es, "color").attrs.at("argb") == "-16776961");
  BOOST_TEST(find(es, "usericon").attrs.at("iconsetpath")
             == "set/type/icon.png");
  BOOST_TEST(find(es, "link").attrs.at("uid") == "known-camera");
  BOOST_TEST(find(es, "link").attrs.at("type") == "a-f-G-E-S");
  std::string xml, uid, type;
  int64_t stale = 0;
  BOOST_TEST(!enc.sensor_event(d, now, xml, uid, type, stale));
}

BOOST_AUTO_TEST_CASE(the_longest_type_prefix_wins_at_a_dash) {
  presentation_config p;
  p.types["a"].icon = "set/a/any.png";
  p.types["a-h"].icon = "set/a/hostile.png";
  p.types["a-h-G"].icon = "set/a/hostile-ground.png";
  cot_encoder enc{default_cot(), p};
  auto d = sample();
  auto icon = [&](const std::string& type) {
    d.type = type;
    auto es = encode_and_parse(enc, d);
    return has(es, "usericon") ? find(es, "usericon").attrs.at("iconsetpath")
                               : std::string{"(none)"};
  };
  BOOST_TEST(icon("a-h-G-E-V") == "set/a/hostile-ground.png");
  BOOST_TEST(icon("a-h-A") == "set/a/hostile.png");
  BOOST_TEST(icon("a-hx") == "set/a/any.png"); // under "a", not "a-h"
  BOOST_TEST(icon("a-f-G") == "set/a/any.png");
  BOOST_TEST(icon("b-m-p") == "(none)");
}

BOOST_AUTO_TEST_CASE(low_confidence_changes_type_colour_and_wins) {
  auto p = full_presentation();
  p.low_confidence.how = "h-e";
  p.low_confidence.icon = "set/low/question.png";
  cot_encoder enc{flagging_cot(), p};
  auto d = sample();
  d.source = "cam";
  d.affiliation = "hostile";
  d.classification = "person";
  d.confidence = 0.2;
  std::string xml, type;
  int64_t stale = 0;
  BOOST_TEST_REQUIRE(to_string(enc.encode(d, now, xml, &type, &stale))
                     == "encoded");
  auto es = parse(xml);
  BOOST_TEST(es[0].attrs.at("type") == "a-u-G");
  BOOST_TEST(type == "a-u-G");
  BOOST_TEST(es[0].attrs.at("how") == "h-e");
  BOOST_TEST(find(es, "color").attrs.at("argb")
             == std::to_string(static_cast<int32_t>(0x80808080u)));
  BOOST_TEST(find(es, "usericon").attrs.at("iconsetpath")
             == "set/low/question.png");
  BOOST_TEST(find(es, "__group").attrs.at("name") == "Cyan"); // kept
  BOOST_TEST(find(es, "remarks").text.find("LOW CONFIDENCE")
             != std::string::npos);
  d.confidence = 0.9;
  es = encode_and_parse(enc, d);
  BOOST_TEST(es[0].attrs.at("type") == "a-h-G-U-C-I");
  BOOST_TEST(es[0].attrs.at("how") == "m-i");
  BOOST_TEST(find(es, "color").attrs.at("argb") == "-65536");
}

BOOST_AUTO_TEST_CASE(a_placed_sensor_is_its_own_event_again_at_half_its_ttl) {
  auto cfg = flagging_cot();
  cfg.stale_by_type = {{"b-m-p-s", 600}};
  cfg.uid_prefix = "site1.";
  cot_encoder enc{cfg, full_presentation()};
  auto d = sample();
  d.source = "cam";
  std::string xml, uid, type;
  int64_t stale = 0;
  BOOST_TEST_REQUIRE(enc.sensor_event(d, now, xml, uid, type, stale));
  BOOST_TEST(uid == "site1.sensor-cam");
  BOOST_TEST(type == "b-m-p-s-p-loc");
  BOOST_TEST(stale == now + 600000);
  auto es = parse(xml);
  BOOST_TEST(es[0].attrs.at("uid") == uid);
  BOOST_TEST(es[0].attrs.at("type") == type);
  BOOST_TEST(es[0].attrs.at("how") == "m-c");
  BOOST_TEST(es[0].attrs.at("stale") == cotflow::rfc3339(now + 600000));
  auto& pt = find(es, "point");
  BOOST_TEST(pt.attrs.at("lat") == "48.2500000");
  BOOST_TEST(pt.attrs.at("lon") == "-3.5000000");
  BOOST_TEST(pt.attrs.at("hae") == "20.0");
  BOOST_TEST(find(es, "contact").attrs.at("callsign") == "North gate");
  auto& sensor = find(es, "sensor");
  BOOST_TEST(sensor.attrs.at("azimuth") == "90.0");
  BOOST_TEST(sensor.attrs.at("fov") == "60.0");
  BOOST_TEST(sensor.attrs.at("range") == "500.0");
  BOOST_TEST(sensor.attrs.count("vfov") == 0u);
  // The detections link to it.
  BOOST_TEST(find(encode_and_parse(enc, d), "link").attrs.at("uid") == uid);
  // Not again before half of its 600 s, then again.
  BOOST_TEST(!enc.sensor_event(d, now + 299999, xml, uid, type, stale));
  BOOST_TEST(xml.empty());
  BOOST_TEST(enc.sensor_event(d, now + 300000, xml, uid, type, stale));
  BOOST_TEST(stale == now + 900000);
  // Another source has no sensor.
  d.source = "radar";
  BOOST_TEST(!enc.sensor_event(d, now + 900000, xml, uid, type, stale));
}

BOOST_AUTO_TEST_CASE(presentation_text_is_escaped) {
  presentation_config p;
  p.sources["cam"].icon = "set/" + nasty + ".png";
  p.sources["cam"].team = cotflow::team_style{"Cyan", "HQ", nasty};
  p.sources["cam"].sensor.emplace();
  p.sources["cam"].sensor->uid = nasty;
  p.sources["cam"].sensor->callsign = nasty;
  p.sources["cam"].sensor->lat = 1;
  p.sources["cam"].sensor->lon = 2;
  cot_encoder enc{default_cot(), p};
  auto d = sample();
  d.source = "cam";
  auto es = encode_and_parse(enc, d);
  BOOST_TEST(find(es, "usericon").attrs.at("iconsetpath")
             == "set/" + nasty + ".png");
  BOOST_TEST(find(es, "contact").attrs.at("endpoint") == nasty);
  BOOST_TEST(find(es, "link").attrs.at("uid") == nasty);
  std::string xml, uid, type;
  int64_t stale = 0;
  BOOST_TEST_REQUIRE(enc.sensor_event(d, now, xml, uid, type, stale));
  es = parse(xml);
  BOOST_TEST(es[0].attrs.at("uid") == nasty);
  BOOST_TEST(find(es, "contact").attrs.at("callsign") == nasty);
}

BOOST_AUTO_TEST_CASE(styles_stay_right_past_the_cache_bound) {
  presentation_config p;
  p.types["a-h"].how = "m-f";
  p.types["a-f"].how = "m-r";
  cot_encoder enc{default_cot(), p};
  auto d = sample();
  for (int i = 0; i < 1500; ++i) {
    d.type = (i % 2 ? "a-h-G-" : "a-f-G-") + std::to_string(i);
    BOOST_TEST_REQUIRE(encode_and_parse(enc, d)[0].attrs.at("how")
                       == (i % 2 ? "m-f" : "m-r"));
  }
}

// Its own CTest test, cot_encoder_schema (tests/support/cot_schema.hpp).
BOOST_AUTO_TEST_CASE(presented_and_sensor_events_validate_against_the_schema,
                     *utf::label("cot_schema") * utf::disabled()
                       * utf::precondition(have_cot_schema)) {
  auto xsd = require_cot_schema();
  auto p = full_presentation();
  p.sources["cam"].sensor->vfov = 40;
  p.sources["cam"].color = "#7F00FF00";
  cot_encoder enc{flagging_cot(), p};
  for (auto d : varied_detections()) {
    for (const char* source : {"cam", "radar", ""}) {
      d.source = source;
      BOOST_TEST_CONTEXT(source << " " << d.confidence << " " << d.ended) {
        BOOST_TEST(run_xmllint(encode_ok(enc, d), xsd) == 0);
      }
    }
  }
  auto d = sample();
  d.source = "cam";
  std::string xml, uid, type;
  int64_t stale = 0;
  BOOST_TEST_REQUIRE(enc.sensor_event(d, now, xml, uid, type, stale));
  BOOST_TEST(run_xmllint(xml, xsd) == 0);
}

BOOST_AUTO_TEST_CASE(what_a_record_gives_itself_wins_over_presentation) {
  // A camera's configured icon, colour, team and endpoint; a Feature of
  // that source with its own CloudTAK icon, marker-color, group and
  // contact endpoint: its own are written, each once.
  presentation_config p;
  auto& cam = p.sources["cam"];
  cam.icon = "configured/icon.png";
  cam.color = "#FF00FF00";
  cam.team = cotflow::team_style{"Cyan", "Team Member", "*:-1:stcp"};
  cotflow::decoder dec{cotflow::default_config()};
  detection d;
  auto r = dec.decode(
    R"({"type":"Feature","id":"p","geometry":{"type":"Point",)"
    R"("coordinates":[1,2]},"properties":{"time":1795696496789,)"
    R"("source":"cam","icon":"own/icon.png","marker-color":"#FF0000",)"
    R"("group":{"name":"Red","role":"HQ"},"contact":{"endpoint":"own"}}})",
    d);
  BOOST_TEST_REQUIRE(!r.has_value());
  d.time_ms = now - 1000;
  auto es = parse(encode_ok(cot_encoder{default_cot(), p}, d));
  std::vector<std::string> icons, colors, groups;
  for (auto& e : es) {
    if (e.name == "usericon")
      icons.push_back(e.attrs.at("iconsetpath"));
    if (e.name == "color")
      colors.push_back(e.attrs.at("argb"));
    if (e.name == "__group")
      groups.push_back(e.attrs.at("name"));
    if (e.name == "contact")
      BOOST_TEST(e.attrs.at("endpoint") == "own");
  }
  BOOST_TEST(icons == std::vector<std::string>{"own/icon.png"});
  BOOST_TEST(colors == std::vector<std::string>{"-65536"});
  BOOST_TEST(groups == std::vector<std::string>{"Red"});
  // Without them, the configured ones.
  d.clear();
  d = sample();
  d.source = "cam";
  es = parse(encode_ok(cot_encoder{default_cot(), p}, d));
  BOOST_TEST(has(es, "usericon"));
  BOOST_TEST(has(es, "__group"));
}

BOOST_AUTO_TEST_SUITE_END()
