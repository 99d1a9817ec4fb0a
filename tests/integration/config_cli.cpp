// The command line refuses a bad configuration with every problem listed.
#include <boost/test/unit_test.hpp>

#include "tests/support/process.hpp"

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

using namespace cotflow::test;
using namespace std::chrono_literals;

namespace {

struct bad_config {
  bad_config() {
    std::ofstream{path} << "pipeline:\n"
                           "  batch_size: 0\n"
                           "  batch_age_ms: soon\n"
                           "cot:\n"
                           "  low_confidence: maybe\n"
                           "  default_type: \"not a type\"\n"
                           "sinks:\n"
                           "  kafka: false\n"
                           "bogus:\n"
                           "  x: 1\n";
  }
  ~bad_config() {
    std::remove(path.c_str());
  }
  std::string path = "/tmp/cotflow-bad-" + std::to_string(getpid()) + ".yaml";
};

const char* expected[] = {"pipeline.batch_size",
                          "pipeline.batch_age_ms",
                          "cot.low_confidence",
                          "cot.default_type",
                          "sinks",
                          "bogus",
                          "pipeline.max_in_flight"};

} // namespace

BOOST_FIXTURE_TEST_SUITE(config_cli, bad_config)

BOOST_AUTO_TEST_CASE(config_check_lists_every_problem_and_exits_2) {
  child c{{cotflow_bin(), "config", "check", "--config", path},
          {{"COTFLOW_PIPELINE_MAX_IN_FLIGHT", "lots"}},
          true};
  auto text = c.read_all(30s);
  auto rc = c.wait(30s);
  BOOST_REQUIRE(rc);
  BOOST_CHECK_EQUAL(*rc, 2);
  for (auto key : expected)
    BOOST_CHECK_MESSAGE(text.find(key) != std::string::npos,
                        key << " not reported in:\n"
                            << text);
}

BOOST_AUTO_TEST_CASE(run_refuses_to_start_on_a_bad_config) {
  child c{{cotflow_bin(), "run", "--config", path}, {}, true};
  auto text = c.read_all(30s);
  auto rc = c.wait(30s);
  BOOST_REQUIRE(rc);
  BOOST_CHECK_EQUAL(*rc, 2);
  BOOST_CHECK(text.find("invalid configuration") != std::string::npos);
  BOOST_CHECK(text.find("running") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_missing_config_file_is_refused) {
  child c{
    {cotflow_bin(), "config", "check", "--config", "/nonexistent/cotflow.yaml"},
    {},
    true};
  auto text = c.read_all(30s);
  BOOST_CHECK_EQUAL(*c.wait(30s), 2);
  BOOST_CHECK(text.find("/nonexistent/cotflow.yaml") != std::string::npos);
}

// The file of issue 22: an unterminated quote, then a tab-indented line.
// yaml-cpp read everything after the quote into kafka.brokers.
BOOST_AUTO_TEST_CASE(a_broken_yaml_file_is_refused_as_a_strict_reader_would) {
  std::string broken = path + ".broken";
  std::ofstream{broken} << "kafka:\n"
                           "  brokers: \"kafka1:9092\n"
                           "\tgroup_id: x\n"
                           "pipeline:\n"
                           "  batch_size: 10\n";
  child c{{cotflow_bin(), "config", "check", "--config", broken}, {}, true};
  auto text = c.read_all(30s);
  auto rc = c.wait(30s);
  std::remove(broken.c_str());
  BOOST_REQUIRE(rc);
  BOOST_CHECK_EQUAL(*rc, 2);
  BOOST_CHECK_MESSAGE(text.find("line 2, column 12: the quote opened here is "
                                "never closed")
                        != std::string::npos,
                      text);
}

BOOST_AUTO_TEST_CASE(a_directory_is_not_taken_for_a_config_of_defaults) {
  child c{{cotflow_bin(), "config", "check", "--config", "/tmp"}, {}, true};
  auto text = c.read_all(30s);
  BOOST_CHECK_EQUAL(*c.wait(30s), 2);
  BOOST_CHECK_MESSAGE(text.find("/tmp: is a directory") != std::string::npos,
                      text);
}

BOOST_AUTO_TEST_CASE(a_misspelt_variable_is_warned_about_not_ignored) {
  child c{{cotflow_bin(), "config", "check", "--config", "/dev/null"},
          {{"COTFLOW_PIPELINE_BATCHSIZE", "77"}},
          true};
  auto text = c.read_all(30s);
  BOOST_CHECK_EQUAL(*c.wait(30s), 0);
  BOOST_CHECK_MESSAGE(text.find("warning: COTFLOW_PIPELINE_BATCHSIZE: not a "
                                "configuration key, ignored (did you mean "
                                "COTFLOW_PIPELINE_BATCH_SIZE?)")
                        != std::string::npos,
                      text);
}

// Issue 22: these passed `config check`; `run` then exited 1, which the
// systemd unit restarted forever. Both now list them all and exit 2.
BOOST_AUTO_TEST_CASE(what_fails_at_start_is_found_by_check_and_run_exit_2) {
  std::string file = path + ".start";
  std::ofstream{file} << "kafka:\n"
                         "  properties:\n"
                         "    no.such.property: \"1\"\n"
                         "    session.timeout.ms: abc\n"
                         "sinks:\n"
                         "  file: /nonexistent-dir/out.cot\n";
  for (auto cmd : {"check", "run"}) {
    std::vector<std::string> args = {cotflow_bin(), "config", "check",
                                     "--config", file};
    if (std::string{cmd} == "run")
      args = {cotflow_bin(), "run", "--config", file};
    child c{args, {{"COTFLOW_KAFKA_BROKERS", "127.0.0.1:1"}}, true};
    auto text = c.read_all(30s);
    auto rc = c.wait(30s);
    BOOST_REQUIRE(rc);
    BOOST_CHECK_EQUAL(*rc, 2);
    for (auto what : {"no.such.property", "session.timeout.ms",
                      "sinks.file: cannot open /nonexistent-dir/out.cot"})
      BOOST_CHECK_MESSAGE(text.find(what) != std::string::npos,
                          cmd << ": " << what << " not reported in:\n"
                              << text);
    BOOST_CHECK(text.find("running") == std::string::npos);
  }
  std::remove(file.c_str());
}

BOOST_AUTO_TEST_CASE(tak_credentials_are_loaded_by_check_as_run_would) {
  // A PKCS#12 with the wrong password passed `config check` (only the
  // file's existence was checked) and failed every connect of `run`.
  std::string dir = path + ".p12";
  auto cmd = "set -e; mkdir -p " + dir + "; cd " + dir + R"(
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out k.pem
openssl req -x509 -new -key k.pem -out c.pem -days 2 -subj "/CN=cotflow"
openssl pkcs12 -export -legacy -in c.pem -inkey k.pem -out c.p12 \
  -passout pass:atakatak)";
  BOOST_REQUIRE(std::system(("bash -c '" + cmd + "' >/dev/null 2>&1").c_str())
                == 0);
  auto dest = "tak=tls://127.0.0.1:8089?ca=" + dir + "/c.pem&p12=" + dir
              + "/c.p12&password_env=TEST_P12_PASSWORD";
  for (auto [password, rc] :
       {std::pair{"atakatak", 0}, std::pair{"wrong", 2}}) {
    child c{
      {cotflow_bin(), "config", "check", "--config", "/dev/null"},
      {{"COTFLOW_TAK_DESTINATIONS", dest}, {"TEST_P12_PASSWORD", password}},
      true};
    auto text = c.read_all(30s);
    BOOST_CHECK_EQUAL(*c.wait(30s), rc);
    if (rc == 2)
      BOOST_CHECK_MESSAGE(text.find("tak.destinations.tak: cannot use PKCS#12 "
                                    "client certificate: wrong password")
                            != std::string::npos,
                          text);
  }
  std::system(("rm -rf " + dir).c_str());
}

BOOST_AUTO_TEST_CASE(checking_the_file_sink_leaves_no_new_file_behind) {
  std::string out = path + ".cot";
  child c{{cotflow_bin(), "config", "check", "--config", "/dev/null"},
          {{"COTFLOW_SINKS_FILE", out}},
          true};
  auto text = c.read_all(30s);
  BOOST_CHECK_EQUAL(*c.wait(30s), 0);
  BOOST_CHECK_MESSAGE(!std::ifstream{out}.good(), out << " was left behind");
}

BOOST_AUTO_TEST_CASE(a_good_config_checks_and_shows_its_sources) {
  child c{{cotflow_bin(), "config", "show", "--config", "/dev/null"},
          {{"COTFLOW_PIPELINE_BATCH_SIZE", "77"}},
          true};
  auto text = c.read_all(30s);
  BOOST_CHECK_EQUAL(*c.wait(30s), 0);
  BOOST_CHECK(text.find("batch_size: 77") != std::string::npos);
  BOOST_CHECK(text.find("env COTFLOW_PIPELINE_BATCH_SIZE")
              != std::string::npos);
}

BOOST_AUTO_TEST_CASE(the_example_config_in_deploy_is_what_config_show_prints) {
  std::string src = std::getenv("COTFLOW_SOURCE_DIR");
  std::ifstream in{src + "/deploy/cotflow.yaml"};
  BOOST_REQUIRE(in);
  std::stringstream buf;
  buf << in.rdbuf();
  auto example = buf.str();
  child c{{cotflow_bin(), "config", "show", "--config", "/dev/null"}, {}, true};
  auto shown = c.read_all(30s);
  BOOST_CHECK_EQUAL(*c.wait(30s), 0);
  // Both without their header comments.
  auto body = [](const std::string& s) {
    return s.substr(s.find("\nkafka:") + 1);
  };
  BOOST_CHECK_EQUAL(body(example), body(shown));
  child check{{cotflow_bin(), "config", "check", "--config",
               src + "/deploy/cotflow.yaml"},
              {},
              true};
  check.read_all(30s);
  BOOST_CHECK_EQUAL(*check.wait(30s), 0);
}

BOOST_AUTO_TEST_SUITE_END()
