#include <boost/test/unit_test.hpp>

#include "pipeline/ops/http_server.hpp"
#include "pipeline/ops/top.hpp"

using namespace cotflow;

BOOST_AUTO_TEST_CASE(prometheus_text_parses_into_samples) {
  auto m = parse_prometheus("# HELP x y\n# TYPE x counter\nx 3\n"
                            "h_bucket{d=\"a\",le=\"0.1\"} 2\n");
  BOOST_TEST(m["x"] == 3);
  BOOST_TEST(m["h_bucket{d=\"a\",le=\"0.1\"}"] == 2);
}

BOOST_AUTO_TEST_CASE(quantiles_come_from_the_interval_between_scrapes) {
  std::map<std::string, double> before = {
    {"h_bucket{d=\"a\",le=\"0.01\"}", 100},
    {"h_bucket{d=\"a\",le=\"0.1\"}", 100},
    {"h_bucket{d=\"a\",le=\"+Inf\"}", 100}};
  // In the interval: 10 below 10 ms, 90 between 10 and 100 ms.
  std::map<std::string, double> now = {{"h_bucket{d=\"a\",le=\"0.01\"}", 110},
                                       {"h_bucket{d=\"a\",le=\"0.1\"}", 200},
                                       {"h_bucket{d=\"a\",le=\"+Inf\"}", 200}};
  auto p50 = histogram_quantile(before, now, "h", "d=\"a\"", 0.5);
  BOOST_TEST(p50 > 0.01);
  BOOST_TEST(p50 < 0.1);
  BOOST_TEST(histogram_quantile(before, now, "h", "d=\"a\"", 0.05) <= 0.01);
  BOOST_TEST(histogram_quantile(now, now, "h", "d=\"a\"", 0.5) < 0);
}

BOOST_AUTO_TEST_CASE(a_tak_destination_shows_its_breaker_and_parking) {
  top_sample before, now;
  before.at = 0;
  now.at = 1;
  before.metrics["cotflow_records_in_total"] = 100;
  now.metrics["cotflow_records_in_total"] = 300;
  now.metrics["cotflow_records_parked_total"] = 42;
  now.status_json = R"({"destinations": [{
    "name": "tak1", "kind": "tcp", "endpoint": "tcp://h:8087",
    "connected": false, "events": 0, "queue": 0, "reconnects": 2,
    "last_error": "connect: Connection refused",
    "breaker": {"state": "open", "trips": 3, "last_trip_reason": "x"},
    "parking": {"topic": "cotflow.parking.tak1", "active": true,
                "parked": 42, "replayed": 7, "dropped_stale": 0,
                "waiting": 35, "dropped": 0, "backlog": 35}}]})";
  auto screen = render_top("http://127.0.0.1:9180", before, now);
  BOOST_TEST(screen.find("parked 42") != std::string::npos, screen);
  BOOST_TEST(screen.find("breaker OPEN") != std::string::npos, screen);
  BOOST_TEST(screen.find("trips 3") != std::string::npos, screen);
  BOOST_TEST(screen.find("parking ON") != std::string::npos, screen);
  BOOST_TEST(screen.find("backlog 35") != std::string::npos, screen);
  BOOST_TEST(screen.find("waiting 35") != std::string::npos, screen);
  BOOST_TEST(screen.find("last error: connect: Connection refused")
               != std::string::npos,
             screen);
}

BOOST_AUTO_TEST_CASE(the_totals_show_what_out_is_made_of) {
  top_sample before, now;
  before.at = 0;
  now.at = 2;
  before.metrics["cotflow_records_delivered_total"] = 100;
  now.metrics["cotflow_records_in_total"] = 1000;
  now.metrics["cotflow_records_out_total"] = 990;
  now.metrics["cotflow_records_delivered_total"] = 700;
  now.metrics["cotflow_records_waiting"] = 280;
  now.metrics["cotflow_records_replayed_total"] = 15;
  now.metrics["cotflow_records_parked_total"] = 295;
  now.metrics["cotflow_records_dead_lettered_total"] = 2;
  now.metrics["cotflow_records_dropped_total{reason=\"stale\"}"] = 5;
  now.metrics["cotflow_records_dropped_total{reason=\"parking\"}"] = 3;
  now.metrics["cotflow_records_dropped_totally_unrelated"] = 1000;
  auto screen = render_top("u", before, now);
  BOOST_TEST(screen.find("records/s  in 500       out 495       delivered "
                         "300       dead 1       dropped 4")
               != std::string::npos,
             screen);
  BOOST_TEST(screen.find("totals     in 1000      out 990       delivered "
                         "700       dead 2       dropped 8")
               != std::string::npos,
             screen);
  BOOST_TEST(screen.find("parking    waiting 280       parked 295       "
                         "replayed 15")
               != std::string::npos,
             screen);
}

// /status and /supervision come from another process, maybe of another
// version: missing members and unexpected types read as unknown. (They
// were read regardless: a release build printed "(null)" or crashed on a
// null string, a build with assertions stopped in RapidJSON.)
BOOST_AUTO_TEST_CASE(a_status_with_missing_or_odd_members_still_renders) {
  top_sample before, now;
  now.at = 1;
  now.status_json = R"({"version": 7, "kafka": {}, "destinations": [
    {"name": "tak1", "connected": "yes", "breaker": {"state": "open"},
     "parking": {"parked": -1}}, {}, 3]})";
  now.supervision_json = R"({"name": "cotflow", "restarts": "many",
    "children": [{"name": "source", "state": 1}, {"state": "up"}]})";
  auto screen = render_top("http://127.0.0.1:9180", before, now);
  BOOST_TEST(screen.find("(null)") == std::string::npos, screen);
  BOOST_TEST(screen.find("cotflow top  http://127.0.0.1:9180  ?  up 0 s  "
                         "NOT READY  partitions 0")
               != std::string::npos,
             screen);
  BOOST_TEST(screen.find("tak1") != std::string::npos, screen);
  BOOST_TEST(screen.find("breaker OPEN") != std::string::npos, screen);
  BOOST_TEST(screen.find("source") != std::string::npos, screen);
  now.status_json = R"({"destinations": {"tak1": {}}})";
  now.supervision_json = "[]";
  screen = render_top("u", before, now);
  BOOST_TEST(screen.find("(null)") == std::string::npos, screen);
}

// An instance with an http.token answers /metrics to anyone and /status
// and /supervision only with the token: `top` without it must say so
// instead of drawing an empty screen.
BOOST_AUTO_TEST_CASE(a_401_is_reported_with_how_to_pass_the_token) {
  std::string err;
  auto http = http_server::start("127.0.0.1:0", "secret", err);
  BOOST_REQUIRE_MESSAGE(http, err);
  auto answer = [](std::string body) {
    return [body] { return http_response{200, "text/plain", body}; };
  };
  http->route("/metrics", answer("cotflow_records_in_total 5\n"), true);
  http->route("/status", answer("{}"));
  http->route("/supervision", answer("{}"));
  auto address = http->address();
  auto port = std::stoi(address.substr(address.rfind(':') + 1));
  auto t0 = std::chrono::steady_clock::now();
  auto without = scrape_top("127.0.0.1", port, "", t0);
  BOOST_REQUIRE(without);
  BOOST_TEST(without->unauthorized);
  BOOST_TEST(without->metrics["cotflow_records_in_total"] == 5);
  auto wrong = scrape_top("127.0.0.1", port, "guess", t0);
  BOOST_REQUIRE(wrong);
  BOOST_TEST(wrong->unauthorized);
  auto with = scrape_top("127.0.0.1", port, "secret", t0);
  BOOST_REQUIRE(with);
  BOOST_TEST(!with->unauthorized);
  BOOST_TEST(with->status_json == "{}");
  auto screen = render_top("http://" + address, *with, *wrong);
  BOOST_TEST(screen.find("401 Unauthorized") != std::string::npos, screen);
  BOOST_TEST(screen.find("--token") != std::string::npos, screen);
  BOOST_TEST(top_unauthorized("http://h:1").find("http://h:1 answered 401")
             == 0u);
}

// A quantile in the +Inf bucket reads as the top bound: shown as "≥ 10 s",
// not as "10000" ms.
BOOST_AUTO_TEST_CASE(latency_past_the_top_bucket_shows_as_at_least_10_s) {
  top_sample before, now;
  now.at = 1;
  const std::string h = "cotflow_end_to_end_latency_seconds_bucket{"
                        "destination=\"tak1\",le=\"";
  now.metrics[h + "5\"}"] = 0;
  now.metrics[h + "10\"}"] = 0;
  now.metrics[h + "+Inf\"}"] = 100;
  now.status_json = R"({"destinations": [{"name": "tak1", "kind": "tcp",
    "connected": true}]})";
  auto screen = render_top("u", before, now);
  BOOST_TEST(screen.find("\u2265 10 s \u2265 10 s \u2265 10 s")
               != std::string::npos,
             screen);
  BOOST_TEST(screen.find("10000") == std::string::npos, screen);
}
