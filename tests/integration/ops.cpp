// The operations endpoints of a running pipeline, scraped as Prometheus and
// an orchestrator would.
#include <boost/test/unit_test.hpp>

#include "pipeline/core/json.hpp"
#include "tests/support/broker_fixture.hpp"
#include "tests/support/child_log.hpp"
#include "tests/support/http_get.hpp"
#include "tests/support/kafka_client.hpp"
#include "tests/support/tak_receiver.hpp"

#include <map>
#include <sstream>

using namespace cotflow::test;
using namespace std::chrono_literals;

BOOST_FIXTURE_TEST_SUITE(operations, broker_fixture)

BOOST_AUTO_TEST_CASE(metrics_add_up_and_readiness_follows_the_lifecycle) {
  tak_receiver late;
  late.stop(); // down: holds the drain open so readiness can be seen
  auto run = this->run("ops",
                       {{"COTFLOW_TAK_DESTINATIONS",
                         "late=tcp://127.0.0.1:" + std::to_string(late.port())},
                        {"COTFLOW_PIPELINE_DRAIN_TIMEOUT_MS", "3000"},
                        // The drain must stay open on the dead destination:
                        // no parking to hand its records to.
                        {"COTFLOW_KAFKA_PARKING_TOPIC", ""},
                        {"COTFLOW_HTTP_TOKEN", "t0ken"}},
                       true);
  std::string log;
  auto port = wait_for_http_port(*run, log);
  // Starting: no partition yet (the group join takes a moment).
  auto first = http_get(port, "/health/ready");
  BOOST_REQUIRE(first);
  BOOST_CHECK_EQUAL(first->status, 503);
  BOOST_CHECK_EQUAL(http_get(port, "/health/live")->status, 200);
  auto inputs = publish_generated(bootstrap, input_topic, 3000, 0.05);
  BOOST_REQUIRE(eventually(
    [&] { return http_get(port, "/health/ready")->status == 200; }, 60s));
  late.start();
  BOOST_REQUIRE(eventually([&] { return all_committed("ops"); }, 60s));
  auto m = scrape(port);
  auto in = m["cotflow_records_in_total"];
  BOOST_CHECK_EQUAL(in, 3000);
  BOOST_CHECK_EQUAL(in, m["cotflow_records_out_total"]
                          + m["cotflow_records_dead_lettered_total"]
                          + m["cotflow_records_dropped_total{reason=\"stale\"}"]
                          + m["cotflow_records_dropped_total{reason="
                              "\"too_old\"}"]
                          + m["cotflow_records_dropped_total{reason="
                              "\"low_confidence\"}"]);
  BOOST_CHECK_GT(m["cotflow_records_dead_lettered_total"], 0);
  BOOST_CHECK_EQUAL(m["cotflow_ready"], 1);
  BOOST_CHECK_EQUAL(
    m["cotflow_destination_events_total{destination=\"late\",kind=\"tcp\"}"],
    m["cotflow_records_out_total"]);
  BOOST_CHECK_GT(
    m["cotflow_end_to_end_latency_seconds_count{destination=\"kafka\"}"], 0);
  BOOST_CHECK_GT(m["cotflow_batch_size_records_count"], 0);
  // librdkafka's statistics (every 5 s) give the lag of each partition.
  BOOST_CHECK(eventually(
    [&] {
      auto m = scrape(port);
      return m.count("cotflow_kafka_consumer_lag_records{topic=\"detections\""
                     ",partition=\"0\"}")
             == 1;
    },
    20s));
  // /status is JSON and needs the token; the metrics and health do not.
  BOOST_CHECK_EQUAL(http_get(port, "/status")->status, 401);
  // `top` without it says so and how to pass it, and exits non-zero.
  child top{{cotflow_bin(), "top", "--frames", "1", "--url",
             "http://127.0.0.1:" + std::to_string(port)},
            {},
            true};
  auto said = top.read_all(30s);
  BOOST_CHECK_EQUAL(top.wait(10s).value_or(-1), 2);
  BOOST_CHECK_MESSAGE(said.find("401 Unauthorized") != std::string::npos
                        && said.find("--token") != std::string::npos,
                      said);
  auto status = http_get(port, "/status", "t0ken");
  BOOST_REQUIRE(status);
  BOOST_CHECK_EQUAL(status->status, 200);
  rapidjson::Document doc;
  doc.Parse(status->body.c_str());
  BOOST_REQUIRE(!doc.HasParseError());
  BOOST_CHECK_EQUAL(doc["records"]["in"].GetUint64(), 3000u);
  BOOST_CHECK_EQUAL(doc["destinations"].Size(), 2u);
  BOOST_CHECK_EQUAL(doc["kafka"]["assigned_partitions"].GetInt(), 6);
  // Draining: hold it open with records the destination cannot take.
  late.stop();
  publish_generated(bootstrap, input_topic, 100, 0.0, 9, 100000);
  BOOST_REQUIRE(eventually(
    [&] {
      auto s = http_get(port, "/status", "t0ken");
      rapidjson::Document d;
      d.Parse(s->body.c_str());
      return d["records"]["in_flight"].GetInt() > 0;
    },
    30s));
  run->signal(SIGTERM);
  BOOST_CHECK(eventually(
    [&] {
      auto r = http_get(port, "/health/ready");
      return r && r->status == 503 && r->body == "draining\n";
    },
    10s));
  run->wait(60s);
}

BOOST_AUTO_TEST_CASE(cotflow_top_renders_in_a_terminal) {
  auto run = this->run("top", {}, true);
  std::string log;
  auto port = wait_for_http_port(*run, log);
  publish_generated(bootstrap, input_topic, 500, 0.0);
  // Under a pseudo-terminal, as over ssh.
  child top{{"/usr/bin/script", "-qec",
             cotflow_bin() + " top --frames 2 --url http://127.0.0.1:"
               + std::to_string(port),
             "/dev/null"}};
  auto screen = top.read_all(30s);
  BOOST_CHECK_EQUAL(*top.wait(10s), 0);
  for (auto what : {"cotflow top", "records/s", "destination", "kafka",
                    "supervision", "encoder-0", "\033[2J"})
    BOOST_CHECK_MESSAGE(screen.find(what) != std::string::npos,
                        what << " not on the screen:\n"
                             << screen);
  // `q` typed at the terminal quits it (no --frames: it would run on).
  child typed{{"/bin/sh", "-c",
               "printf q | /usr/bin/script -qec '" + cotflow_bin()
                 + " top --url http://127.0.0.1:" + std::to_string(port)
                 + "' /dev/null"}};
  typed.read_all(30s);
  BOOST_CHECK_EQUAL(typed.wait(10s).value_or(-1), 0);
  run->signal(SIGTERM);
  run->wait(60s);
}

BOOST_AUTO_TEST_SUITE_END()
