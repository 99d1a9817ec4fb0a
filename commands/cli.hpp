#pragma once

#include "commands/options.hpp"
#include "config/config.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace cotflow::commands {

class signal_waiter;

/// Exit code of a bad configuration or usage.
constexpr int exit_config = 2;

/// A parsed command line with its configuration: what every command that
/// reads one gets.
struct invocation {
  /// The command ("demo", "config show").
  std::string command;
  option_map opts;
  /// Arguments that are not options (`config show`: "show").
  std::vector<std::string> positional;
  /// The configuration as loaded at start (file and environment).
  load_result loaded;
  /// --partitions (default 6); set by prepare().
  int partitions = 6;
};

/// The invocation of `line` with the configuration loaded (--config, else
/// the default search, then the environment).
invocation configured(command_line line);

/// What every command that starts something needs first: a valid
/// configuration (else every problem is printed), the log set up, the
/// grace period of `sig`, --partitions read. False: exit with exit_config.
bool prepare(invocation& inv, signal_waiter& sig);

/// Option `name` as a non-negative integer, or `fallback` when absent;
/// clears `ok` (and says so on stderr) when it is not one.
int64_t int_option(const option_map& opts, const std::string& name,
                   int64_t fallback, bool& ok);

/// Option `name`, or `fallback` when absent.
std::string string_option(const option_map& opts, const std::string& name,
                          const std::string& fallback);

/// Loads the configuration as at start (--config, else the default
/// search, then the environment).
load_result load(const option_map& opts);

/// What `run` would find wrong only when it starts, beyond validate():
/// every Kafka client configuration built as `run` builds it (without
/// connecting) and `sinks.file` opened for appending as the file sink
/// opens it (a file that did not exist is not left behind). Each problem
/// is appended to `res.errors`, so that `config check` and `run` refuse
/// it with the others (exit 2) instead of `run` failing later (exit 1,
/// which a service manager restarts).
void check_start(load_result& res);

/// Where `cotflow top` and `cotflow tail` look: an instance's operations
/// port.
struct http_endpoint {
  std::string host;
  int port = 0;
  /// "http://host:port", for messages.
  std::string url;
};

/// "http://host:port/" or "host:port" (0.0.0.0 or no host: 127.0.0.1);
/// nothing without a port.
std::optional<http_endpoint> parse_http_url(std::string addr);

/// Prints every problem of `res` on stderr; returns exit_config.
int report_errors(const load_result& res);

} // namespace cotflow::commands
