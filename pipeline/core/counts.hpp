#pragma once

#include "pipeline/core/stats.hpp"

#include <cstdint>

/// What the counters mean: the one place where the record and parking
/// figures that /status, /metrics, the dashboard, `cotflow top` and the
/// demo's live line show are derived from the raw counters of `stats`.
/// All of them count since this process started. README.md ("What the
/// counters mean") documents the same definitions for operators.
namespace cotflow {

/// What became of the events parked for one TAK destination by this
/// process. Sensor events (they carry no input record) are in none of
/// these; an earlier run's or another instance's parked events that this
/// one takes back are counted apart (destination_stats'
/// inherited_replayed and inherited_dropped).
struct parking_counts {
  /// Events written to the parking topic and confirmed by Kafka.
  uint64_t parked = 0;
  /// Parked events taken back and delivered to the destination (once each).
  /// A replayed event stays in the destination's memory until then, never
  /// parked again.
  uint64_t replayed = 0;
  /// Parked events taken back and not delivered: stale by their replay or
  /// by their write, or not encodable for the destination.
  uint64_t dropped = 0;
  /// Parked events the parking topic's retention deleted before their
  /// replay.
  uint64_t lost = 0;

  /// Events this process parked that the destination has not had yet:
  /// parked - replayed - dropped - lost (what earlier runs parked is in
  /// the destination's `backlog`, not here). Never below 0: retention
  /// may delete an earlier run's events, counted in `lost` too.
  uint64_t waiting() const {
    auto out = replayed + dropped + lost;
    return parked > out ? parked - out : 0;
  }

  /// Parked events this destination will never get (dropped or lost).
  uint64_t gone() const {
    return dropped + lost;
  }
};

/// The parking counters of `d` (all zero without parking).
parking_counts parking_of(const destination_stats& d);

/// What became of the input records. Every record consumed is in exactly
/// one of delivered, waiting, dropped, dead_lettered and in_flight:
///   in  = out + dropped_filter + dead_lettered + in_flight
///   out = delivered + waiting + dropped_in_parking
///         + dropped_at_destination
///   dropped = dropped_filter + dropped_in_parking + dropped_at_destination
/// The parking figures are exact while at most one destination parks or
/// drops a given record (one TAK destination, or outages that do not
/// overlap); when several do, `waiting` and `dropped_in_parking` count it
/// once per destination that parked it, and `delivered` is a lower bound.
struct record_counts {
  /// Records consumed from the input topics.
  uint64_t in = 0;
  /// Records every destination took: written, or parked in Kafka for a
  /// TAK destination that was down (`waiting` until replayed).
  uint64_t out = 0;
  /// Records that reached every destination, parked ones once replayed.
  /// Never decreases.
  uint64_t delivered = 0;
  /// Records parked for a destination and not replayed to it yet.
  uint64_t waiting = 0;
  /// Parked events replayed, all destinations (a subset of delivered).
  uint64_t replayed = 0;
  /// Records parked for at least one destination so far (a flow: replayed
  /// or not).
  uint64_t parked = 0;
  /// Records the pipeline dropped before conversion (stale, too old, low
  /// confidence): cotflow_records_dropped_total's reasons but "parking".
  uint64_t dropped_filter = 0;
  /// Records parked for a destination and never delivered there (stale by
  /// their replay, deleted by retention).
  uint64_t dropped_in_parking = 0;
  /// Records a destination dropped instead of writing them (a TAK
  /// destination: stale by their write, not encodable for it); counted
  /// once however many destinations dropped them.
  uint64_t dropped_at_destination = 0;
  /// dropped_filter + dropped_in_parking + dropped_at_destination.
  uint64_t dropped = 0;
  uint64_t dead_lettered = 0;
  /// Records handed out by the source and not acknowledged yet.
  int64_t in_flight = 0;
};

/// The record figures of `st`, from its counters and its destinations'.
record_counts count_records(const stats& st);

} // namespace cotflow
