#include <boost/test/unit_test.hpp>

#include "pipeline/core/json.hpp"
#include "pipeline/core/log.hpp"

#include <cstdio>
#include <fstream>
#include <string>

#include <unistd.h>

using namespace cotflow;

namespace {

/// The JSON object of one line; fails the test when it is not one.
rapidjson::Document parse(const std::string& line) {
  BOOST_TEST_REQUIRE(!line.empty());
  BOOST_TEST(line.back() == '\n');
  rapidjson::Document doc;
  doc.Parse(line.c_str());
  BOOST_TEST_REQUIRE(!doc.HasParseError(), line);
  BOOST_TEST_REQUIRE(doc.IsObject(), line);
  return doc;
}

/// Back to the defaults whatever a test case set.
struct json_format {
  json_format() {
    log::configure("info", "json");
  }
  ~json_format() {
    log::configure("info", "json");
  }
};

} // namespace

BOOST_FIXTURE_TEST_SUITE(log_lines, json_format)

BOOST_AUTO_TEST_CASE(a_line_has_time_level_actor_and_message) {
  auto doc = parse(log::line(log::level::warn, "tak-sink", "lost"));
  BOOST_TEST(doc.MemberCount() == 4u);
  BOOST_TEST(doc["time"].IsString());
  BOOST_TEST(doc["level"].GetString() == std::string{"warn"});
  BOOST_TEST(doc["actor"].GetString() == std::string{"tak-sink"});
  BOOST_TEST(doc["message"].GetString() == std::string{"lost"});
}

BOOST_AUTO_TEST_CASE(fields_are_members_of_their_own_integers_as_numbers) {
  std::string topic = "detections";
  auto doc = parse(log::line(log::level::error, "source", "commit failed",
                             {{"topic", topic},
                              {"partition", int32_t{3}},
                              {"offset", int64_t{1234567890123}},
                              {"error", "Broker: Not coordinator"}}));
  BOOST_TEST(doc["topic"].GetString() == topic);
  BOOST_TEST(doc["partition"].IsInt());
  BOOST_TEST(doc["partition"].GetInt() == 3);
  BOOST_TEST(doc["offset"].GetInt64() == 1234567890123);
  BOOST_TEST(doc["error"].GetString()
             == std::string{"Broker: Not coordinator"});
  // In the order given, after the message.
  auto it = doc.MemberBegin();
  for (auto key : {"time", "level", "actor", "message", "topic", "partition",
                   "offset", "error"})
    BOOST_TEST((it++)->name.GetString() == std::string{key});
}

BOOST_AUTO_TEST_CASE(quotes_and_control_characters_are_escaped) {
  auto doc = parse(log::line(log::level::info, "a\"b", "line\none\t\x01",
                             {{"destination", "x\\y\"z"}}));
  BOOST_TEST(doc["actor"].GetString() == std::string{"a\"b"});
  BOOST_TEST(doc["message"].GetString() == std::string{"line\none\t\x01"});
  BOOST_TEST(doc["destination"].GetString() == std::string{"x\\y\"z"});
}

BOOST_AUTO_TEST_CASE(the_text_format_appends_fields_as_key_value) {
  log::configure("info", "text");
  auto text = log::line(log::level::warn, "tak-sink", "connection lost",
                        {{"destination", "tak1"}, {"partition", 2}});
  BOOST_TEST(text.find(" warn [tak-sink] connection lost destination=tak1 "
                       "partition=2\n")
               != std::string::npos,
             text);
}

BOOST_AUTO_TEST_CASE(the_threshold_decides_what_is_written) {
  BOOST_TEST(!log::enabled(log::level::debug));
  BOOST_TEST(log::enabled(log::level::warn));
  log::configure("error", "json");
  BOOST_TEST(!log::enabled(log::level::warn));
  BOOST_TEST(log::enabled(log::level::error));
}

// Last: the lines stay in the file for the rest of the process.
BOOST_AUTO_TEST_CASE(to_file_appends_the_lines_to_the_file_instead) {
  std::string path = "/tmp/cotflow-log-test-" + std::to_string(getpid());
  std::string err;
  BOOST_TEST(!log::to_file("/nonexistent/dir/x.log", err));
  BOOST_TEST(err.find("/nonexistent/dir/x.log: ") == 0, err);
  BOOST_TEST_REQUIRE(log::to_file(path, err), err);
  log::info("test", "one", {{"n", 1}});
  log::info("test", "two");
  std::ifstream in{path};
  std::string first, second;
  std::getline(in, first);
  std::getline(in, second);
  std::remove(path.c_str());
  BOOST_TEST(std::string{parse(first + "\n")["message"].GetString()} == "one");
  BOOST_TEST(std::string{parse(second + "\n")["message"].GetString()} == "two");
}

BOOST_AUTO_TEST_SUITE_END()
