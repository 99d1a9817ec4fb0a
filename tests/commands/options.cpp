// The command line of `cotflow` against its tables: parsing, and that the
// tables hold together.
#include <boost/test/unit_test.hpp>

#include "commands/options.hpp"

#include <string>
#include <vector>

using namespace cotflow::commands;

namespace {

/// The command line of `args`, or the error (command "error: ...").
command_line parse(std::vector<std::string> args) {
  std::string err;
  auto line = parse_command_line(args, err);
  if (!line) {
    command_line failed;
    failed.command = "error: " + err;
    return failed;
  }
  return *line;
}

} // namespace

BOOST_AUTO_TEST_SUITE(options)

BOOST_AUTO_TEST_CASE(every_option_belongs_to_commands_that_exist) {
  for (auto& o : option_table()) {
    if (o.commands == "*")
      continue;
    std::string rest{o.commands};
    while (!rest.empty()) {
      auto comma = rest.find(',');
      auto name = rest.substr(0, comma);
      BOOST_TEST(find_command(name), o.name << ": no command " << name);
      rest = comma == rest.npos ? "" : rest.substr(comma + 1);
    }
  }
  for (auto& c : command_table()) {
    BOOST_TEST(!c.summary.empty(), c.name);
    BOOST_TEST(c.example.find("cotflow " + std::string{c.name})
                 != std::string::npos,
               c.name << ": example " << c.example);
  }
}

BOOST_AUTO_TEST_CASE(values_come_after_a_space_or_an_equals_sign) {
  auto line = parse({"demo", "--rate=5", "--count", "3", "--output", "-"});
  BOOST_TEST(line.command == "demo");
  BOOST_TEST(line.opts["rate"] == "5");
  BOOST_TEST(line.opts["count"] == "3");
  BOOST_TEST(line.opts["output"] == "-");
  BOOST_TEST(line.positional.empty());
}

BOOST_AUTO_TEST_CASE(config_takes_its_sub_command_anywhere_and_checks_alone) {
  auto line = parse({"config", "--config", "x.yaml", "show"});
  BOOST_TEST(line.command == "config show");
  BOOST_TEST(line.opts["config"] == "x.yaml");
  BOOST_TEST(line.positional.empty());
  BOOST_TEST(parse({"config"}).command == "config check");
  BOOST_TEST(parse({"config", "--help"}).command == "config");
}

BOOST_AUTO_TEST_CASE(help_wins_over_what_else_is_given) {
  auto line = parse({"run", "-h", "extra"});
  BOOST_TEST(line.command == "run");
  BOOST_TEST(line.help);
  BOOST_TEST(parse({"-h"}).command == "help");
  BOOST_TEST(parse({"--version"}).command == "version");
  BOOST_TEST(parse({"-V"}).command == "version");
  auto topic = parse({"help", "config", "check"});
  BOOST_TEST(topic.command == "help");
  BOOST_TEST(topic.positional == std::vector<std::string>{"config check"});
}

BOOST_AUTO_TEST_CASE(usage_errors_name_the_nearest_known_word) {
  BOOST_TEST(parse({"demo", "--outptu", "x"}).command
             == "error: cotflow demo: unknown option --outptu (did you mean "
                "--output?)\nsee: cotflow demo --help");
  BOOST_TEST(parse({"lodgen"}).command.find("did you mean loadgen?")
             != std::string::npos);
  BOOST_TEST(parse({"demo", "--help=1"}).command
             == "error: cotflow demo: option --help takes no value");
  BOOST_TEST(parse({"top", "-x"}).command.find("unknown option -x")
             != std::string::npos);
  BOOST_TEST(parse({"validate", "a", "b"})
               .command.find("unexpected argument "
                             "'b'")
             != std::string::npos);
  BOOST_TEST(parse({"validate", "-"}).positional
             == std::vector<std::string>{"-"});
}

BOOST_AUTO_TEST_CASE(the_completion_and_the_man_page_come_from_the_tables) {
  auto script = bash_completion();
  BOOST_TEST(script.find("    demo)\n      opts='--config --partitions --rate "
                         "--count --output --tak --no-outage --outage-every "
                         "--outage-for --log-file --log-stderr --help -h'")
               != std::string::npos,
             script);
  auto page = man_page("1.2.3");
  for (auto& c : command_table())
    BOOST_TEST(page.find(".SS cotflow " + std::string{c.name})
                 != std::string::npos,
               c.name);
  BOOST_TEST(page.find("\\fB\\-\\-count\\fR \\fIN\\fR") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
