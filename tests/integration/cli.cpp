// The command line as a user meets it: --help on every command, usage
// errors, the completion script and the man page, `validate`, and
// `demo --count` ending by itself, the demo's TAK side (its own server's
// outages, --tak).
#include <boost/test/unit_test.hpp>

#include "commands/options.hpp"
#include "tests/support/process.hpp"
#include "tests/support/tak_receiver.hpp"

#include <cstdio>
#include <ctime>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

using namespace cotflow::test;
using namespace std::chrono_literals;

namespace {

/// What a finished `cotflow ARGS` printed (stdout and stderr) and its exit
/// code (-1 when it did not exit within 20 s).
struct result {
  std::string text;
  int rc = -1;
};

result
run_cotflow(std::vector<std::string> args,
            const std::vector<std::pair<std::string, std::string>>& env = {}) {
  args.insert(args.begin(), cotflow_bin());
  child c{args, env, true};
  result r;
  r.text = c.read_all(20s);
  r.rc = c.wait(20s).value_or(-1);
  return r;
}

/// What `sh -c SCRIPT` printed on stdout and stderr, and its exit code.
result shell(const std::string& script) {
  child c{{"/bin/sh", "-c", script + " 2>&1"}};
  result r;
  r.text = c.read_all(30s);
  r.rc = c.wait(30s).value_or(-1);
  return r;
}

/// Now as RFC 3339 UTC, to the second.
std::string utc_now() {
  auto t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buf;
}

bool has(const std::string& text, const std::string& what) {
  return text.find(what) != std::string::npos;
}

/// A file removed at the end of the test.
struct temp_file {
  explicit temp_file(const std::string& name, const std::string& content = "")
    : path("/tmp/cotflow-cli-" + std::to_string(getpid()) + "-" + name) {
    std::ofstream{path} << content;
  }
  ~temp_file() {
    std::remove(path.c_str());
  }
  std::string path;
};

/// A TCP port on 127.0.0.1 that another socket listens on while it lives.
struct busy_port {
  busy_port() {
    fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    auto* sa = reinterpret_cast<sockaddr*>(&a);
    socklen_t len = sizeof(a);
    BOOST_REQUIRE(bind(fd, sa, len) == 0 && listen(fd, 1) == 0
                  && getsockname(fd, sa, &len) == 0);
    address = "127.0.0.1:" + std::to_string(ntohs(a.sin_port));
  }
  ~busy_port() {
    close(fd);
  }
  int fd = -1;
  std::string address;
};

} // namespace

BOOST_AUTO_TEST_SUITE(cli)

BOOST_AUTO_TEST_CASE(every_command_has_its_own_help_with_an_example) {
  for (auto& c : cotflow::commands::command_table()) {
    std::vector<std::string> args;
    for (auto rest = std::string{c.name}; !rest.empty();) {
      auto space = rest.find(' ');
      args.push_back(rest.substr(0, space));
      rest = space == rest.npos ? "" : rest.substr(space + 1);
    }
    for (auto flag : {"--help", "-h"}) {
      args.push_back(flag);
      auto r = run_cotflow(args);
      args.pop_back();
      BOOST_CHECK_EQUAL(r.rc, 0);
      BOOST_CHECK_MESSAGE(
        has(r.text, "usage: cotflow " + std::string{c.name})
          && has(r.text, "example:\n  " + std::string{c.example}),
        c.name << " " << flag << ":\n"
               << r.text);
    }
  }
  auto r = run_cotflow({"demo", "--help"});
  for (auto option : {"--rate N", "--count N", "--output PATH", "--config"})
    BOOST_CHECK_MESSAGE(has(r.text, option), option << " not in:\n" << r.text);
  BOOST_CHECK(!has(r.text, "--frames"));
  auto help = run_cotflow({"help", "config", "show"});
  BOOST_CHECK_EQUAL(help.rc, 0);
  BOOST_CHECK(has(help.text, "usage: cotflow config show"));
}

BOOST_AUTO_TEST_CASE(the_top_level_has_help_and_version_flags) {
  for (auto flag : {"-h", "--help", "help"}) {
    auto r = run_cotflow({flag});
    BOOST_CHECK_EQUAL(r.rc, 0);
    BOOST_CHECK_MESSAGE(
      has(r.text, "usage: cotflow COMMAND") && has(r.text, "validate"), r.text);
  }
  for (auto flag : {"-V", "--version", "version"}) {
    auto r = run_cotflow({flag});
    BOOST_CHECK_EQUAL(r.rc, 0);
    BOOST_CHECK_MESSAGE(r.text.rfind("cotflow 0.", 0) == 0, r.text);
  }
}

BOOST_AUTO_TEST_CASE(unknown_options_and_stray_arguments_are_refused) {
  struct {
    std::vector<std::string> args;
    const char* says;
  } cases[] = {
    {{"demo", "--bogus", "1"},
     "unknown option --bogus\nsee: cotflow demo --help"},
    {{"demo", "--rat", "5"}, "unknown option --rat (did you mean --rate?)"},
    {{"top", "--count", "5"}, "unknown option --count"},
    {{"run", "extra"}, "unexpected argument 'extra'"},
    {{"config", "shwo"}, "unknown sub-command 'shwo' (did you mean show?)"},
    {{"dmeo"}, "unknown command 'dmeo' (did you mean demo?)"},
    {{"demo", "--rate"}, "option --rate needs a value"},
    {{"validate"}, "needs FILE|-"},
    {{"completion", "zsh"}, "unknown argument 'zsh'"},
    {{"help", "bogus"}, "unknown command 'bogus'"},
  };
  for (auto& c : cases) {
    auto r = run_cotflow(c.args);
    BOOST_CHECK_EQUAL(r.rc, 2);
    BOOST_CHECK_MESSAGE(has(r.text, c.says), c.says << " not in:\n" << r.text);
  }
}

BOOST_AUTO_TEST_CASE(valid_command_lines_keep_working) {
  // The sub-command may follow the options, and --name=value is a value.
  for (auto args : std::vector<std::vector<std::string>>{
         {"config", "--config", "/dev/null", "show"},
         {"config", "show", "--config=/dev/null"},
         {"config", "--config", "/dev/null"}}) {
    auto r = run_cotflow(args);
    BOOST_CHECK_EQUAL(r.rc, 0);
    BOOST_CHECK_MESSAGE(
      has(r.text, "batch_size") || has(r.text, "configuration OK"), r.text);
  }
}

BOOST_AUTO_TEST_CASE(bash_completes_the_options_of_a_command) {
  temp_file script{"completion.bash"};
  BOOST_REQUIRE_EQUAL(
    shell(cotflow_bin() + " completion bash >" + script.path).rc, 0);
  auto syntax = shell("bash -n " + script.path);
  BOOST_CHECK_MESSAGE(syntax.rc == 0, syntax.text);
  auto complete = [&](const std::string& words, int cword) {
    return shell(
      "bash -c 'source " + script.path + "; COMP_WORDS=(" + words
      + "); COMP_CWORD=" + std::to_string(cword)
      + "; f=$(complete -p cotflow | sed \"s/.*-F \\([^ ]*\\).*/\\1/\");"
        " $f; printf \"%s\\n\" \"${COMPREPLY[@]}\"'");
  };
  auto demo = complete("cotflow demo --", 2);
  for (auto option : {"--rate\n", "--count\n", "--output\n", "--partitions\n",
                      "--config\n", "--help\n"})
    BOOST_CHECK_MESSAGE(has(demo.text, option), option << " not offered:\n"
                                                       << demo.text);
  BOOST_CHECK_MESSAGE(!has(demo.text, "--frames"), demo.text);
  BOOST_CHECK(has(complete("cotflow con", 1).text, "config\n"));
  auto config = complete("cotflow config \"\"", 2);
  BOOST_CHECK_MESSAGE(has(config.text, "check\n") && has(config.text, "show\n"),
                      config.text);
}

BOOST_AUTO_TEST_CASE(the_man_page_renders_without_warnings) {
  temp_file page{"cotflow.1"};
  BOOST_REQUIRE_EQUAL(shell(cotflow_bin() + " man >" + page.path).rc, 0);
  // groff with every warning on, then man as a user reads the page.
  auto groff = shell("groff -man -Tutf8 -ww -z " + page.path);
  BOOST_CHECK_MESSAGE(groff.rc == 0 && groff.text.empty(), groff.text);
  auto man = shell("MANWIDTH=80 man --warnings -l " + page.path
                   + " 2>&1 >/dev/null");
  BOOST_CHECK_MESSAGE(man.rc == 0 && man.text.empty(), man.text);
  auto text = shell("MANWIDTH=80 man -l " + page.path + " 2>/dev/null");
  for (auto what :
       {"cotflow demo [OPTIONS]", "--count N", "EXIT STATUS",
        "cotflow completion bash", "cotflow validate [OPTIONS] FILE|-"})
    BOOST_CHECK_MESSAGE(has(text.text, what), what << " not in:\n"
                                                   << text.text);
}

BOOST_AUTO_TEST_CASE(validate_prints_each_lines_event_or_dead_letter_reason) {
  temp_file records{
    "records.ndjson",
    "{\"id\":\"a\",\"time\":\"" + utc_now()
      + "\",\"lat\":38.9,\"lon\":-77}\n"
        "{\"id\":\"b\",\"lat\":38.9,\"lon\":-77}\n"
        "\n"
        "not json\n"
        "{\"type\":\"Feature\",\"geometry\":{\"type\":\"Point\","
        "\"coordinates\":[-77,38.9]},\"properties\":{\"uid\":"
        "\"f1\"}}\n"
        "{\"id\":\"c\",\"time\":\""
      + utc_now() + "\",\"lat\":98.9,\"lon\":-77}\n"
      + "{\"id\":\"d\",\"time\":\"2001-01-01T00:00:00Z\","
        "\"lat\":38.9,\"lon\":-77}\n"};
  auto run = [&](const std::string& input) {
    return shell(cotflow_bin() + " validate --config /dev/null " + input);
  };
  for (auto input : {records.path, "- <" + records.path}) {
    auto r = run(input);
    BOOST_CHECK_EQUAL(r.rc, 1);
    for (auto what :
         {"<event version=\"2.0\" uid=\"a\"",
          "line 2: refused: missing_field (time)\n",
          "line 4: refused: invalid_json (",
          "<event version=\"2.0\" uid=\"f1\"", "time_source=\"receive_time\"",
          "line 5: note: no time", "line 6: refused: out_of_range (lat",
          "line 7: dropped: dropped_too_old\n",
          "2 encoded, 3 refused, 1 dropped"})
      BOOST_CHECK_MESSAGE(has(r.text, what), input << ": " << what
                                                   << " not in:\n"
                                                   << r.text);
    BOOST_CHECK(!has(r.text, "line 3"));
  }
  auto good = shell("head -n 1 " + records.path + " | " + cotflow_bin()
                    + " validate --config /dev/null -");
  BOOST_CHECK_MESSAGE(good.rc == 0, good.text);
  // The cot.* settings of --config apply: the Feature without time is
  // refused as the pipeline would refuse it.
  temp_file refuse{"refuse.yaml", "cot:\n  missing_time: refuse\n"};
  auto feature = shell("sed -n 5p " + records.path + " | " + cotflow_bin()
                       + " validate --config " + refuse.path + " -");
  BOOST_CHECK_EQUAL(feature.rc, 1);
  BOOST_CHECK_MESSAGE(has(feature.text, "line 1: refused: missing_field"),
                      feature.text);
  BOOST_CHECK_EQUAL(run_cotflow({"validate", "/nonexistent.ndjson"}).rc, 2);
}

BOOST_AUTO_TEST_CASE(demo_count_exits_once_every_record_is_delivered) {
  temp_file out{"demo.cot"};
  temp_file log{"demo.log"};
  child demo{{cotflow_bin(), "demo", "--count", "300", "--rate", "1000",
              "--partitions", "1", "--output", out.path, "--log-file",
              log.path},
             {{"COTFLOW_HTTP_ADDRESS", "127.0.0.1:0"}}};
  auto text = demo.read_all(60s);
  auto rc = demo.wait(30s);
  BOOST_REQUIRE_MESSAGE(rc, "demo --count still running:\n" << text);
  BOOST_CHECK_EQUAL(*rc, 0);
  auto totals = text.substr(text.rfind("published"));
  BOOST_CHECK_MESSAGE(totals.rfind("published 300: delivered ", 0) == 0
                        && has(totals, "waiting in parking 0, dropped 0 "
                                       "(in parking 0, at a destination 0)"),
                      totals);
  // What it says it delivered is in the CoT file, one event per line.
  auto delivered = std::stoul(totals.substr(totals.find("delivered ") + 10));
  std::ifstream file{out.path};
  size_t lines = 0;
  for (std::string line; std::getline(file, line);)
    ++lines;
  BOOST_CHECK_EQUAL(lines, delivered);
  BOOST_CHECK_GT(delivered, 250u);
}

// The demo's own TAK server goes down and comes back: the destination's
// breaker opens, its events are parked and replayed, and the server gets
// every record delivered. The breaker and reconnect timings are shortened
// to fit outages of 2 s.
BOOST_AUTO_TEST_CASE(the_demo_tak_server_goes_down_and_misses_nothing) {
  temp_file out{"outage.cot"};
  temp_file log{"outage.log"};
  child demo{{cotflow_bin(), "demo", "--count", "3000", "--rate", "500",
              "--partitions", "1", "--output", out.path, "--log-file", log.path,
              "--outage-every", "4000", "--outage-for", "2000"},
             {{"COTFLOW_HTTP_ADDRESS", "127.0.0.1:0"},
              {"COTFLOW_TAK_RECONNECT_MIN_MS", "50"},
              {"COTFLOW_TAK_RECONNECT_MAX_MS", "200"},
              {"COTFLOW_TAK_BREAKER_OPEN_MIN_MS", "300"},
              {"COTFLOW_TAK_BREAKER_OPEN_MAX_MS", "1000"}}};
  auto text = demo.read_all(120s);
  auto rc = demo.wait(30s);
  BOOST_REQUIRE_MESSAGE(rc, "demo --count still running:\n" << text);
  BOOST_CHECK_EQUAL(*rc, 0);
  BOOST_CHECK_MESSAGE(has(text, "-> demo-tak=tcp://127.0.0.1:"), text);
  // The live line showed the outage, the open breaker and events parked.
  // And the records waiting for the replay, beside those delivered.
  bool down = false, open = false, parked = false, waiting = false;
  std::istringstream lines{text};
  for (std::string line; std::getline(lines, line);) {
    auto tak = line.find("| demo-tak: ");
    if (tak == std::string::npos)
      continue;
    auto part = line.substr(tak);
    down = down || has(part, "demo-tak: down ");
    open = open || has(part, "breaker open");
    auto p = part.find("parked ");
    parked = parked || (p != std::string::npos && part[p + 7] != '0');
    auto w = line.find("| waiting ");
    waiting = waiting || (w < tak && line[w + 10] != '0');
  }
  BOOST_CHECK_MESSAGE(down && open && parked && waiting, text);
  auto totals = text.substr(text.rfind("published"));
  BOOST_CHECK_MESSAGE(has(totals, "published 3000: delivered ")
                        && has(totals, "waiting in parking 0, dropped 0 "
                                       "(in parking 0, at a destination 0)")
                        && has(totals, "(0 missing, "),
                      totals);
  auto delivered = std::stoul(totals.substr(totals.find("delivered ") + 10));
  BOOST_CHECK_GT(delivered, 2900u);
  auto server = totals.substr(totals.find("demo TAK server: "));
  auto replayed = std::stoul(
    server.substr(server.find("events replayed ") + 16));
  BOOST_CHECK_GT(replayed, 0u);
  // The logs went to the file, not into the live line.
  BOOST_CHECK_MESSAGE(!has(text, "\"level\":"), text);
  std::ifstream file{log.path};
  std::string logged{std::istreambuf_iterator<char>{file}, {}};
  BOOST_CHECK_MESSAGE(has(logged, "circuit breaker open"), logged);
}

// --tak adds a TAK destination of the user's: it gets the records too.
BOOST_AUTO_TEST_CASE(demo_tak_adds_a_destination) {
  tak_receiver rx;
  auto url = "tcp://127.0.0.1:" + std::to_string(rx.port());
  temp_file out{"tak.cot"};
  temp_file log{"tak.log"};
  child demo{{cotflow_bin(), "demo", "--count", "300", "--rate", "1000",
              "--partitions", "1", "--output", out.path, "--log-file", log.path,
              "--no-outage", "--tak", url},
             {{"COTFLOW_HTTP_ADDRESS", "127.0.0.1:0"}}};
  auto text = demo.read_all(60s);
  auto rc = demo.wait(30s);
  BOOST_REQUIRE_MESSAGE(rc, "demo --count still running:\n" << text);
  BOOST_CHECK_EQUAL(*rc, 0);
  BOOST_CHECK_MESSAGE(has(text, "-> tak=" + url + " (--tak)"), text);
  BOOST_CHECK_MESSAGE(has(text, "| tak: breaker closed"), text);
  BOOST_CHECK_MESSAGE(!has(text, "goes down"), text);
  auto totals = text.substr(text.rfind("published"));
  auto delivered = std::stoul(totals.substr(totals.find("delivered ") + 10));
  BOOST_CHECK_GT(delivered, 250u);
  BOOST_CHECK_MESSAGE(
    eventually([&] { return rx.seqs().size() >= delivered; }, 10s),
    rx.seqs().size() << " of " << delivered << " records at --tak");
  auto bad = run_cotflow({"demo", "--tak", "ftp://x:1", "--log-stderr"});
  BOOST_CHECK_EQUAL(bad.rc, 2);
  BOOST_CHECK_MESSAGE(has(bad.text, "tak.destinations.tak: "), bad.text);
}

// A second instance on the same host: the port is named with the way out,
// not in the web server library's words, and the process exits non-zero
// before it touches Kafka.
BOOST_AUTO_TEST_CASE(a_port_in_use_is_named_with_the_way_out) {
  busy_port taken;
  temp_file empty{"busy.yaml"};
  auto http = run_cotflow({"run", "--config", empty.path},
                          {{"COTFLOW_HTTP_ADDRESS", taken.address}});
  BOOST_CHECK_EQUAL(http.rc, 1);
  BOOST_CHECK_MESSAGE(
    has(http.text, "http.address " + taken.address
                     + " is in use by another process; set http.address (or "
                       "COTFLOW_HTTP_ADDRESS) to a free port, or empty to "
                       "turn the endpoints off"),
    http.text);
  auto ingest = run_cotflow(
    {"run", "--config", empty.path},
    {{"COTFLOW_HTTP_ADDRESS", ""}, {"COTFLOW_INGEST_ADDRESS", taken.address}});
  BOOST_CHECK_EQUAL(ingest.rc, 1);
  BOOST_CHECK_MESSAGE(
    has(ingest.text, "ingest.address " + taken.address
                       + " is in use by another process; set ingest.address "
                         "(or COTFLOW_INGEST_ADDRESS) to a free port, or "
                         "empty to turn the ingest off"),
    ingest.text);
}

BOOST_AUTO_TEST_SUITE_END()
