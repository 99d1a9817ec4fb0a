#pragma once

#include "messages/actors.hpp"
#include "pipeline/core/stats.hpp"
#include "pipeline/kafka/kafka.hpp"

#include <caf/typed_event_based_actor.hpp>

#include <chrono>
#include <cstdio>
#include <memory>
#include <random>
#include <string>
#include <vector>

namespace cotflow {

/// State shared by the Kafka-backed sinks.
struct kafka_sink_state {
  static inline const char* name = "kafka-sink";
  std::shared_ptr<tracked_producer> producer;
  std::string topic;
  latency_tally latencies;
  /// The acknowledgement bits this sink sets.
  dest_mask bits = 0;
  source_actor source;
  std::shared_ptr<stats> st;
  /// When the pending tick fires: while messages are outstanding a poll
  /// comes at least this often, for retries after their pause.
  static constexpr std::chrono::milliseconds tick{100};
  std::chrono::steady_clock::time_point tick_due{};
  std::vector<delivered_ref> done;
  std::shared_ptr<destination_stats> dest;
  /// Fault injection: share of batches on which the sink throws.
  double throw_rate = 0;
  std::minstd_rand rng{std::random_device{}()};
};

/// Publishes CoT events to a Kafka topic (key = uid); acknowledges each one
/// when the broker confirmed it. Runs scheduled: producing never waits
/// (what finds librdkafka's queue full waits in the producer, in order,
/// for the delivery reports that make room; the source's credit bounds
/// it, and kafka.cpp sizes the queue at least 4 times
/// pipeline.max_in_flight, so that it rarely fills).
cot_sink_actor::behavior_type
kafka_cot_sink(cot_sink_actor::stateful_pointer<kafka_sink_state> self,
               std::shared_ptr<tracked_producer> producer, std::string topic,
               dest_mask bit, source_actor source, std::shared_ptr<stats> st,
               std::shared_ptr<destination_stats> dest, double throw_rate = 0);

/// Publishes dead letters with their original bytes (whole, unless Kafka
/// refuses them as too large: then cut, and the header cotflow.truncated
/// says so) and key, and headers naming the reason and the source
/// topic/partition/offset. Runs scheduled, as the Kafka output does.
dead_letter_sink_actor::behavior_type dead_letter_sink(
  dead_letter_sink_actor::stateful_pointer<kafka_sink_state> self,
  std::shared_ptr<tracked_producer> producer, std::string topic, dest_mask all,
  source_actor source, std::shared_ptr<stats> st);

/// State of the file sink.
struct file_sink_state {
  static inline const char* name = "file-sink";
  std::FILE* file = nullptr;
  std::string path;
  latency_tally latencies;
  dest_mask bit = 0;
  source_actor source;
  std::shared_ptr<stats> st;
  std::shared_ptr<destination_stats> dest;
  ~file_sink_state() {
    if (file)
      std::fclose(file);
  }
};

/// Appends CoT events to a file, one per line; an event counts as delivered
/// once the kernel has it. Spawn detached.
cot_sink_actor::behavior_type
file_sink(cot_sink_actor::stateful_pointer<file_sink_state> self,
          std::string path, dest_mask bit, source_actor source,
          std::shared_ptr<stats> st, std::shared_ptr<destination_stats> dest);

} // namespace cotflow
