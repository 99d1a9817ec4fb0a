// End-to-end tests of `cotflow run` against `cotflow broker`, each in its
// own process, with an independent librdkafka client publishing the input
// and reading the outputs.
#include <boost/test/unit_test.hpp>

#include "tests/support/broker_fixture.hpp"
#include "tests/support/cot_schema.hpp"
#include "tests/support/kafka_client.hpp"
#include "tests/support/process.hpp"

#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <set>
#include <thread>

using namespace cotflow::test;
using namespace std::chrono_literals;
namespace utf = boost::unit_test;

namespace {

/// What reached the outputs, by generator sequence number.
struct outputs {
  std::map<uint64_t, int> cot;
  std::map<uint64_t, int> dead;
  std::vector<consumed> dead_records;
  std::vector<std::string> events;
};

outputs read_outputs(const std::string& bootstrap) {
  outputs out;
  for (auto& r : read_topic(bootstrap, "cot")) {
    auto seq = seq_of(r.payload);
    BOOST_REQUIRE_MESSAGE(seq, "a CoT event without its seq: " + r.payload);
    out.cot[*seq] += 1;
    if (out.events.size() < 25)
      out.events.push_back(r.payload);
  }
  for (auto& r : read_topic(bootstrap, "cot-dead-letter")) {
    auto seq = seq_of(r.payload);
    BOOST_REQUIRE_MESSAGE(seq, "a dead letter without its seq: " + r.payload);
    out.dead[*seq] += 1;
    out.dead_records.push_back(std::move(r));
  }
  return out;
}

/// Validates events against the public CoT 2.0 schema with xmllint.
void validate_against_schema(const std::vector<std::string>& events) {
  auto xsd = require_cot_schema();
  auto file = "/tmp/cotflow-test-event-" + std::to_string(getpid()) + ".xml";
  for (auto& ev : events) {
    std::ofstream{file} << ev;
    auto cmd = std::string{"xmllint --noout --schema "} + xsd + " " + file
               + " 2>/dev/null";
    BOOST_CHECK_MESSAGE(std::system(cmd.c_str()) == 0,
                        "not valid CoT 2.0: " + ev);
  }
  std::remove(file.c_str());
}

} // namespace

BOOST_FIXTURE_TEST_SUITE(pipeline_end_to_end, broker_fixture)

namespace {

/// Every valid record in `cot` and every malformed one in the dead letters,
/// none in the other; each dead letter names its reason and its origin.
void check_outputs(const std::string& bootstrap, const std::string& input_topic,
                   const std::vector<produced>& inputs) {
  auto out = read_outputs(bootstrap);
  size_t valid = 0, invalid = 0, missing = 0, misplaced = 0;
  std::map<uint64_t, produced> by_seq;
  for (auto& p : inputs) {
    by_seq[p.seq] = p;
    if (p.valid) {
      ++valid;
      missing += out.cot.count(p.seq) == 0;
      misplaced += out.dead.count(p.seq);
    } else {
      ++invalid;
      missing += out.dead.count(p.seq) == 0;
      misplaced += out.cot.count(p.seq);
    }
  }
  BOOST_TEST_MESSAGE(valid << " valid, " << invalid << " malformed, "
                           << out.cot.size() << " in cot, " << out.dead.size()
                           << " dead-lettered");
  BOOST_CHECK_GT(invalid, 0u);
  BOOST_CHECK_EQUAL(missing, 0u);
  BOOST_CHECK_EQUAL(misplaced, 0u);
  for (auto& d : out.dead_records) {
    auto& origin = by_seq.at(*seq_of(d.payload));
    BOOST_CHECK(!d.headers["cotflow.reason"].empty());
    BOOST_CHECK_EQUAL(d.headers["cotflow.source.topic"], input_topic);
    BOOST_CHECK_EQUAL(d.headers["cotflow.source.partition"],
                      std::to_string(origin.partition));
    BOOST_CHECK_EQUAL(d.headers["cotflow.source.offset"],
                      std::to_string(origin.offset));
  }
}

/// Runs `cotflow run` in `group` (with `extra` environment) until every
/// input record is committed, then stops it with SIGTERM: it must exit 0.
/// With `log`: its log lines (stderr) go there instead of the test's log.
void run_until_committed(
  const broker_fixture& f, const std::string& group,
  const std::vector<std::pair<std::string, std::string>>& extra = {},
  std::string* log = nullptr) {
  auto run = f.run(group, extra, log != nullptr);
  BOOST_REQUIRE_MESSAGE(
    eventually([&] { return f.all_committed(group); }, 120s),
    "offsets were not committed to the end");
  run->signal(SIGTERM);
  auto rc = run->wait(60s);
  BOOST_REQUIRE(rc);
  BOOST_CHECK_EQUAL(*rc, 0);
  if (log)
    *log = run->read_all(5s);
}

} // namespace

BOOST_AUTO_TEST_CASE(every_record_reaches_cot_or_dead_letters_and_commits) {
  auto inputs = publish_generated(bootstrap, input_topic, 20000, 0.03);
  run_until_committed(*this, "e2e");
  check_outputs(bootstrap, input_topic, inputs);
}

// With room for only 20 messages in each producer's queue, far below the
// credit, messages wait in the producer for room (the Kafka sinks share the
// scheduler's threads, which a wait would hold; the producer's own test
// shows that producing never waits, in order), and every record still
// arrives and is committed.
BOOST_AUTO_TEST_CASE(a_producer_queue_far_below_the_credit_loses_nothing) {
  auto inputs = publish_generated(bootstrap, input_topic, 20000, 0.03);
  std::string log;
  run_until_committed(
    *this, "small-queue",
    {{"COTFLOW_KAFKA_PROPERTIES", "queue.buffering.max.messages=20"}}, &log);
  check_outputs(bootstrap, input_topic, inputs);
  // Messages did wait (the warning comes once per producer).
  BOOST_CHECK_MESSAGE(
    log.find("librdkafka's queue is full") != std::string::npos, log);
}

// Its own CTest test, integration_pipeline_schema
// (tests/support/cot_schema.hpp).
BOOST_AUTO_TEST_CASE(cot_events_validate_against_the_cot_schema,
                     *utf::label("cot_schema") * utf::disabled()
                       * utf::precondition(have_cot_schema)) {
  require_cot_schema();
  publish_generated(bootstrap, input_topic, 500, 0.03);
  run_until_committed(*this, "schema");
  auto out = read_outputs(bootstrap);
  BOOST_REQUIRE(!out.events.empty());
  validate_against_schema(out.events);
}

// Presentation end to end (docs/presentation.md): the rules from the
// environment reach the events, a placed sensor is published as its own
// event beside its detections, and sensor events, which carry no input
// record, neither lose records nor hold the commits back.
BOOST_AUTO_TEST_CASE(presented_events_and_sensor_events_flow_and_commit) {
  auto inputs = publish_generated(bootstrap, input_topic, 3000, 0.0);
  run_until_committed(
    *this, "present",
    {{"COTFLOW_PRESENTATION_SOURCES",
      "{cam-north: {how: m-i, color: '#FFFF0000', sensor: {lat: "
      "48.5, lon: -3.25, azimuth: 90, fov: 60, range: 500}}, "
      "radar-1: {how: m-r, team: {name: Cyan}}}"}});
  std::set<uint64_t> seen;
  size_t sensor_events = 0, cams = 0, radars = 0;
  for (auto& r : read_topic(bootstrap, "cot")) {
    auto& xml = r.payload;
    if (r.key == "sensor-cam-north") {
      ++sensor_events;
      BOOST_CHECK_MESSAGE(xml.find(R"(type="b-m-p-s-p-loc" how="m-c")")
                              != xml.npos
                            && xml.find(R"(<sensor azimuth="90.0" )"
                                        R"(fov="60.0" range="500.0"/>)")
                                 != xml.npos,
                          xml);
      continue;
    }
    auto seq = seq_of(xml);
    BOOST_REQUIRE_MESSAGE(seq, "a CoT event without its seq: " + xml);
    seen.insert(*seq);
    if (xml.find(R"(source="cam-north")") != xml.npos) {
      ++cams;
      BOOST_CHECK_MESSAGE(
        xml.find(R"(how="m-i")") != xml.npos
          && xml.find(R"(<color argb="-65536"/>)") != xml.npos
          && xml.find(R"(<link uid="sensor-cam-north" relation="p-p" )"
                      R"(type="b-m-p-s-p-loc"/>)")
               != xml.npos,
        xml);
    } else if (xml.find(R"(source="radar-1")") != xml.npos) {
      ++radars;
      BOOST_CHECK_MESSAGE(xml.find(R"(how="m-r")") != xml.npos
                            && xml.find(R"(<__group name="Cyan" )"
                                        R"(role="Team Member"/>)")
                                 != xml.npos
                            && xml.find(R"(endpoint="*:-1:stcp")") != xml.npos,
                          xml);
    } else {
      BOOST_CHECK_MESSAGE(xml.find(R"(how="m-g")") != xml.npos, xml);
    }
  }
  size_t missing = 0;
  for (auto& p : inputs)
    missing += p.valid && seen.count(p.seq) == 0;
  BOOST_TEST_MESSAGE(sensor_events << " sensor events, " << cams
                                   << " from cam-north, " << radars
                                   << " from radar-1");
  BOOST_CHECK_EQUAL(missing, 0u);
  BOOST_CHECK_GT(cams, 0u);
  BOOST_CHECK_GT(radars, 0u);
  // Once per encoder worker at least; at most once per worker per half
  // stale time (cot.stale_s 120 s), far longer than this run.
  BOOST_CHECK_GE(sensor_events, 1u);
  BOOST_CHECK_LE(sensor_events, 256u);
}

/// Checks that every input of `inputs` for which `take` holds reached the
/// output it belongs to; returns how many were checked.
template <class Pred>
size_t check_delivered(const std::vector<produced>& inputs, const outputs& out,
                       Pred take) {
  size_t checked = 0;
  for (auto& p : inputs) {
    if (!take(p))
      continue;
    ++checked;
    auto& where = p.valid ? out.cot : out.dead;
    BOOST_CHECK_MESSAGE(where.count(p.seq) > 0,
                        "record seq=" << p.seq << " at " << p.partition << "/"
                                      << p.offset << " missing");
  }
  return checked;
}

BOOST_AUTO_TEST_CASE(sigterm_mid_stream_then_restart_loses_nothing) {
  // SIGTERM lands mid-stream: half of the stream is there before it, the
  // other half is published once it was sent (while the first run drains
  // and after it exited), so some records are always left to the second
  // run however fast the first one is.
  std::vector<produced> inputs;
  auto publish = [&](uint64_t from, uint64_t to) {
    for (uint64_t i = from; i < to; ++i) {
      auto part = publish_generated(bootstrap, input_topic, 2000, 0.02, 100 + i,
                                    i * 2000);
      inputs.insert(inputs.end(), part.begin(), part.end());
    }
  };
  publish(0, 5);
  auto first = run("restart");
  BOOST_REQUIRE(eventually(
    [&] {
      int64_t n = 0;
      for (auto& [p, hi] : high_watermarks(bootstrap, "cot"))
        n += hi;
      return n >= 3000;
    },
    120s));
  first->signal(SIGTERM);
  publish(5, 10);
  auto rc = first->wait(60s);
  BOOST_REQUIRE(rc);
  BOOST_CHECK_EQUAL(*rc, 0);
  // Nothing runs now: the outputs and the commits stand still.
  auto done = committed(bootstrap, "restart", input_topic);
  auto out = read_outputs(bootstrap);
  BOOST_REQUIRE_EQUAL(inputs.size(), 20000u);
  // The committed offsets never pass an undelivered record.
  auto below = check_delivered(inputs, out, [&](const produced& p) {
    return p.offset < done[p.partition];
  });
  BOOST_TEST_MESSAGE("first run: " << below << " records below the commits");
  BOOST_CHECK_GT(below, 0u);
  BOOST_CHECK_LT(below, inputs.size());
  auto second = run("restart");
  BOOST_REQUIRE_MESSAGE(
    eventually([&] { return all_committed("restart"); }, 120s),
    "the restarted run did not commit to the end");
  second->signal(SIGTERM);
  rc = second->wait(60s);
  BOOST_REQUIRE(rc);
  BOOST_CHECK_EQUAL(*rc, 0);
  // At-least-once: the union of both runs covers every input.
  auto all = read_outputs(bootstrap);
  auto checked = check_delivered(inputs, all,
                                 [](const produced&) { return true; });
  BOOST_CHECK_EQUAL(checked, inputs.size());
  size_t duplicates = 0;
  for (auto& [seq, n] : all.cot)
    duplicates += static_cast<size_t>(n - 1);
  BOOST_TEST_MESSAGE("duplicates after the restart: " << duplicates);
}

BOOST_AUTO_TEST_CASE(oversized_and_hostile_records_are_dead_lettered) {
  // Larger than pipeline.max_record_bytes: dead-lettered whole. Larger than
  // what the dead-letter producer may send (message.max.bytes, lowered
  // here): dead-lettered cut to fit, saying how long it was.
  std::string big = "{\"id\":\"big\",\"seq=900001\":\"";
  big += std::string(800 * 1024, 'x') + "\"}";
  std::string large = "{\"id\":\"large\",\"seq=900004\":\"";
  large += std::string(100 * 1024, 'x') + "\"}";
  std::string deep = "{\"x\":\"seq=900002\",\"y\":" + std::string(20000, '[')
                     + std::string(20000, ']') + "}";
  std::string utf8 = "{\"id\":\"\xff\xfe\",\"remarks\":\"seq=900003\"}";
  // A Feature without a time (a tracker's): its Kafka timestamp, and the
  // event says so. One whose id holds a lone surrogate: refused.
  std::string untimed
    = R"({"type":"Feature","geometry":{"type":"Point","coordinates":[2,1]},)"
      R"("properties":{"uid":"untimed","remarks":"seq=900005"}})";
  std::string lone = R"({"id":"lone-\udc00","time":1795696496789,"lat":1,)"
                     R"("lon":2,"remarks":"seq=900006"})";
  publish_raw(bootstrap, input_topic,
              {big, deep, utf8, "", large, untimed, lone});
  auto run = this->run(
    "hostile", {{"COTFLOW_KAFKA_PROPERTIES", "message.max.bytes=500000"}});
  BOOST_REQUIRE(eventually([&] { return all_committed("hostile"); }, 60s));
  run->signal(SIGTERM);
  BOOST_CHECK_EQUAL(*run->wait(60s), 0);
  auto dead = read_topic(bootstrap, "cot-dead-letter");
  BOOST_REQUIRE_EQUAL(dead.size(), 6u);
  auto cot = read_topic(bootstrap, "cot");
  BOOST_REQUIRE_EQUAL(cot.size(), 1u);
  BOOST_CHECK(
    cot[0].payload.find(R"(<_cotflow_ time_source="kafka_timestamp"/>)")
    != std::string::npos);
  std::map<std::string, std::string> reasons;
  for (auto& d : dead) {
    auto seq = seq_of(d.payload);
    reasons[seq ? std::to_string(*seq) : std::string{"empty"}]
      = d.headers["cotflow.reason"];
    if (seq && *seq == 900001) {
      BOOST_CHECK_EQUAL(d.headers["cotflow.truncated"],
                        std::to_string(big.size()));
      BOOST_CHECK_EQUAL(d.payload, big.substr(0, big.size() / 2));
    }
    if (seq && *seq == 900004) {
      BOOST_CHECK_EQUAL(d.headers.count("cotflow.truncated"), 0u);
      BOOST_CHECK(d.payload == large);
    }
  }
  BOOST_CHECK_EQUAL(reasons["900004"], "too_large");
  BOOST_CHECK_EQUAL(reasons["900006"], "invalid_id");
  BOOST_CHECK_EQUAL(reasons["900001"], "too_large");
  BOOST_CHECK_EQUAL(reasons["900002"], "missing_field");
  BOOST_CHECK_EQUAL(reasons["900003"], "invalid_json");
  BOOST_CHECK_EQUAL(reasons["empty"], "invalid_json");
}

BOOST_AUTO_TEST_SUITE_END()
