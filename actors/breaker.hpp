#pragma once

#include "messages/actors.hpp"

#include <caf/typed_event_based_actor.hpp>

#include <vector>

namespace cotflow {

/// State of the breaker. For now it only spreads batches over the encoder
/// pool; the per-destination circuit breakers and parking come next.
struct breaker_state {
  static inline const char* name = "breaker";
  std::vector<encoder_actor> workers;
  size_t next = 0;
};

/// The breaker stage, in front of the encoder pool.
breaker_actor::behavior_type
breaker(breaker_actor::stateful_pointer<breaker_state> self,
        std::vector<encoder_actor> workers);

} // namespace cotflow
