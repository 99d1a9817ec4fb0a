#pragma once
// One function per command of the `cotflow` binary; main.cpp picks one by
// name. Each returns the process's exit code: 0 success, 1 failure,
// exit_config (2) bad configuration or usage.

#include "commands/cli.hpp"

#include <string>

namespace cotflow::commands {

class signal_waiter;

/// `cotflow run`: the pipeline until a stop signal; kafka.brokers
/// `embedded` starts a broker in the process first.
int cmd_run(const invocation& inv, signal_waiter& sig);

/// `cotflow demo`: embedded broker (unless kafka.brokers says otherwise),
/// generated detections at --rate, the pipeline and a live summary line.
int cmd_demo(const invocation& inv, signal_waiter& sig);

/// `cotflow broker`: the embedded broker alone; prints its address.
int cmd_broker(const invocation& inv, signal_waiter& sig);

/// `cotflow loadgen`: generated detections to kafka.input_topics[0] at
/// --rate until --count records or --seconds passed.
int cmd_loadgen(const invocation& inv, signal_waiter& sig);

/// `cotflow top`: a live terminal view of a running instance.
int cmd_top(const invocation& inv, signal_waiter& sig);

/// `cotflow tail`: the events (or dead letters) passing a running
/// instance, printed as they pass.
int cmd_tail(const invocation& inv, signal_waiter& sig);

/// `cotflow validate FILE|-`: each NDJSON line's CoT event or why the
/// pipeline would refuse or drop it; 1 when any line is refused or dropped.
int cmd_validate(const invocation& inv);

/// `cotflow config check|show`.
int cmd_config(const invocation& inv);

/// `cotflow tak enroll`: a client certificate from a TAK Server's
/// enrollment port; prints the destination URL to use. Needs no
/// configuration.
int cmd_tak_enroll(const command_line& line);

/// `cotflow version`.
int cmd_version();

/// `cotflow help [COMMAND]` and `--help`: the usage, or the help of
/// `command` (empty: the usage), on stdout.
int cmd_help(const std::string& command);

/// `cotflow completion bash`: the completion script on stdout.
int cmd_completion();

/// `cotflow man`: the manual page (roff) on stdout.
int cmd_man();

/// No command given: the usage on stderr, exit_config.
int cmd_missing();

} // namespace cotflow::commands
