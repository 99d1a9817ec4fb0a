// The command line as a user meets it: --help on every command, usage
// errors.
#include <boost/test/unit_test.hpp>

#include "commands/options.hpp"
#include "tests/support/process.hpp"

#include <string>
#include <vector>

using namespace cotflow::test;
using namespace std::chrono_literals;

namespace {

/// What a finished `cotflow ARGS` printed (stdout and stderr) and its exit
/// code (-1 when it did not exit within 20 s).
struct result {
  std::string text;
  int rc = -1;
};

result run_cotflow(std::vector<std::string> args) {
  args.insert(args.begin(), cotflow_bin());
  child c{args, {}, true};
  result r;
  r.text = c.read_all(20s);
  r.rc = c.wait(20s).value_or(-1);
  return r;
}

bool has(const std::string& text, const std::string& what) {
  return text.find(what) != std::string::npos;
}

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
      has(r.text, "usage: cotflow COMMAND") && has(r.text, "loadgen"), r.text);
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

BOOST_AUTO_TEST_SUITE_END()
