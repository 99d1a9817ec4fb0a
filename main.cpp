// cotflow: Kafka detections to Cursor-on-Target. This file only picks the
// command by name; each command lives in commands/ (commands/README.md).
#include "commands/commands.hpp"
#include "commands/signal_waiter.hpp"

#include <csignal>
#include <string>

using namespace cotflow::commands;

int main(int argc, char** argv) {
  // A TAK server that resets a TLS connection must not end the process:
  // SSL_write reaches write(2), which raises SIGPIPE; the error is handled.
  std::signal(SIGPIPE, SIG_IGN);
  signal_waiter sig; // before any thread, so all threads inherit the mask
  if (argc < 2)
    return cmd_missing();
  std::string cmd = argv[1];
  if (cmd == "version" || cmd == "--version")
    return cmd_version();
  if (cmd == "help" || cmd == "--help" || cmd == "-h")
    return cmd_help();
  auto inv = parse(argc, argv, 2);
  if (!inv)
    return exit_config;
  if (cmd == "config")
    return cmd_config(*inv);
  // `run` refuses what would fail it at start with the other problems
  // (exit 2): a service manager does not restart that.
  if (cmd == "run")
    check_start(inv->loaded);
  // Every other command, even an unknown one, needs a valid configuration
  // first.
  if (!prepare(*inv, sig))
    return exit_config;
  if (cmd == "run")
    return cmd_run(*inv, sig);
  if (cmd == "demo")
    return cmd_demo(*inv, sig);
  if (cmd == "broker")
    return cmd_broker(*inv, sig);
  if (cmd == "loadgen")
    return cmd_loadgen(*inv, sig);
  if (cmd == "top")
    return cmd_top(*inv, sig);
  return cmd_unknown(cmd);
}
