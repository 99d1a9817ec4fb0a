// HTTP detection ingest end to end: `cotflow run` with ingest.address,
// records POSTed as one object, an array and NDJSON, found in the input
// topic where the answer says and as CoT in the output topic; a request
// with a bad record takes none and dead-letters it; the token, the size
// limit and a Kafka that does not answer.
#include <boost/test/unit_test.hpp>

#include "pipeline/core/time.hpp"
#include "tests/support/broker_fixture.hpp"
#include "tests/support/http_get.hpp"
#include "tests/support/kafka_client.hpp"

#include <csignal>
#include <set>

using namespace cotflow::test;
using namespace std::chrono_literals;

namespace {

using env_list = std::vector<std::pair<std::string, std::string>>;

/// A `cotflow run` with the ingest on a port of its choosing.
struct ingesting {
  std::unique_ptr<child> run;
  int port = 0;
};

ingesting start(const broker_fixture& f, const std::string& group,
                env_list extra) {
  extra.push_back({"COTFLOW_INGEST_ADDRESS", "127.0.0.1:0"});
  ingesting out;
  out.run = f.run(group, extra, true);
  for (int i = 0; i < 200 && out.port == 0; ++i) {
    auto line = out.run->read_line(30s);
    BOOST_REQUIRE_MESSAGE(line, "cotflow said nothing of its ingest");
    if (line->find("detections taken at POST") != std::string::npos)
      out.port = http_port_in(*line);
  }
  BOOST_REQUIRE(out.port > 0);
  return out;
}

std::optional<http_reply> post(int port, const std::string& body,
                               const std::string& token = "",
                               int timeout_ms = 30000) {
  return cotflow::http_post("127.0.0.1", port, "/v1/detections", body, token,
                            timeout_ms);
}

std::string record(const std::string& id) {
  return R"({"id":")" + id + R"(","source":"http-cam","lat":38.9,"lon":-77.03,)"
         + R"("time":")" + cotflow::rfc3339(cotflow::now_ms()) + R"("})";
}

size_t count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos;
       at = text.find(what, at + 1))
    ++n;
  return n;
}

void stop(ingesting& in) {
  in.run->signal(SIGTERM);
  auto rc = in.run->wait(60s);
  BOOST_REQUIRE(rc);
  BOOST_CHECK_EQUAL(*rc, 0);
}

} // namespace

BOOST_FIXTURE_TEST_SUITE(http_ingest, broker_fixture)

BOOST_AUTO_TEST_CASE(posted_records_are_in_kafka_where_the_answer_says) {
  auto in = start(*this, "ingest", {});
  auto one = post(in.port, record("one"));
  BOOST_REQUIRE(one);
  BOOST_CHECK_EQUAL(one->status, 202);
  BOOST_CHECK(one->body.find(R"("accepted":1)") != std::string::npos);
  auto array = post(in.port, "[" + record("two") + "," + record("three") + "]");
  BOOST_REQUIRE(array);
  BOOST_CHECK_EQUAL(array->status, 202);
  BOOST_CHECK_EQUAL(count(array->body, "\"partition\""), 2u);
  auto nd = post(in.port, record("four") + "\n\n" + record("five") + "\n");
  BOOST_REQUIRE(nd);
  BOOST_CHECK_EQUAL(nd->status, 202);
  BOOST_CHECK(nd->body.find(R"("accepted":2)") != std::string::npos);
  // Each answer's partition and offset hold that record.
  auto input = read_topic(bootstrap, input_topic);
  BOOST_CHECK_EQUAL(input.size(), 5u);
  for (auto& r : input) {
    auto where = "{\"partition\":" + std::to_string(r.partition)
                 + ",\"offset\":" + std::to_string(r.offset) + "}";
    auto answered = one->body + array->body + nd->body;
    BOOST_CHECK_MESSAGE(answered.find(where) != std::string::npos, where);
    BOOST_CHECK(r.key.rfind("http-cam-", 0) == 0); // the uid: a track's order
  }
  // And the pipeline made CoT of them.
  std::set<std::string> uids;
  bool all = eventually(
    [&] {
      for (auto& r : read_topic(bootstrap, "cot"))
        uids.insert(r.key);
      return uids.size() == 5;
    },
    30s);
  BOOST_CHECK_MESSAGE(all, uids.size() << " of 5 events");
  stop(in);
}

BOOST_AUTO_TEST_CASE(a_request_with_a_bad_record_takes_none_of_it) {
  auto in = start(*this, "ingest-bad", {});
  auto r = post(in.port, record("good") + "\n" + R"({"id":"bad","lat":1})");
  BOOST_REQUIRE(r);
  BOOST_CHECK_EQUAL(r->status, 400);
  BOOST_CHECK(r->body.find(R"("index":1,"reason":"missing_field")")
              != std::string::npos);
  BOOST_CHECK(r->body.find(R"("dead_lettered":1)") != std::string::npos);
  BOOST_CHECK(read_topic(bootstrap, input_topic).empty());
  auto letters = read_topic(bootstrap, "cot-dead-letter");
  BOOST_REQUIRE_EQUAL(letters.size(), 1u);
  BOOST_CHECK_EQUAL(letters[0].payload, R"({"id":"bad","lat":1})");
  BOOST_CHECK_EQUAL(letters[0].headers["cotflow.reason"], "missing_field");
  BOOST_CHECK_EQUAL(letters[0].headers["cotflow.source.topic"], "http");
  // A body that is no JSON at all.
  auto junk = post(in.port, "hello");
  BOOST_REQUIRE(junk);
  BOOST_CHECK_EQUAL(junk->status, 400);
  BOOST_CHECK(junk->body.find("not JSON") != std::string::npos);
  stop(in);
}

BOOST_AUTO_TEST_CASE(the_token_and_the_size_limit_are_enforced) {
  auto in = start(*this, "ingest-token",
                  {{"COTFLOW_INGEST_TOKEN", "s3cret"},
                   {"COTFLOW_INGEST_MAX_BODY_BYTES", "2048"}});
  auto none = post(in.port, record("a"));
  BOOST_REQUIRE(none);
  BOOST_CHECK_EQUAL(none->status, 401);
  BOOST_CHECK(none->head.find("WWW-Authenticate: Bearer") != std::string::npos);
  auto wrong = post(in.port, record("a"), "guess");
  BOOST_REQUIRE(wrong);
  BOOST_CHECK_EQUAL(wrong->status, 401);
  auto big = post(in.port, std::string(3000, ' ') + record("a"), "s3cret");
  BOOST_REQUIRE(big);
  BOOST_CHECK_EQUAL(big->status, 413);
  auto ok = post(in.port, record("a"), "s3cret");
  BOOST_REQUIRE(ok);
  BOOST_CHECK_EQUAL(ok->status, 202);
  BOOST_CHECK_EQUAL(read_topic(bootstrap, input_topic).size(), 1u);
  stop(in);
}

BOOST_AUTO_TEST_CASE(kafka_not_answering_is_503_and_the_record_still_arrives) {
  auto in = start(*this, "ingest-down",
                  {{"COTFLOW_INGEST_TIMEOUT_MS", "1500"}});
  // The broker stops answering (its process is frozen).
  broker.signal(SIGSTOP);
  auto r = post(in.port, record("late"));
  broker.signal(SIGCONT);
  BOOST_REQUIRE(r);
  BOOST_CHECK_EQUAL(r->status, 503);
  BOOST_CHECK(r->head.find("Retry-After:") != std::string::npos);
  // At least once: the producer kept it and delivers it once Kafka is back.
  bool arrived = eventually(
    [&] { return read_topic(bootstrap, input_topic).size() == 1; }, 60s);
  BOOST_CHECK(arrived);
  stop(in);
}

BOOST_AUTO_TEST_SUITE_END()
