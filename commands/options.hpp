#pragma once
// The command line of `cotflow`, declared once: the commands and the
// options each takes. Parsing, --help, the usage, the bash completion and
// the man page are all derived from these two tables.

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cotflow::commands {

/// A command of the binary; a sub-command is named with its parent
/// ("config check").
struct command_spec {
  std::string_view name;
  /// Its arguments besides options, as the usage shows them: empty (none),
  /// a placeholder in capitals ("FILE|-": one), literal words ("bash": one
  /// of them), or in brackets (optional).
  std::string_view args;
  /// What it does, in a line of the usage.
  std::string_view summary;
  /// What its help and the man page add to the summary; may be empty.
  std::string_view details;
  /// A typical command line.
  std::string_view example;
};

/// An option and the commands that take it. An option that means
/// something else for another command is an entry of its own.
struct option_spec {
  /// Without the dashes ("rate").
  std::string_view name;
  /// The placeholder of its value ("N", "PATH"); empty for a flag.
  std::string_view value;
  std::string_view help;
  /// The commands that take it, separated by commas; "*" for all.
  std::string_view commands;
  /// A one-letter alias ("h" for -h), or empty.
  std::string_view short_name = {};
};

/// Every command, in the order the usage lists them.
const std::vector<command_spec>& command_table();

/// Every option, in the order a command's help lists them.
const std::vector<option_spec>& option_table();

/// The command named `name` ("demo", "config show"), or null.
const command_spec* find_command(std::string_view name);

/// The options `command` takes; for a command with sub-commands
/// ("config"), those any of them takes.
std::vector<const option_spec*> options_of(std::string_view command);

/// `--name value` and `--name=value` options by name; a flag maps to "".
using option_map = std::map<std::string, std::string>;

/// A command line checked against the tables.
struct command_line {
  /// "demo", "config show" (`config` alone: "config check"), "help" (also
  /// for -h and --help alone), "version" (also -V and --version); empty
  /// when none was given.
  std::string command;
  option_map opts;
  /// Arguments that are not options (`validate`: the file; `help`: the
  /// command asked about, as one string).
  std::vector<std::string> positional;
  /// -h or --help after the command: its help, whatever else is given.
  bool help = false;
};

/// Parses the arguments after the program name. Nothing on a usage error,
/// with the message in `err`: an unknown command or option (with the
/// nearest known one), a missing value, a stray or missing argument.
std::optional<command_line>
parse_command_line(const std::vector<std::string>& args, std::string& err);

/// The usage of the binary: every command with what it does.
std::string usage();

/// The help of a command, a command with sub-commands ("config"), or of
/// the binary (empty): usage, what it does, options and an example.
std::string command_help(std::string_view command);

/// A bash completion script: commands, sub-commands, each command's
/// options, file names where a file is expected.
std::string bash_completion();

/// The manual page (roff, section 1) of `version`.
std::string man_page(std::string_view version);

} // namespace cotflow::commands
