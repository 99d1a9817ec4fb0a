#pragma once

#include "config/config.hpp"
#include "messages/actors.hpp"
#include "pipeline/codec/cot_encoder.hpp"
#include "pipeline/codec/decoder.hpp"
#include "pipeline/core/stats.hpp"
#include "pipeline/core/string_pool.hpp"

#include <caf/typed_event_based_actor.hpp>

#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

namespace cotflow {

/// State of one encoder worker: its decoder buffers and scratch detection.
struct encoder_state {
  static inline const char* name = "encoder";
  std::optional<decoder> dec;
  std::optional<cot_encoder> enc;
  detection det;
  /// cot.missing_time is kafka_timestamp (else receive_time, or refuse,
  /// which the decoder does).
  bool time_from_kafka = true;
  /// The next event's XML string, reserved at the largest event's size so
  /// far plus a quarter (at most xml_room): an event is written into its
  /// own string, a buffer from the pool when there is one (not grown by
  /// doubling, not copied from a scratch buffer), and a record that is
  /// dropped (stale, too old) leaves it for the next one.
  std::string xml;
  size_t xml_reserve = 1024;
  /// Buffers of delivered events (from the Kafka sink's producer) to
  /// write the next events into; taken from `xml_buffers` in bulk.
  std::shared_ptr<string_pool> xml_buffers;
  std::vector<std::string> xml_spares;
  std::vector<cot_sink_actor> sinks;
  dead_letter_sink_actor dead_letters;
  source_actor source;
  dest_mask all = 0;
  std::shared_ptr<stats> st;
  dispatcher_actor dispatcher;
  uint64_t slot = 0;
  double throw_rate = 0;
  std::mt19937_64 rng{std::random_device{}()};
};

/// Decodes, validates, maps and encodes batches; sends events to every
/// destination, dead letters to the dead-letter sink, and acknowledges
/// dropped records to the source at once.
encoder_actor::behavior_type
encoder(encoder_actor::stateful_pointer<encoder_state> self,
        std::shared_ptr<const config> cfg, std::vector<cot_sink_actor> sinks,
        dead_letter_sink_actor dead_letters, source_actor source,
        std::shared_ptr<stats> st, dispatcher_actor dispatcher, uint64_t slot,
        std::shared_ptr<string_pool> xml_buffers);

} // namespace cotflow
