// Circuit breaker and parking end to end: a TAK destination that is down
// opens its breaker, its events are parked in Kafka (and the input offsets
// committed), and when it comes back the backlog is replayed: every record
// delivered, none after its stale time, the parking offsets committed.
#include <boost/test/unit_test.hpp>

#include "tests/support/broker_fixture.hpp"
#include "tests/support/child_log.hpp"
#include "tests/support/http_get.hpp"
#include "tests/support/kafka_client.hpp"
#include "tests/support/process.hpp"
#include "tests/support/tak_receiver.hpp"

#include "pipeline/core/json.hpp"

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <map>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

using namespace cotflow::test;
using namespace std::chrono_literals;

namespace {

/// Flat detections that go stale `stale_s` seconds after now, seq from
/// `first`.
std::vector<std::string> short_lived(uint64_t first, int n, int stale_s) {
  auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
               .count();
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i)
    out.push_back("{\"id\":\"short-" + std::to_string(i)
                  + "\",\"time\":" + std::to_string(now)
                  + ",\"lat\":10.5,\"lon\":20.5,\"stale_s\":"
                  + std::to_string(stale_s)
                  + ",\"remarks\":\"seq=" + std::to_string(first + i) + "\"}");
  return out;
}

/// /status of the instance on `port`.
rapidjson::Document status(int port) {
  auto r = http_get(port, "/status");
  BOOST_REQUIRE(r);
  rapidjson::Document doc;
  doc.Parse(r->body.c_str());
  BOOST_REQUIRE(!doc.HasParseError() && doc.IsObject());
  return doc;
}

/// One frame of `cotflow top` watching the instance on `port`.
std::string top_once(int port) {
  child top{{cotflow_bin(), "top", "--frames", "1", "--url",
             "http://127.0.0.1:" + std::to_string(port)},
            {},
            true};
  auto screen = top.read_all(30s);
  BOOST_CHECK_EQUAL(top.wait(10s).value_or(-1), 0);
  return screen;
}

/// The number after the first `label` on `screen` (after `from`, when
/// given), -1 without one.
long long shown(const std::string& screen, const std::string& label,
                const std::string& from = "") {
  auto start = screen.find(from);
  if (start == std::string::npos)
    return -1;
  auto at = screen.find(label, start);
  if (at == std::string::npos)
    return -1;
  return std::atoll(screen.c_str() + at + label.size());
}

const std::string dest = "tak";
const std::string labels = "{destination=\"tak\",kind=\"tcp\"}";

} // namespace

BOOST_FIXTURE_TEST_SUITE(parking, broker_fixture)

BOOST_AUTO_TEST_CASE(a_dead_destination_parks_and_replays_everything) {
  tak_receiver rx;
  rx.stop();
  auto run = this->run(
    "park",
    {{"COTFLOW_TAK_DESTINATIONS",
      dest + "=tcp://127.0.0.1:" + std::to_string(rx.port())},
     {"COTFLOW_TAK_RECONNECT_MIN_MS", "50"},
     {"COTFLOW_TAK_RECONNECT_MAX_MS", "200"},
     {"COTFLOW_TAK_BREAKER_OPEN_MIN_MS", "500"},
     {"COTFLOW_TAK_BREAKER_OPEN_MAX_MS", "2000"}},
    true);
  std::string log;
  auto port = wait_for_http_port(*run, log);
  // The breaker opens on the refused connects.
  BOOST_REQUIRE(eventually(
    [&] {
      read_log(*run, log);
      return scrape(port)["cotflow_breaker_trips_total" + labels] >= 1;
    },
    60s));
  auto inputs = publish_generated(bootstrap, input_topic, 8000, 0.01);
  const uint64_t short_first = 1000000;
  const int shorts = 50;
  publish_raw(bootstrap, input_topic, short_lived(short_first, shorts, 3));
  // Parked counts as acknowledged: the input is committed although the
  // destination has nothing, and the consumer never stalled.
  BOOST_REQUIRE(eventually(
    [&] {
      read_log(*run, log);
      return all_committed("park");
    },
    120s));
  auto m = scrape(port);
  BOOST_CHECK_EQUAL(m["cotflow_parking_active" + labels], 1);
  BOOST_CHECK_GE(m["cotflow_parked_total" + labels], 7000);
  BOOST_CHECK_EQUAL(rx.events(), 0u);
  // Every record is accounted for once: the parked ones are out (Kafka
  // and the other destinations have them) and wait for the TAK one.
  auto all_dropped = m["cotflow_records_dropped_total{reason=\"stale\"}"]
                     + m["cotflow_records_dropped_total{reason=\"too_old\"}"]
                     + m["cotflow_records_dropped_total{reason="
                         "\"low_confidence\"}"]
                     + m["cotflow_records_dropped_total{reason=\"parking\"}"]
                     + m["cotflow_records_dropped_total{reason="
                         "\"destination\"}"];
  BOOST_CHECK_EQUAL(m["cotflow_records_in_total"],
                    m["cotflow_records_delivered_total"]
                      + m["cotflow_records_waiting"]
                      + m["cotflow_records_dead_lettered_total"] + all_dropped);
  BOOST_CHECK_EQUAL(m["cotflow_records_in_total"],
                    m["cotflow_records_out_total"]
                      + m["cotflow_records_dead_lettered_total"] + all_dropped);
  // During the outage: the waiting backlog in /status and `top`, live.
  auto during = status(port);
  auto& records = during["records"];
  auto out = records["out"].GetUint64();
  BOOST_CHECK_GE(out, 7000u);
  BOOST_CHECK_EQUAL(records["waiting"].GetUint64(), out);
  BOOST_CHECK_EQUAL(records["delivered"].GetUint64(), 0u);
  auto& parking = during["destinations"][1]["parking"];
  BOOST_CHECK_GE(parking["waiting"].GetUint64(), out);
  // The backlog is reported once a second, and grows although the
  // replayer is paused.
  BOOST_CHECK(eventually(
    [&] {
      return status(port)["destinations"][1]["parking"]["backlog"].GetInt64()
             >= static_cast<int64_t>(out);
    },
    10s));
  auto screen = top_once(port);
  BOOST_CHECK_MESSAGE(shown(screen, "parking    waiting ") >= 7000
                        && shown(screen, "  parked ") >= 7000
                        && shown(screen, "replayed ") == 0
                        && shown(screen, "backlog ") >= 7000,
                      screen);
  BOOST_CHECK_GE(m["cotflow_records_parked_total"], 7000);
  // Let the short-lived ones go stale while parked, then bring the
  // destination back.
  auto stale_at = std::chrono::steady_clock::now() + 4s;
  BOOST_REQUIRE(eventually(
    [&] {
      read_log(*run, log);
      return std::chrono::steady_clock::now() > stale_at;
    },
    10s));
  rx.start();
  auto has_all = [&] {
    auto got = rx.seqs();
    for (auto& p : inputs)
      if (p.valid && got.count(p.seq) == 0)
        return false;
    return true;
  };
  // The replay starts when the open breaker next probes (its speed is
  // measured in bench/, not here).
  BOOST_REQUIRE_MESSAGE(eventually(
                          [&] {
                            read_log(*run, log);
                            return has_all();
                          },
                          120s),
                        "missing at the receiver after the replay");
  auto got = rx.seqs();
  for (uint64_t s = short_first; s < short_first + shorts; ++s)
    BOOST_CHECK_MESSAGE(got.count(s) == 0,
                        "seq " << s << " arrived after its stale time");
  // Back to direct delivery, the stale ones counted, the parking offsets
  // committed after redelivery.
  BOOST_REQUIRE(eventually(
    [&] {
      read_log(*run, log);
      auto m = scrape(port);
      return m["cotflow_parking_active" + labels] == 0
             && m["cotflow_parked_dropped_stale_total" + labels] == shorts;
    },
    60s));
  auto parking_topic = "cotflow.parking." + dest;
  BOOST_REQUIRE(eventually(
    [&] {
      auto highs = high_watermarks(bootstrap, parking_topic);
      auto done = committed(bootstrap, "park.parking." + dest, parking_topic);
      for (auto& [p, hi] : highs)
        if (hi > 0 && done[p] < hi)
          return false;
      return !highs.empty();
    },
    60s));
  // Live traffic now goes straight to the destination.
  auto more = publish_generated(bootstrap, input_topic, 500, 0.0, 11, 500000);
  BOOST_REQUIRE(eventually(
    [&] {
      auto got = rx.seqs();
      for (auto& p : more)
        if (got.count(p.seq) == 0)
          return false;
      return true;
    },
    60s));
  // After it: nothing waits, everything valid was delivered but the
  // short-lived ones, dropped in parking. The receiver has the last
  // records before the Kafka output confirms them: until it has, they are
  // in flight.
  rapidjson::Document doc;
  BOOST_REQUIRE(eventually(
    [&] {
      doc = status(port);
      return doc["records"]["in_flight"].GetInt64() == 0;
    },
    30s));
  auto& after = doc["records"];
  BOOST_CHECK_EQUAL(after["waiting"].GetUint64(), 0u);
  BOOST_CHECK_EQUAL(after["dropped_in_parking"].GetUint64(),
                    static_cast<uint64_t>(shorts));
  BOOST_CHECK_EQUAL(after["delivered"].GetUint64(),
                    after["out"].GetUint64() - shorts);
  BOOST_CHECK_EQUAL(after["in"].GetUint64(),
                    after["delivered"].GetUint64()
                      + after["dropped"].GetUint64()
                      + after["dead_lettered"].GetUint64());
  BOOST_CHECK_GE(after["replayed"].GetUint64(), out - shorts);
  screen = top_once(port);
  BOOST_CHECK_MESSAGE(shown(screen, "parking    waiting ") == 0
                        && shown(screen, "replayed ") >= 7000
                        && shown(screen, "waiting ", "  breaker ") == 0,
                      screen);
  auto& d = doc["destinations"][1];
  BOOST_CHECK_EQUAL(d["parking"]["waiting"].GetUint64(), 0u);
  BOOST_CHECK_EQUAL(std::string{d["name"].GetString()}, dest);
  BOOST_CHECK_EQUAL(std::string{d["breaker"]["state"].GetString()}, "closed");
  BOOST_CHECK_GE(d["breaker"]["trips"].GetUint64(), 1u);
  BOOST_CHECK(std::string{d["breaker"]["last_trip_reason"].GetString()}.find(
                "Connection refused")
              != std::string::npos);
  BOOST_CHECK_EQUAL(d["parking"]["dropped_stale"].GetUint64(),
                    static_cast<uint64_t>(shorts));
  run->signal(SIGTERM);
  auto rc = run->wait(60s);
  BOOST_REQUIRE(rc);
  BOOST_CHECK_EQUAL(*rc, 0);
  read_log(*run, log);
  BOOST_CHECK(log.find("circuit breaker open") != std::string::npos);
  BOOST_CHECK(log.find("delivering directly again") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(an_injected_outage_is_parked_and_replayed) {
  // The destination itself stays up; cotflow's fault injection fails its
  // connects and writes for a period mid-stream.
  tak_receiver rx;
  auto run = this->run(
    "park-fault",
    {{"COTFLOW_TAK_DESTINATIONS",
      dest + "=tcp://127.0.0.1:" + std::to_string(rx.port())},
     {"COTFLOW_TAK_RECONNECT_MIN_MS", "50"},
     {"COTFLOW_TAK_RECONNECT_MAX_MS", "200"},
     {"COTFLOW_TAK_BREAKER_OPEN_MIN_MS", "300"},
     {"COTFLOW_TAK_BREAKER_OPEN_MAX_MS", "1000"},
     {"COTFLOW_FAULTS_DESTINATION_DOWN", dest},
     {"COTFLOW_FAULTS_DESTINATION_DOWN_AFTER_MS", "6000"},
     {"COTFLOW_FAULTS_DESTINATION_DOWN_FOR_MS", "4000"}},
    true);
  std::string log;
  auto port = wait_for_http_port(*run, log);
  std::vector<produced> inputs;
  // A steady trickle across the outage.
  for (int i = 0; i < 20; ++i) {
    auto part = publish_generated(bootstrap, input_topic, 500, 0.0, 100 + i,
                                  static_cast<uint64_t>(i) * 1000);
    inputs.insert(inputs.end(), part.begin(), part.end());
    auto next = std::chrono::steady_clock::now() + 500ms;
    eventually(
      [&] {
        read_log(*run, log);
        return std::chrono::steady_clock::now() >= next;
      },
      2s);
  }
  BOOST_REQUIRE_MESSAGE(eventually(
                          [&] {
                            read_log(*run, log);
                            auto got = rx.seqs();
                            for (auto& p : inputs)
                              if (got.count(p.seq) == 0)
                                return false;
                            return all_committed("park-fault");
                          },
                          120s),
                        "missing at the receiver");
  auto m = scrape(port);
  BOOST_CHECK_GE(m["cotflow_breaker_trips_total" + labels], 1);
  BOOST_CHECK_GT(m["cotflow_parked_total" + labels], 0);
  BOOST_CHECK_GT(m["cotflow_unparked_total" + labels], 0);
  read_log(*run, log);
  BOOST_CHECK(log.find("injected fault") != std::string::npos);
  run->signal(SIGTERM);
  auto rc = run->wait(60s);
  BOOST_REQUIRE(rc);
  BOOST_CHECK_EQUAL(*rc, 0);
}

// A hung server accepts the connection and never reads: writes stall
// without failing. It must not hold up the other destinations or the
// consumer: its events spill into its parking topic.
BOOST_AUTO_TEST_CASE(a_server_that_never_reads_stalls_nobody_else) {
  // The black hole: a listening socket whose connections are accepted by
  // the kernel (backlog) and never read.
  int hole = ::socket(AF_INET, SOCK_STREAM, 0);
  BOOST_REQUIRE(hole >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  BOOST_REQUIRE(::bind(hole, reinterpret_cast<sockaddr*>(&addr), sizeof(addr))
                == 0);
  BOOST_REQUIRE(::listen(hole, 16) == 0);
  socklen_t len = sizeof(addr);
  ::getsockname(hole, reinterpret_cast<sockaddr*>(&addr), &len);
  auto hole_port = ntohs(addr.sin_port);
  tak_receiver live;
  auto run = this->run(
    "park-hole",
    {{"COTFLOW_TAK_DESTINATIONS",
      "live=tcp://127.0.0.1:" + std::to_string(live.port())
        + ",hole=tcp://127.0.0.1:" + std::to_string(hole_port)},
     // Long enough that waiting it out would show: the live destination
     // must not wait for it.
     {"COTFLOW_TAK_WRITE_TIMEOUT_MS", "60000"},
     {"COTFLOW_TAK_RECONNECT_MIN_MS", "50"},
     {"COTFLOW_TAK_RECONNECT_MAX_MS", "200"},
     {"COTFLOW_TAK_BREAKER_OPEN_MIN_MS", "60000"},
     {"COTFLOW_TAK_BREAKER_OPEN_MAX_MS", "60000"}},
    true);
  std::string log;
  auto port = wait_for_http_port(*run, log);
  auto inputs = publish_generated(bootstrap, input_topic, 15000, 0.0);
  // Well inside the hung write's 60 s timeout (a bound that only a stall
  // behind the hung destination can reach, not a speed requirement).
  BOOST_REQUIRE_MESSAGE(eventually(
                          [&] {
                            read_log(*run, log);
                            auto got = live.seqs();
                            for (auto& p : inputs)
                              if (got.count(p.seq) == 0)
                                return false;
                            return all_committed("park-hole");
                          },
                          30s),
                        "the live destination or the commits were held up "
                        "by the hung one");
  auto m = scrape(port);
  BOOST_CHECK_GT(m["cotflow_parked_total{destination=\"hole\",kind=\"tcp\"}"],
                 0);
  run->signal(SIGTERM);
  auto rc = run->wait(60s);
  BOOST_REQUIRE(rc);
  BOOST_CHECK_EQUAL(*rc, 0);
  ::close(hole);
}

BOOST_AUTO_TEST_CASE(each_deployment_replays_only_what_it_parked) {
  // Two deployments (consumer groups) on one cluster, each with a TAK
  // destination named "tak", share the parking topic cotflow.parking.tak.
  // A parks everything while its server is down and stops. B, whose server
  // is up, finds A's events in the topic and must not send them to its
  // own server; A, back with its server up, replays all of its own.
  tak_receiver rx_a;
  rx_a.stop();
  auto env_of = [](tak_receiver& rx, const std::string& topic) {
    return std::vector<std::pair<std::string, std::string>>{
      {"COTFLOW_TAK_DESTINATIONS",
       dest + "=tcp://127.0.0.1:" + std::to_string(rx.port())},
      {"COTFLOW_KAFKA_INPUT_TOPICS", topic},
      {"COTFLOW_TAK_RECONNECT_MIN_MS", "50"},
      {"COTFLOW_TAK_RECONNECT_MAX_MS", "200"},
      {"COTFLOW_TAK_BREAKER_OPEN_MIN_MS", "500"},
      {"COTFLOW_TAK_BREAKER_OPEN_MAX_MS", "1000"}};
  };
  auto a = this->run("dep-a", env_of(rx_a, input_topic), true);
  std::string log_a;
  auto port_a = wait_for_http_port(*a, log_a);
  auto a_inputs = publish_generated(bootstrap, input_topic, 2000, 0.0);
  BOOST_REQUIRE(eventually(
    [&] {
      read_log(*a, log_a);
      return all_committed("dep-a");
    },
    120s));
  auto parked_by_a = scrape(port_a)["cotflow_parked_total" + labels];
  BOOST_REQUIRE_GE(parked_by_a, 1000);
  a->signal(SIGTERM);
  BOOST_REQUIRE_EQUAL(*a->wait(60s), 0);

  tak_receiver rx_b;
  const std::string topic_b = "detections-b";
  auto b = this->run("dep-b", env_of(rx_b, topic_b), true);
  std::string log_b;
  auto port_b = wait_for_http_port(*b, log_b);
  auto b_inputs = publish_generated(bootstrap, topic_b, 500, 0.0, 11, 500000);
  // B delivers its own records and passes over every one A parked.
  BOOST_REQUIRE_MESSAGE(
    eventually(
      [&] {
        read_log(*b, log_b);
        auto got = rx_b.seqs();
        for (auto& p : b_inputs)
          if (got.count(p.seq) == 0)
            return false;
        return scrape(port_b)["cotflow_parked_foreign_total" + labels]
               >= parked_by_a;
      },
      120s),
    "B did not deliver its records or pass over A's parked events");
  size_t of_a = 0;
  for (auto& p : a_inputs)
    of_a += rx_b.seqs().count(p.seq);
  BOOST_CHECK_EQUAL(of_a, 0u);
  b->signal(SIGTERM);
  BOOST_CHECK_EQUAL(*b->wait(60s), 0);

  // A's parked events are still A's: back with its server up, A replays
  // every one of them (B's passing over did not take them).
  rx_a.start();
  auto again = this->run("dep-a", env_of(rx_a, input_topic), true);
  std::string log_again;
  auto port_again = wait_for_http_port(*again, log_again);
  BOOST_REQUIRE_MESSAGE(eventually(
                          [&] {
                            read_log(*again, log_again);
                            auto got = rx_a.seqs();
                            for (auto& p : a_inputs)
                              if (p.valid && got.count(p.seq) == 0)
                                return false;
                            return true;
                          },
                          120s),
                        "A's parked events were not all replayed to A");
  // They are the earlier run's: this one counts them apart, and none of
  // its own records waits or was replayed.
  BOOST_CHECK(eventually(
    [&] {
      auto p = status(port_again)["destinations"][1]["parking"].GetObject();
      return p["inherited_replayed"].GetUint64()
               + p["inherited_dropped"].GetUint64()
             >= static_cast<uint64_t>(parked_by_a);
    },
    30s));
  auto now = status(port_again);
  auto& parking = now["destinations"][1]["parking"];
  BOOST_CHECK_EQUAL(parking["parked"].GetUint64(), 0u);
  BOOST_CHECK_EQUAL(parking["replayed"].GetUint64(), 0u);
  BOOST_CHECK_EQUAL(parking["waiting"].GetUint64(), 0u);
  BOOST_CHECK_EQUAL(now["records"]["replayed"].GetUint64(), 0u);
  again->signal(SIGTERM);
  BOOST_CHECK_EQUAL(*again->wait(60s), 0);
}

BOOST_AUTO_TEST_SUITE_END()
