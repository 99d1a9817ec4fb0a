#include <boost/test/unit_test.hpp>

#include "config/config.hpp"
#include "pipeline/codec/cot_encoder.hpp"
#include "pipeline/codec/decoder.hpp"
#include "pipeline/codec/generator.hpp"
#include "pipeline/core/detection.hpp"
#include "pipeline/tak/protocol/cot_xml.hpp"
#include "pipeline/tak/protocol/tak_protocol.hpp"
#include "tests/support/tak_frames.hpp"

#include <string>
#include <vector>

using namespace cotflow;
using namespace cotflow::takp;

namespace {

// 2026-11-26T12:34:56.789Z
constexpr int64_t now = 1795696496789;

const std::string head = R"(<event version="2.0" uid="u-1" type="a-h-G" )"
                         R"(how="m-g" time="2026-11-26T12:34:55.789Z" )"
                         R"(start="2026-11-26T12:34:55.789Z" )"
                         R"(stale="2026-11-26T12:39:56.789Z">)"
                         R"(<point lat="38.8977000" lon="-77.0365000" )"
                         R"(hae="9999999.0" ce="12.5" le="9999999.0"/>)";

std::string event_with(const std::string& detail) {
  return head + "<detail>" + detail + "</detail></event>";
}

pb::TakMessage convert(const std::string& xml) {
  pb::TakMessage m;
  std::string err;
  BOOST_TEST_REQUIRE(to_tak_message(xml, m, err), err);
  return m;
}

} // namespace

BOOST_AUTO_TEST_CASE(an_event_becomes_typed_fields) {
  auto m = convert(event_with(R"(<contact callsign="Eagle &amp; 1"/>)"
                              R"(<track course="271.5" speed="12.25"/>)"
                              R"(<precisionlocation geopointsrc="GPS" )"
                              R"(altsrc="DTED0"/>)"
                              R"(<__group name="Cyan" role="Team Member"/>)"
                              R"(<status battery="87"/>)"
                              R"(<takv device="d" platform="p" os="o" )"
                              R"(version="v"/>)"));
  BOOST_TEST_REQUIRE(m.has_cotevent());
  BOOST_TEST(!m.has_takcontrol());
  auto& e = m.cotevent();
  BOOST_TEST(e.uid() == "u-1");
  BOOST_TEST(e.type() == "a-h-G");
  BOOST_TEST(e.how() == "m-g");
  BOOST_TEST(e.sendtime() == uint64_t(now - 1000));
  BOOST_TEST(e.starttime() == uint64_t(now - 1000));
  BOOST_TEST(e.staletime() == uint64_t(now + 300000));
  BOOST_TEST(e.lat() == 38.8977);
  BOOST_TEST(e.lon() == -77.0365);
  BOOST_TEST(e.hae() == 9999999.0);
  BOOST_TEST(e.ce() == 12.5);
  auto& d = e.detail();
  BOOST_TEST(d.xmldetail().empty());
  BOOST_TEST(d.contact().callsign() == "Eagle & 1");
  BOOST_TEST(d.contact().endpoint().empty());
  BOOST_TEST(d.track().course() == 271.5);
  BOOST_TEST(d.track().speed() == 12.25);
  BOOST_TEST(d.precisionlocation().geopointsrc() == "GPS");
  BOOST_TEST(d.precisionlocation().altsrc() == "DTED0");
  BOOST_TEST(d.group().name() == "Cyan");
  BOOST_TEST(d.group().role() == "Team Member");
  BOOST_TEST(d.status().battery() == 87u);
  BOOST_TEST(d.takv().os() == "o");
}

BOOST_AUTO_TEST_CASE(elements_that_do_not_fit_their_message_stay_xml) {
  // The protocol's rule: a whole element goes into its message or stays
  // XML; never part of it in each. An extra attribute, a missing one,
  // content, a second element of the same name, a number that is not one.
  const std::string rest = R"(<contact callsign="a" phone="555"/>)"
                           R"(<precisionlocation geopointsrc="GPS"/>)"
                           R"(<track course="1" speed="2"/>)"
                           R"(<track course="3" speed="4"/>)"
                           R"(<status battery="x"/>)"
                           R"(<__group name="n" role="r"><x/></__group>)"
                           R"(<remarks source="cam">a &lt; b</remarks>)"
                           R"(<_flow-tags_ cotflow="2026-11-26T12:34:56Z"/>)";
  auto m = convert(event_with(rest));
  auto& d = m.cotevent().detail();
  BOOST_TEST(!d.has_contact());
  BOOST_TEST(!d.has_precisionlocation());
  BOOST_TEST(!d.has_track());
  BOOST_TEST(!d.has_status());
  BOOST_TEST(!d.has_group());
  // As written, in their order, escapes and all.
  BOOST_TEST(d.xmldetail() == rest);
}

BOOST_AUTO_TEST_CASE(an_event_without_detail_has_none) {
  auto m = convert(head + "<detail/></event>");
  BOOST_TEST(!m.cotevent().has_detail());
  auto with_prolog = convert(R"(<?xml version="1.0" encoding="UTF-8"?>)"
                             "\n"
                             + head + "</event>");
  BOOST_TEST(with_prolog.cotevent().uid() == "u-1");
}

BOOST_AUTO_TEST_CASE(what_is_not_a_cot_event_is_refused_with_a_reason) {
  const std::string bad[] = {
    "",
    "not xml",
    "<event uid='a'>",
    head + "</evnt>",
    head + "<detail><a></b></detail></event>",
    head + "<detail><a x=1/></detail></event>",
    head + "<detail><a x='1'y='2'/></detail></event>",
    head + "<detail><a x='&bogus;'/></detail></event>",
    head + "<detail><!DOCTYPE x></detail></event>",
    R"(<event uid="u" type="t" how="h" time="x" start="x" stale="x">)"
    R"(<point lat="1" lon="2" hae="3" ce="4" le="5"/></event>)",
    R"(<event uid="u" type="t" how="h" time="2026-11-26T12:34:55Z" )"
    R"(start="2026-11-26T12:34:55Z" stale="2026-11-26T12:34:55Z"></event>)",
    R"(<event uid="u" type="t" how="h" time="2026-11-26T12:34:55Z" )"
    R"(start="2026-11-26T12:34:55Z" stale="2026-11-26T12:34:55Z">)"
    R"(<point lat="north" lon="2" hae="3" ce="4" le="5"/></event>)",
    head + "</event><event/>",
    std::string(70, '<') + "x",
  };
  for (auto& xml : bad) {
    pb::TakMessage m;
    std::string err;
    BOOST_TEST_CONTEXT(xml) {
      BOOST_TEST(!to_tak_message(xml, m, err));
      BOOST_TEST(!err.empty());
    }
  }
  // Nesting is bounded, not recursed without end.
  std::string deep = head + "<detail>";
  for (int i = 0; i < 100; ++i)
    deep += "<a>";
  for (int i = 0; i < 100; ++i)
    deep += "</a>";
  deep += "</detail></event>";
  pb::TakMessage m;
  std::string err;
  BOOST_TEST(!to_tak_message(deep, m, err));
  BOOST_TEST(err.find("deeper than 64") != std::string::npos);
}

namespace {

/// What a test compares of a read event: every element's name, attributes
/// and extent.
std::string shape(const cot_xml& ev) {
  std::string out;
  auto add = [&](const xml_element& el) {
    out.append(el.name).append("{");
    for (auto& a : el.attributes)
      out.append(a.name).append("=").append(a.raw).append(";");
    out.append("}").append(el.whole).append("\n");
  };
  add(ev.event);
  if (ev.has_point)
    add(ev.point);
  for (auto& el : ev.detail)
    add(el);
  return out;
}

} // namespace

BOOST_AUTO_TEST_CASE(a_reader_used_again_reads_as_a_fresh_one) {
  // Rich, then bare, then rich again: nothing of one event stays in the
  // next (the detail children's attribute lists go round as spares).
  const std::string events[] = {
    event_with(R"(<contact callsign="a" endpoint="x"/><track speed="1" )"
               R"(course="2"/><remarks>r<b/></remarks><link uid="l" )"
               R"(relation="p-p" type="a"/>)"),
    head + "</event>",
    event_with("<status battery=\"3\"/>"),
    event_with(R"(<__group name="Cyan" role="Team Member"/>)")
      .replace(0, 0, "<?xml version=\"1.0\"?><!-- c -->"),
    event_with(R"(<contact callsign="a" endpoint="x"/><track speed="1" )"
               R"(course="2"/><remarks>r<b/></remarks>)"),
  };
  cot_xml again;
  for (auto& xml : events) {
    cot_xml fresh;
    std::string err;
    BOOST_TEST_CONTEXT(xml) {
      BOOST_TEST_REQUIRE(read_cot_xml(xml, fresh, err), err);
      BOOST_TEST_REQUIRE(read_cot_xml(xml, again, err), err);
      BOOST_TEST(shape(again) == shape(fresh));
    }
  }
  BOOST_TEST_REQUIRE(again.detail.size() == 3u);
  BOOST_TEST(again.detail[0].name == "contact");
  BOOST_TEST(*again.detail[0].find("endpoint") == "x");
  BOOST_TEST(again.detail[2].whole == "<remarks>r<b/></remarks>");
}

BOOST_AUTO_TEST_CASE(what_is_not_point_or_detail_under_event_is_refused) {
  cot_xml ev;
  std::string err;
  BOOST_TEST(!read_cot_xml(head + "<foo/><detail/></event>", ev, err));
  BOOST_TEST(err
             == "<event> holds <foo>: only <point> and <detail> "
                "belong there");
  err.clear();
  BOOST_TEST(!read_cot_xml(head + R"(<point lat="1"/></event>)", ev, err));
  BOOST_TEST(err
             == "<event> holds <point>: only <point> and <detail> "
                "belong there");
  // The document is checked whole first: a flaw after the stray element
  // is what is reported.
  err.clear();
  BOOST_TEST(
    !read_cot_xml(head + "<foo/><detail><a></b></detail></event>", ev, err));
  BOOST_TEST(err.find("does not close") != std::string::npos, err);
  err.clear();
  BOOST_TEST(!read_cot_xml("<point/>", ev, err));
  BOOST_TEST(err == "not one <event> element");
  err.clear();
  BOOST_TEST(!read_cot_xml(head + "</event>" + head + "</event>", ev, err));
  BOOST_TEST(err == "not one <event> element");
}

BOOST_AUTO_TEST_CASE(character_references_decode_to_utf8) {
  std::string out;
  BOOST_TEST(xml_unescape("a&#233;&#x263A;&lt;&amp;&quot;&apos;&gt;", out));
  BOOST_TEST(out == "a\xC3\xA9\xE2\x98\xBA<&\"'>");
  for (auto bad : {"&#0;", "&#xD800;", "&#x110000;", "&#;", "&x;", "&amp"}) {
    out.clear();
    BOOST_TEST(!xml_unescape(bad, out), bad);
  }
}

BOOST_AUTO_TEST_CASE(varints_are_protobufs) {
  auto hex = [](uint64_t v) {
    std::string out;
    append_varint(v, out);
    std::string h;
    for (unsigned char c : out) {
      char b[3];
      std::snprintf(b, sizeof b, "%02x", c);
      h += b;
    }
    return h;
  };
  BOOST_TEST(hex(0) == "00");
  BOOST_TEST(hex(127) == "7f");
  BOOST_TEST(hex(128) == "8001");
  BOOST_TEST(hex(300) == "ac02");
  BOOST_TEST(hex(UINT64_MAX) == "ffffffffffffffffff01");
}

BOOST_AUTO_TEST_CASE(stream_frames_and_mesh_datagrams) {
  encoder enc;
  std::string out, err;
  auto a = event_with(R"(<contact callsign="a"/>)");
  // A long remark makes the second frame's length take two varint bytes.
  auto b = event_with("<remarks>" + std::string(300, 'r') + "</remarks>");
  BOOST_TEST_REQUIRE(enc.append(a, wire_format::stream, false, out, err));
  BOOST_TEST_REQUIRE(enc.append(b, wire_format::stream, false, out, err));
  auto frames = test::stream_frames(out);
  BOOST_TEST_REQUIRE(frames.size() == 2u);
  BOOST_TEST(frames[0].cotevent().detail().contact().callsign() == "a");
  BOOST_TEST(frames[1].cotevent().detail().xmldetail().size() > 300u);

  std::string datagram;
  BOOST_TEST_REQUIRE(enc.append(a, wire_format::mesh, true, datagram, err));
  BOOST_TEST_REQUIRE(datagram.substr(0, 3) == "\xbf\x01\xbf");
  pb::TakMessage m;
  BOOST_TEST_REQUIRE(m.ParseFromString(datagram.substr(3)));
  BOOST_TEST(m.takcontrol().minprotoversion() == 1u);
  BOOST_TEST(m.takcontrol().maxprotoversion() == 1u);
  BOOST_TEST(m.cotevent().uid() == "u-1");

  // A failed conversion appends nothing.
  auto before = out.size();
  BOOST_TEST(!enc.append("<event/>", wire_format::stream, false, out, err));
  BOOST_TEST(out.size() == before);
}

BOOST_AUTO_TEST_CASE(every_event_the_encoder_writes_converts) {
  // Generated detections of every kind the generator makes, through the
  // real decoder and encoder: each event converts, and its typed fields
  // and xmlDetail hold all of its detail (nothing dropped, nothing twice).
  detection_generator gen{{}};
  decoder dec{64 * 1024};
  cot_encoder cot{default_config().cot};
  generated_record rec;
  detection d;
  std::string xml, err;
  int converted = 0;
  for (int i = 0; i < 2000; ++i) {
    gen.next(rec, now);
    if (!rec.valid || dec.decode(rec.payload, d))
      continue;
    if (cot.encode(d, now, xml) != encode_outcome::encoded)
      continue;
    pb::TakMessage m;
    BOOST_TEST_REQUIRE(to_tak_message(xml, m, err), err << ": " << xml);
    auto& det = m.cotevent().detail();
    BOOST_TEST(xml.find(det.xmldetail()) != std::string::npos);
    BOOST_TEST((det.has_contact() == (xml.find("<contact") != xml.npos)));
    BOOST_TEST((det.has_track() == (xml.find("<track") != xml.npos)));
    BOOST_TEST(det.xmldetail().find("<contact") == std::string::npos);
    ++converted;
  }
  BOOST_TEST(converted > 1500);
  // Pings too: a connection in version 1 pings in version 1.
  pb::TakMessage ping;
  BOOST_TEST(to_tak_message(ping_event("cotflow-x", now), ping, err), err);
  BOOST_TEST(ping.cotevent().type() == "t-x-c-t");
}

BOOST_AUTO_TEST_CASE(presented_events_and_sensor_events_convert) {
  // Team mode's __group and contact endpoint have typed fields; the icon,
  // colour, sensor link and field of view go as xmlDetail.
  presentation_config p;
  auto& cam = p.sources["cam"];
  cam.how = "m-i";
  cam.icon = "set/group/camera.png";
  cam.color = "#FFFF0000";
  cam.team = team_style{"Dark Blue", "Team Lead", ""};
  cam.sensor.emplace();
  cam.sensor->lat = 48.25;
  cam.sensor->lon = -3.5;
  cam.sensor->azimuth = 90;
  cam.sensor->fov = 60;
  cam.sensor->range = 500;
  cot_encoder cot{default_config().cot, p};
  detection d;
  d.clear();
  d.id = "t1";
  d.source = "cam";
  d.time_ms = now - 1000;
  d.lat = 48.5;
  d.lon = -3.25;
  std::string xml, uid, type;
  int64_t stale = 0;
  BOOST_TEST_REQUIRE((cot.encode(d, now, xml) == encode_outcome::encoded));
  auto m = convert(xml);
  auto& det = m.cotevent().detail();
  BOOST_TEST(m.cotevent().how() == "m-i");
  BOOST_TEST(det.group().name() == "Dark Blue");
  BOOST_TEST(det.group().role() == "Team Lead");
  BOOST_TEST(det.contact().callsign() == "t1");
  BOOST_TEST(det.contact().endpoint() == "*:-1:stcp");
  BOOST_TEST(
    det.xmldetail().find(R"(<usericon iconsetpath="set/group/camera.png"/>)")
    != std::string::npos);
  BOOST_TEST(det.xmldetail().find(R"(<color argb="-65536"/>)")
             != std::string::npos);
  BOOST_TEST(det.xmldetail().find(R"(<link uid="sensor-cam" relation="p-p")")
             != std::string::npos);
  BOOST_TEST(det.xmldetail().find("__group") == std::string::npos);

  BOOST_TEST_REQUIRE(cot.sensor_event(d, now, xml, uid, type, stale));
  m = convert(xml);
  BOOST_TEST(m.cotevent().uid() == "sensor-cam");
  BOOST_TEST(m.cotevent().type() == "b-m-p-s-p-loc");
  BOOST_TEST(m.cotevent().lat() == 48.25);
  BOOST_TEST(m.cotevent().detail().contact().callsign() == "cam");
  BOOST_TEST(m.cotevent().detail().xmldetail().find(
               R"(<sensor azimuth="90.0" fov="60.0" range="500.0"/>)")
             != std::string::npos);
}

BOOST_AUTO_TEST_CASE(the_reader_finds_the_offer_among_other_events) {
  negotiation_reader r;
  const std::string other = R"(<?xml version="1.0"?><event uid="x" )"
                            R"(type="a-f-G" how="m-g"><point/></event>)";
  const std::string offer
    = R"(<?xml version="1.0" encoding="UTF-8"?>)"
      R"(<event version='2.0' uid='proto-&amp;1' type='t-x-takp-v' )"
      R"(time='2026-11-26T12:34:55Z' start='2026-11-26T12:34:55Z' )"
      R"(stale='2026-11-26T12:35:55Z' how='m-g'><point lat='0.0' )"
      R"(lon='0.0' hae='0.0' ce='999999' le='999999'/><detail>)"
      R"(<TakControl><TakProtocolSupport version="1"/>)"
      R"(<TakServerVersionInfo serverVersion="5.2"/></TakControl>)"
      R"(</detail></event>)";
  // Split anywhere, after other traffic: found once it is complete.
  BOOST_TEST(!r.feed(other));
  BOOST_TEST(!r.feed(offer.substr(0, 100)));
  auto m = r.feed(offer.substr(100));
  BOOST_TEST_REQUIRE(m.has_value());
  BOOST_TEST((m->what == server_message::kind::offer));
  BOOST_TEST(m->uid == "proto-&1");
  BOOST_TEST(m->versions == std::vector<int>{1});

  const std::string yes
    = R"(<event version="2.0" uid="proto-&amp;1" type="t-x-takp-r" )"
      R"(time="2026-11-26T12:34:56Z" start="2026-11-26T12:34:56Z" )"
      R"(stale="2026-11-26T12:35:56Z" how="m-g"><point lat="0" lon="0" )"
      R"(hae="0" ce="999999" le="999999"/><detail><TakControl>)"
      R"(<TakResponse status="true"/></TakControl></detail></event>)";
  // The server's first frame may follow in the same read.
  auto r2 = r.feed(yes + "\xbf\x05");
  BOOST_TEST_REQUIRE(r2.has_value());
  BOOST_TEST((r2->what == server_message::kind::response));
  BOOST_TEST(r2->accepted);
  BOOST_TEST(r.rest() == "\xbf\x05");

  negotiation_reader no;
  auto declined = yes;
  declined.replace(declined.find("true"), 4, "false");
  auto r3 = no.feed(declined);
  BOOST_TEST_REQUIRE(r3.has_value());
  BOOST_TEST(!r3->accepted);

  // What never ends is not kept without bound.
  negotiation_reader flood;
  for (int i = 0; i < 100; ++i)
    BOOST_TEST(!flood.feed(std::string(4096, 'x')));
  BOOST_TEST(flood.rest().size() <= 64u * 1024);
}

BOOST_AUTO_TEST_CASE(the_request_repeats_the_offer_uid) {
  auto q = protocol_request("proto-<1>", 1, now);
  cot_xml ev;
  std::string err;
  BOOST_TEST_REQUIRE(read_cot_xml(q, ev, err), err);
  std::string uid;
  BOOST_TEST(xml_unescape(*ev.event.find("uid"), uid));
  BOOST_TEST(uid == "proto-<1>");
  BOOST_TEST(*ev.event.find("type") == "t-x-takp-q");
  BOOST_TEST(q.find(R"(<TakRequest version="1"/>)") != std::string::npos);
  pb::TakMessage m;
  BOOST_TEST(to_tak_message(q, m, err), err);
}

BOOST_AUTO_TEST_CASE(detail_is_added_where_the_event_has_it_or_made) {
  const std::string extra = "<archive/>";
  auto with = [&](const std::string& xml) {
    std::string out;
    append_with_detail(xml, extra, out);
    return out;
  };
  BOOST_TEST(with(head + "<detail><a/></detail></event>")
             == head + "<detail><a/><archive/></detail></event>");
  BOOST_TEST(with(head + "<detail/></event>")
             == head + "<detail><archive/></detail></event>");
  BOOST_TEST(with(head + "</event>")
             == head + "<detail><archive/></detail></event>");
  BOOST_TEST(with("not an event") == "not an event");
}

BOOST_AUTO_TEST_CASE(routing_dests_replace_the_events_own) {
  const std::string dests = R"(<dest callsign="B"/>)";
  auto with = [&](const std::string& xml) {
    std::string out;
    append_with_detail(xml, "<archive/>", out, dests);
    return out;
  };
  // A record's own dest list (CloudTAK `dest`) and the destination's:
  // the destination's alone, in the event's <marti> (a record cannot
  // widen the routing an operator configured).
  BOOST_TEST(with(head
                  + R"(<detail><marti><dest callsign="A"/><dest )"
                    R"(group="G"/></marti><x/></detail></event>)")
             == head
                  + R"(<detail><marti><dest callsign="B"/></marti>)"
                    R"(<x/><archive/></detail></event>)");
  BOOST_TEST(with(head + "<detail><x/></detail></event>")
             == head
                  + R"(<detail><x/><marti><dest callsign="B"/></marti>)"
                    R"(<archive/></detail></event>)");
  BOOST_TEST(with(head + "</event>")
             == head
                  + R"(<detail><marti><dest callsign="B"/></marti>)"
                    R"(<archive/></detail></event>)");
}

BOOST_AUTO_TEST_CASE(drawings_and_cloudtak_elements_convert) {
  // A Feature with the CloudTAK properties and a drawing, through the
  // real decoder and encoder: the elements with a message go there (the
  // team's __group, the status), the rest stay XML whole, in order.
  decoder dec{default_config()};
  cot_encoder cot{default_config().cot};
  detection d;
  std::string xml;
  auto encode = [&](const std::string& record) {
    auto r = dec.decode(record, d);
    BOOST_TEST_REQUIRE(!r.has_value(), (r ? r->detail : ""));
    BOOST_TEST_REQUIRE((cot.encode(d, now, xml) == encode_outcome::encoded));
    return convert(xml);
  };
  auto m = encode(
    R"({"type":"Feature","id":"p","geometry":{"type":"Point","coordinates":)"
    R"([1,2]},"properties":{"time":1795696496789,"callsign":"B",)"
    R"("group":{"name":"Cyan","role":"Team Member"},"status":{)"
    R"("battery":88},"links":[{"uid":"cam-7","relation":"p-p"}],)"
    R"("marker-color":"#FF0000"}})");
  auto& det = m.cotevent().detail();
  BOOST_TEST(det.group().name() == "Cyan");
  BOOST_TEST(det.group().role() == "Team Member");
  BOOST_TEST(det.status().battery() == 88u);
  BOOST_TEST(det.contact().callsign() == "B");
  BOOST_TEST(det.xmldetail().find(R"(<link uid="cam-7" relation="p-p"/>)")
             != std::string::npos);
  BOOST_TEST(det.xmldetail().find(R"(<color argb="-65536"/>)")
             != std::string::npos);
  auto line = encode(
    R"({"type":"Feature","id":"l","geometry":{"type":"LineString",)"
    R"("coordinates":[[1,2],[3,4]]},"properties":{"time":1795696496789}})");
  BOOST_TEST(line.cotevent().type() == "u-d-f");
  BOOST_TEST(line.cotevent().detail().xmldetail().find(
               R"(<link point="2.0000000,1.0000000"/>)")
             != std::string::npos);
}
