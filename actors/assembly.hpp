#pragma once

#include "config/config.hpp"
#include "messages/actors.hpp"
#include "pipeline/core/stats.hpp"
#include "pipeline/core/string_pool.hpp"
#include "pipeline/kafka/consumer.hpp"
#include "pipeline/kafka/kafka.hpp"
#include "pipeline/tak/parking.hpp"

#include <caf/fwd.hpp>

#include <memory>
#include <utility>
#include <vector>

/// How the pipeline is built: its clients, what /status and /supervision
/// show of it, and the stages of one incarnation. The root supervisor
/// (actors/run.cpp) decides when to build, stop and build again.
namespace cotflow {

/// The clients of the pipeline, created before the actors so that a bad
/// setting fails the start, not a running actor. The consumers (input and
/// parking replayers) outlive a restart in place, so that it costs no
/// rebalance; the producers are made afresh for each incarnation.
struct clients {
  std::shared_ptr<tracked_producer> cot;
  std::shared_ptr<tracked_producer> dead_letters;
  std::vector<std::shared_ptr<parking_lot>> lots;
  std::shared_ptr<tracked_consumer> consumer;
};

/// Makes the producers of `c` (errors are logged); `look_up` learns the
/// output topics before the first record.
bool make_producers(const config& cfg, clients& c, bool look_up);

/// Makes the input consumer and the parking lots of `c` (errors are
/// logged); `all` are the acknowledgement bits of every destination.
bool make_consumers(const config& cfg, dest_mask all, std::shared_ptr<stats> st,
                    clients& c);

/// What stays the same across incarnations: the destinations with their
/// acknowledgement bits and counters, and the supervision tree's nodes (as
/// /supervision shows them). The root supervisor is one-for-all (the
/// stages restart together, from the committed offsets); the dispatcher
/// supervises the encoder pool (one-for-one).
struct layout {
  /// The bits of every destination.
  dest_mask all = 0;
  std::shared_ptr<destination_stats> kafka_dest, file_dest;
  std::vector<std::shared_ptr<destination_stats>> tak_dests;
  std::shared_ptr<actor_info> root, source, batcher, dispatcher, dead_letters;
  std::vector<std::shared_ptr<actor_info>> encoders, sinks;
};

/// Registers the destinations and the tree's nodes of `cfg` in `st`.
layout describe(const config& cfg, stats& st);

/// The stages of one incarnation, each with its node in the tree.
struct stages {
  source_actor source;
  batcher_actor batcher;
  dispatcher_actor dispatcher;
  std::vector<cot_sink_actor> sinks;
  dead_letter_sink_actor dead_letters;
  /// Every stage with its node, for monitoring and stopping.
  std::vector<std::pair<caf::actor, std::shared_ptr<actor_info>>> everyone;
};

/// Spawns source, sinks, dead-letter sink, dispatcher (with its encoders)
/// and batcher, in the order in which each needs the next. The Kafka, file
/// and dead-letter sinks take the settings of `start` (a change to them
/// needs a restart of the process); the TAK sinks, source, dispatcher (with
/// its encoders) and batcher those of `current` (the start ones plus the
/// hot keys reloads applied, so that a restart in place keeps a reloaded
/// `tak.queue_events` or breaker threshold). The sinks take over the
/// producers of `c`.
stages spawn_stages(caf::actor_system& sys, const config& start,
                    const config& current, const layout& l, clients& c,
                    std::shared_ptr<stats> st,
                    std::shared_ptr<string_pool> xml_buffers);

} // namespace cotflow
