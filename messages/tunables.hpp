#pragma once

#include "config/config.hpp"

#include <caf/allowed_unsafe_message_type.hpp>

#include <memory>

namespace cotflow {

/// A reload (SIGHUP or a changed config file) that a running pipeline takes
/// without a restart: the running configuration, the start one plus every
/// hot key a reload applied (`plan_reload`). Each actor reads the values it
/// uses from it, so a new hot key needs no field here. Restart keys in it
/// keep their start values, so an actor may take a whole section.
struct tunables {
  std::shared_ptr<const config> running;
};

} // namespace cotflow

// Local only: the snapshot is shared by every actor of the process.
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(cotflow::tunables)
