// cotflow: Kafka detections to Cursor-on-Target. This file only picks the
// command by name; each command lives in commands/ (commands/README.md).
#include "commands/commands.hpp"
#include "commands/signal_waiter.hpp"

#include <csignal>
#include <iostream>
#include <string>

using namespace cotflow::commands;

int main(int argc, char** argv) {
  // A TAK server that resets a TLS connection must not end the process:
  // SSL_write reaches write(2), which raises SIGPIPE; the error is handled.
  std::signal(SIGPIPE, SIG_IGN);
  signal_waiter sig; // before any thread, so all threads inherit the mask
  std::string err;
  auto line = parse_command_line({argv + 1, argv + argc}, err);
  if (!line) {
    std::cerr << err << "\n";
    return exit_config;
  }
  if (line->command.empty())
    return cmd_missing();
  if (line->help)
    return cmd_help(line->command);
  if (line->command == "help")
    return cmd_help(line->positional.empty() ? "" : line->positional[0]);
  if (line->command == "version")
    return cmd_version();
  if (line->command == "completion")
    return cmd_completion();
  if (line->command == "man")
    return cmd_man();
  if (line->command == "tak enroll")
    return cmd_tak_enroll(*line);
  auto inv = configured(std::move(*line));
  auto& cmd = inv.command;
  if (cmd == "validate")
    return cmd_validate(inv);
  if (cmd == "config check" || cmd == "config show")
    return cmd_config(inv);
  // `run` refuses what would fail it at start with the other problems
  // (exit 2): a service manager does not restart that.
  if (cmd == "run")
    check_start(inv.loaded);
  // Every other command needs a valid configuration first.
  if (!prepare(inv, sig))
    return exit_config;
  if (cmd == "run")
    return cmd_run(inv, sig);
  if (cmd == "demo")
    return cmd_demo(inv, sig);
  if (cmd == "broker")
    return cmd_broker(inv, sig);
  if (cmd == "loadgen")
    return cmd_loadgen(inv, sig);
  if (cmd == "tail")
    return cmd_tail(inv, sig);
  return cmd_top(inv, sig);
}
