// TAK Protocol version 1 end to end: `cotflow run` negotiating with test
// servers that accept, decline, ignore or never offer it, and writing mesh
// datagrams; every protobuf message it wrote is decoded by Python's
// protobuf (tests/integration/takp_compare.py) and compared field by field
// with the XML event of the same record.
#include <boost/test/unit_test.hpp>

#include "tests/support/broker_fixture.hpp"
#include "tests/support/kafka_client.hpp"
#include "tests/support/seq.hpp"
#include "tests/support/tak_receiver.hpp"
#include "tests/support/takp_receiver.hpp"

#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <set>

using namespace cotflow::test;
using namespace std::chrono_literals;
using behaviour = takp_receiver::behaviour;

namespace {

std::string tcp(uint16_t port, const std::string& options = "") {
  return "tcp://127.0.0.1:" + std::to_string(port) + options;
}

/// The seqs of the valid inputs.
std::set<uint64_t> valid_seqs(const std::vector<produced>& inputs) {
  std::set<uint64_t> out;
  for (auto& p : inputs)
    if (p.valid)
      out.insert(p.seq);
  return out;
}

/// The distinct seqs in `items` (events or payloads, whose remarks carry
/// them as written).
std::set<uint64_t> seqs_in(const std::vector<std::string>& items) {
  std::set<uint64_t> out;
  for (auto& x : items)
    if (auto seq = seq_of(x))
      out.insert(*seq);
  return out;
}

/// Writes `items` as takp_compare.py reads them: a 4-byte little-endian
/// length, then the bytes.
std::string write_items(const std::string& name,
                        const std::vector<std::string>& items) {
  auto path = "/tmp/cotflow-takp-" + std::to_string(getpid()) + "-" + name;
  std::ofstream out{path, std::ios::binary};
  for (auto& x : items) {
    auto n = static_cast<uint32_t>(x.size());
    char len[4] = {
      static_cast<char>(n & 0xff), static_cast<char>((n >> 8) & 0xff),
      static_cast<char>((n >> 16) & 0xff), static_cast<char>((n >> 24) & 0xff)};
    out.write(len, 4);
    out.write(x.data(), static_cast<std::streamsize>(x.size()));
  }
  return path;
}

std::string source_dir() {
  auto dir = std::getenv("COTFLOW_SOURCE_DIR");
  BOOST_REQUIRE(dir);
  return dir;
}

} // namespace

BOOST_FIXTURE_TEST_SUITE(tak_protocol, broker_fixture)

BOOST_AUTO_TEST_CASE(protobuf_decodes_to_the_xml_of_the_same_events) {
  takp_receiver xml{behaviour::no_offer};
  takp_receiver v1{behaviour::accept};
  udp_receiver mesh;
  std::vector<std::pair<std::string, std::string>> env;
  env.push_back({"COTFLOW_TAK_DESTINATIONS",
                 "xml=" + tcp(xml.port())
                   + ",v1=" + tcp(v1.port(), "?protocol=negotiate")
                   + ",mesh=udp://127.0.0.1:" + std::to_string(mesh.port())
                   + "?protocol=mesh"});
  // Presentation's elements (docs/presentation.md) in both forms too: the
  // typed __group and contact endpoint, the rest in xmlDetail, and a
  // camera's own sensor event.
  env.push_back({"COTFLOW_PRESENTATION_SOURCES",
                 "{cam-north: {how: m-i, icon: set/cams/cam.png, color: "
                 "'#FFFF0000', team: {name: Cyan, role: HQ}, sensor: {lat: "
                 "48.5, lon: -3.25, azimuth: 90, fov: 60, range: 500}}}"});
  env.push_back({"COTFLOW_PRESENTATION_TYPES", "{a-h: {color: '#FF0000FF'}}"});
  auto run = this->run("takp", env);
  auto inputs = publish_generated(bootstrap, input_topic, 600, 0.02);
  auto want = valid_seqs(inputs);
  bool all = eventually(
    [&] {
      return seqs_in(xml.xml_events()).size() == want.size()
             && seqs_in(v1.payloads()).size() == want.size()
             && mesh.seqs().size() == want.size();
    },
    60s);
  BOOST_CHECK_MESSAGE(all, "xml " << seqs_in(xml.xml_events()).size() << ", v1 "
                                  << seqs_in(v1.payloads()).size() << ", mesh "
                                  << mesh.seqs().size() << " of "
                                  << want.size());
  BOOST_CHECK(seqs_in(v1.payloads()) == want);
  BOOST_CHECK_EQUAL(v1.requests(), 1u);
  BOOST_CHECK_EQUAL(v1.violations(), 0u);
  // Every event went to the accepting server as protobuf, none as XML.
  BOOST_CHECK_EQUAL(seqs_in(v1.xml_events()).size(), 0u);
  run->signal(SIGTERM);
  auto rc = run->wait(60s);
  BOOST_REQUIRE(rc);
  BOOST_CHECK_EQUAL(*rc, 0);

  auto xml_file = write_items("xml", xml.xml_events());
  auto stream_file = write_items("stream", v1.payloads());
  auto mesh_file = write_items("mesh", mesh.datagrams());
  child compare{{"/usr/bin/python3",
                 source_dir() + "/tests/integration/takp_compare.py",
                 source_dir() + "/pipeline/tak/protocol/tak_message.proto",
                 xml_file, "stream:" + stream_file, "mesh:" + mesh_file},
                {},
                true};
  auto report = compare.read_all(120s);
  auto code = compare.wait(10s);
  BOOST_TEST_MESSAGE(report);
  BOOST_REQUIRE(code);
  BOOST_CHECK_MESSAGE(*code == 0, report);
  BOOST_CHECK_MESSAGE(report.find("(0 without a seq)") == std::string::npos,
                      "no sensor event compared: " + report);
  for (auto& f : {xml_file, stream_file, mesh_file})
    std::remove(f.c_str());
}

BOOST_AUTO_TEST_CASE(servers_that_decline_ignore_or_never_offer_get_xml) {
  takp_receiver decline{behaviour::decline};
  takp_receiver ignore{behaviour::ignore};
  takp_receiver silent{behaviour::no_offer};
  std::vector<std::pair<std::string, std::string>> env{
    {"COTFLOW_TAK_DESTINATIONS",
     "decline=" + tcp(decline.port(), "?protocol=negotiate")
       + ",ignore=" + tcp(ignore.port(), "?protocol=negotiate")
       + ",silent=" + tcp(silent.port(), "?protocol=negotiate")},
    {"COTFLOW_TAK_NEGOTIATE_OFFER_MS", "500"},
    {"COTFLOW_TAK_NEGOTIATE_RESPONSE_MS", "1000"},
    {"COTFLOW_TAK_RECONNECT_MIN_MS", "100"},
    {"COTFLOW_TAK_RECONNECT_MAX_MS", "200"}};
  auto run = this->run("takp-xml", env);
  auto inputs = publish_generated(bootstrap, input_topic, 300, 0.0);
  auto want = valid_seqs(inputs);
  for (auto* r : {&decline, &ignore, &silent}) {
    bool all = eventually([&] { return seqs_in(r->xml_events()) == want; },
                          60s);
    BOOST_CHECK_MESSAGE(all, seqs_in(r->xml_events()).size()
                               << " of " << want.size() << " as XML");
    BOOST_CHECK(r->payloads().empty());
  }
  BOOST_CHECK_EQUAL(decline.requests(), 1u);
  BOOST_CHECK_EQUAL(decline.connections(), 1u);
  BOOST_CHECK_EQUAL(silent.requests(), 0u);
  // No answer within a second: cotflow disconnected, as the protocol asks,
  // and its next connection wrote XML without asking again.
  BOOST_CHECK_EQUAL(ignore.requests(), 1u);
  BOOST_CHECK_GE(ignore.connections(), 2u);
  run->signal(SIGTERM);
  auto rc = run->wait(60s);
  BOOST_REQUIRE(rc);
  BOOST_CHECK_EQUAL(*rc, 0);
  BOOST_CHECK(all_committed("takp-xml"));
}

BOOST_AUTO_TEST_SUITE_END()
