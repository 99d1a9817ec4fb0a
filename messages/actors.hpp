#pragma once

#include "messages/atoms.hpp"
#include "messages/inspect.hpp"
#include "messages/tunables.hpp"

#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

/// Every typed actor interface of cotflow, in one place. Actors include this
/// header, never each other.
namespace cotflow {

/// Receives CoT events for one destination and acknowledges them to the
/// source once delivered.
using cot_sink_actor = caf::typed_actor<
  // Deliver the events of a batch.
  caf::reacts_to<cot_batch>,
  // Poll the client for delivery reports.
  caf::reacts_to<atom::poll>,
  // Timer tick N of a sink that schedules its own work (stale ticks are
  // ignored).
  caf::reacts_to<atom::poll, uint64_t>,
  // New settings (hot reload).
  caf::reacts_to<tunables>>;

/// Receives dead letters and acknowledges them once the dead-letter topic
/// has them.
using dead_letter_sink_actor = caf::typed_actor<
  // Publish the dead letters of a batch.
  caf::reacts_to<dead_letter_batch>,
  // Poll the client for delivery reports.
  caf::reacts_to<atom::poll>>;

/// Decodes, validates, maps and encodes a batch.
using encoder_actor = caf::typed_actor<
  // Turn a batch into CoT events, dead letters and counted drops; then
  // report (done, slot, id) to the dispatcher.
  caf::reacts_to<work>>;

/// Spreads batches over the encoder pool and supervises it.
using dispatcher_actor = caf::typed_actor<
  // Pass a batch on to the encoder pool.
  caf::reacts_to<batch>,
  // Worker `slot` finished batch `id`.
  caf::reacts_to<atom::done, uint64_t, uint64_t>,
  // Restart the failed worker of `slot`.
  caf::reacts_to<atom::restart, uint64_t>>;

/// Groups records into batches by count or age.
using batcher_actor = caf::typed_actor<
  // Add records from the source.
  caf::reacts_to<record_chunk>,
  // Age timer of batch generation N.
  caf::reacts_to<atom::flush, uint64_t>,
  // Flush the open batch now (shutdown).
  caf::reacts_to<atom::flush>,
  // New batch limits (hot reload).
  caf::reacts_to<tunables>>;

/// The Kafka consumer: hands out records against credit, commits what is
/// acknowledged.
using source_actor = caf::typed_actor<
  // Start consuming into the batcher.
  caf::reacts_to<atom::start, batcher_actor>,
  // Records delivered to the destinations in `bits`.
  caf::reacts_to<ack>,
  // Next round of the consume loop.
  caf::reacts_to<atom::poll>,
  // New credit bound (hot reload).
  caf::reacts_to<tunables>,
  // Stop consuming, drain in-flight work, commit; replies with the number of
  // records abandoned (0 when everything drained).
  caf::replies_to<atom::stop>::with<uint64_t>>;

} // namespace cotflow
