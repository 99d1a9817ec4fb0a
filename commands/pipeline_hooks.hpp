#pragma once

#include "actors/run.hpp"
#include "commands/cli.hpp"

namespace cotflow::commands {

class signal_waiter;

/// The hooks of run_pipeline for `run` and `demo`: stop and reload from
/// `sig`, and a reload that loads as at start, where what the process
/// itself rewrote at start (`orig` -> `running`: the embedded broker's
/// address, the demo's output file, TAK destinations and breaker wait) stays as
/// running unless the file now says something else.
run_hooks pipeline_hooks(signal_waiter& sig, const option_map& opts,
                         const config& orig, const config& running);

} // namespace cotflow::commands
