#pragma once

#include <caf/fwd.hpp>

namespace cotflow {

/// Registers every message type of messages/actors.hpp with `cfg`: the
/// pipeline, the actor tests and the benchmarks start their actor systems
/// with it.
void add_message_types(caf::actor_system_config& cfg);

} // namespace cotflow
