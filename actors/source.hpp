#pragma once

#include "config/config.hpp"
#include "messages/actors.hpp"
#include "pipeline/core/stats.hpp"
#include "pipeline/delivery/credit.hpp"
#include "pipeline/delivery/record_feed.hpp"

#include <caf/typed_event_based_actor.hpp>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace cotflow {

/// State of the source: its feed, credit and the drain promise.
struct source_state {
  static inline const char* name = "source";
  std::shared_ptr<record_feed> feed;
  std::shared_ptr<stats> st;
  pipeline_config cfg;
  batcher_actor next;
  bool started = false;
  bool stopping = false;
  caf::typed_response_promise<uint64_t> drained;
  std::chrono::steady_clock::time_point deadline;
  /// Fault injection: a rebalance this often (0 = never).
  std::chrono::milliseconds rebalance_every{0};
  std::chrono::steady_clock::time_point next_rebalance;
  /// How many records may be handed out now (pipeline.max_in_flight).
  std::optional<credit_gate> credit;
  /// The last round stopped at the credit bound.
  bool waiting_for_credit = false;
  /// When the pending tick comes.
  std::chrono::steady_clock::time_point tick_due;
};

/// The source: takes records from `feed` (the Kafka consumer) while credit
/// lasts and hands them to the batcher; applies acknowledgements. It never
/// waits in the feed: the feed's ready call, acknowledgements and a tick
/// start its rounds, so it runs on the scheduler's threads (spawn it
/// scheduled, not detached), next to the stages it feeds.
source_actor::behavior_type
source(source_actor::stateful_pointer<source_state> self,
       std::shared_ptr<record_feed> feed, pipeline_config cfg,
       std::shared_ptr<stats> st, int64_t rebalance_every_ms = 0);

} // namespace cotflow
