#pragma once

#include "config/config.hpp"
#include "messages/actors.hpp"
#include "pipeline/core/stats.hpp"
#include "pipeline/delivery/batching.hpp"

#include <caf/typed_event_based_actor.hpp>

#include <memory>
#include <optional>

namespace cotflow {

/// State of the batcher: the open batch and its age timer.
struct batcher_state {
  static inline const char* name = "batcher";
  std::optional<batch_builder<record>> builder;
  dispatcher_actor next;
  std::chrono::milliseconds age{0};
  std::shared_ptr<stats> st;
  /// The generation for which an age timer is pending, if any.
  std::optional<size_t> timer_for;
};

/// Batches by count or age and passes batches to the dispatcher.
batcher_actor::behavior_type
batcher(batcher_actor::stateful_pointer<batcher_state> self,
        pipeline_config cfg, dispatcher_actor next, std::shared_ptr<stats> st);

} // namespace cotflow
